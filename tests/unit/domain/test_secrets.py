"""Secret-set rules and merge semantics, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.domain.errors import RuleViolation
from keyturn.domain.secrets import (
    MAX_NAME_LENGTH,
    MAX_SECRETS,
    MAX_VALUE_BYTES,
    Secret,
    check_rules_in_order,
    check_secret_count,
    diff_secrets,
    merge_secrets,
    validate_secrets,
)


def test_secret_repr_hides_value_and_overrides() -> None:
    secret = Secret("DB", "hunter2", "ACME", {"preview": "swordfish"})
    assert "hunter2" not in repr(secret)
    assert "swordfish" not in repr(secret)
    assert "DB" in repr(secret)


@pytest.mark.parametrize(
    ("secrets", "code"),
    [
        ([Secret("", "v")], "invalid_secret_name"),
        ([Secret("9LIVES", "v")], "invalid_secret_name"),
        ([Secret("A" * 257, "v")], "invalid_secret_name"),
        ([Secret("A", "v", prefix="9")], "invalid_prefix"),
        ([Secret("A", "v"), Secret("A", "w")], "duplicate_secret_name"),
        ([Secret("TZ", "v")], "reserved_secret_name"),
        ([Secret("A", "x" * (64 * 1024 + 1))], "value_too_large"),
    ],
)
def test_validate_secrets_names_the_rule(secrets: list[Secret], code: str) -> None:
    with pytest.raises(RuleViolation) as raised:
        validate_secrets(secrets)
    assert raised.value.code == code


def test_validate_reports_rules_in_contract_order() -> None:
    # An invalid name wins over a duplicate and an oversize value elsewhere in the request.
    secrets = [Secret("A", "x" * (64 * 1024 + 1)), Secret("A", "v"), Secret("1", "v")]
    with pytest.raises(RuleViolation) as raised:
        validate_secrets(secrets)
    assert raised.value.code == "invalid_secret_name"


def test_leading_underscore_and_256_characters_are_valid_names() -> None:
    validate_secrets([Secret("_PRIVATE", "v"), Secret("A" * 256, "v")])


def test_partial_merge_replaces_sent_secrets_whole() -> None:
    current = {"A": Secret("A", "1", "P", {"preview": "p"}), "B": Secret("B", "2")}
    merged = merge_secrets(current, [Secret("A", "1")], partial=True)
    assert merged == {"A": Secret("A", "1"), "B": Secret("B", "2")}


def test_full_merge_keeps_only_sent_secrets() -> None:
    current = {"A": Secret("A", "1"), "B": Secret("B", "2")}
    assert merge_secrets(current, [Secret("C", "3")], partial=False) == {"C": Secret("C", "3")}


def test_diff_sorts_names_into_added_changed_removed() -> None:
    old = {
        "KEEP": Secret("KEEP", "k"),
        "CHANGE": Secret("CHANGE", "1"),
        "GONE": Secret("GONE", "g"),
    }
    new = {"KEEP": Secret("KEEP", "k"), "CHANGE": Secret("CHANGE", "2"), "NEW": Secret("NEW", "n")}
    change = diff_secrets(old, new)
    assert (change.added, change.changed, change.removed) == ({"NEW"}, {"CHANGE"}, {"GONE"})
    assert change.written == {"NEW", "CHANGE"}
    assert not change.is_empty


def test_diff_of_equal_sets_is_empty() -> None:
    same = {"A": Secret("A", "1", None, {"production": "p"})}
    assert diff_secrets(same, dict(same)).is_empty


def test_secret_count_over_limit_is_refused() -> None:
    check_secret_count({str(i): Secret(f"S{i}", "v") for i in range(MAX_SECRETS)})
    with pytest.raises(RuleViolation) as raised:
        check_secret_count({str(i): Secret(f"S{i}", "v") for i in range(MAX_SECRETS + 1)})
    assert raised.value.code == "too_many_secrets"


# Names, prefixes and values on both sides of every rule: mostly valid ones (a refusal the
# fast path misses shows only when every other secret is valid), and ones that break the name,
# prefix, derived key, reserved name and size rules (duplicates come from the small pool).
VALID_NAMES = ["DB", "NEXT_PUBLIC_X", "A" * MAX_NAME_LENGTH, "_T", "SECRET_KEY"]
INVALID_NAMES = ["", "9LIVES", "A-B", "A" * (MAX_NAME_LENGTH + 1), "TZ", "AWS_EXECUTION_ENV"]
rule_names = st.one_of(st.sampled_from(VALID_NAMES), st.sampled_from(INVALID_NAMES))
rule_prefixes = st.one_of(
    st.sampled_from([None, "ACME", "AWS"]), st.sampled_from(["ACME_", "_X", "9X", "A" * 250])
)
rule_values = st.one_of(st.sampled_from(["", "v"]), st.just("ü" * (MAX_VALUE_BYTES // 2 + 1)))
rule_secrets = st.lists(
    st.builds(
        Secret,
        name=rule_names,
        value=rule_values,
        prefix=rule_prefixes,
        environment_overrides=st.dictionaries(
            st.sampled_from(["production", "preview"]), rule_values, max_size=2
        ),
    ),
    max_size=4,
)


def _first_refusal(check: object, secrets: list[Secret]) -> tuple[str, str] | None:
    assert callable(check)
    try:
        check(secrets)
    except RuleViolation as refusal:
        return refusal.code, str(refusal)
    return None


@settings(max_examples=500)
@given(rule_secrets)
def test_validation_refuses_exactly_what_the_rules_in_order_refuse_with_the_same_error(
    secrets: list[Secret],
) -> None:
    assert _first_refusal(validate_secrets, secrets) == _first_refusal(
        check_rules_in_order, secrets
    )
