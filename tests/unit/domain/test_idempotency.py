"""Idempotency-Key rules without a database: key shape, scope, fingerprints, replay decision."""

from __future__ import annotations

import pytest

from keyturn.domain.accounts import Principal, TokenKind
from keyturn.domain.errors import BadRequest, Conflict, RuleViolation
from keyturn.domain.idempotency import (
    KeptResponse,
    KeyRecord,
    check_key,
    fingerprint,
    is_kept_status,
    record_id,
    replay_of,
    scope_of,
)

ANSWER = KeptResponse(status=201, body=b"{}", headers={"etag": '"1"'})


@pytest.mark.parametrize("key", ["a", " ", "~" * 255, "Stripe-like_key-0123"])
def test_printable_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "é", "a\tb", "a\nb", "\x7f"])
def test_other_keys_are_400_naming_the_header(key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_key(key)
    assert refused.value.fields[0].key == "Idempotency-Key"


def test_scope_is_the_installation_or_the_team_and_the_admin_has_none() -> None:
    integration = Principal(TokenKind.INTEGRATION, team_id="team_1", installation_id="icfg_1")
    assert scope_of(integration) == "installation/icfg_1"
    assert scope_of(Principal(TokenKind.USER, team_id="team_1")) == "team/team_1"
    assert scope_of(Principal(TokenKind.ADMIN)) is None


def test_record_ids_differ_by_scope_method_path_and_key() -> None:
    base = record_id("team/t", "POST", "/v11/projects", "k")
    others = {
        record_id("team/u", "POST", "/v11/projects", "k"),
        record_id("team/t", "PUT", "/v11/projects", "k"),
        record_id("team/t", "POST", "/v11/projectz", "k"),
        record_id("team/t", "POST", "/v11/projects", "K"),
        # Parts are length-prefixed: moving a character between them is another record.
        record_id("team/t", "POST", "/v11/projects/", ""),
    }
    assert base not in others
    assert len(others) == 5


def test_fingerprints_tell_query_and_body_apart() -> None:
    assert fingerprint(b"", b"{}") == fingerprint(b"", b"{}")
    assert fingerprint(b"upsert=true", b"{}") != fingerprint(b"", b"{}")
    assert fingerprint(b"", b'{"a": 1}') != fingerprint(b"", b'{"a":1}')


def test_kept_statuses_are_final_answers_only() -> None:
    assert all(is_kept_status(status) for status in (200, 201, 204, 400, 404, 409, 412, 422))
    assert not any(is_kept_status(status) for status in (401, 403, 429, 500, 502, 503))


def _record(response: KeptResponse | None, expires_at: int = 1_000) -> KeyRecord:
    return KeyRecord(
        fingerprint=fingerprint(b"", b"{}"), response=response, expires_at=expires_at, claim="c"
    )


def test_an_unknown_expired_or_lapsed_key_is_free() -> None:
    same = fingerprint(b"", b"{}")
    assert replay_of(None, same, now_ms=0) is None
    assert replay_of(_record(ANSWER), same, now_ms=1_000) is None
    assert replay_of(_record(None), same, now_ms=1_000) is None


def test_a_kept_answer_is_replayed_for_the_same_request() -> None:
    assert replay_of(_record(ANSWER), fingerprint(b"", b"{}"), now_ms=999) == ANSWER


def test_another_request_with_a_live_key_is_422() -> None:
    for response in (ANSWER, None):
        with pytest.raises(RuleViolation) as refused:
            replay_of(_record(response), fingerprint(b"", b"[]"), now_ms=0)
        assert refused.value.code == "idempotency_key_reused"


def test_the_same_request_while_the_first_runs_is_409() -> None:
    with pytest.raises(Conflict) as refused:
        replay_of(_record(None), fingerprint(b"", b"{}"), now_ms=0)
    assert refused.value.code == "idempotency_key_in_use"


def test_a_kept_body_never_shows_in_repr() -> None:
    assert "secret" not in repr(KeptResponse(status=200, body=b'{"value": "secret"}'))
