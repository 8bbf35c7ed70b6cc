"""If-Match / If-None-Match parsing and evaluation, without a database."""

from __future__ import annotations

import pytest

from keyturn.domain.conditions import Preconditions, etag, parse_entity_tags
from keyturn.domain.errors import BadRequest, PreconditionFailed


def test_etag_is_the_quoted_version() -> None:
    assert etag(0) == '"0"'
    assert etag(12) == '"12"'


@pytest.mark.parametrize(
    ("value", "tags"),
    [('"3"', {'"3"'}), ('"1", "2",,"3"', {'"1"', '"2"', '"3"'}), ('W/"3", "4"', {'"4"'})],
)
def test_a_list_of_tags_keeps_the_strong_ones(value: str, tags: set[str]) -> None:
    parsed = parse_entity_tags("If-Match", value)
    assert not parsed.any
    assert parsed.tags == tags


@pytest.mark.parametrize("value", ["", " ", ",", "3", '"3', "W/3", '"3" "4"', "**"])
def test_a_malformed_header_is_400_naming_it(value: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_entity_tags("If-Match", value)
    assert refused.value.message.startswith("If-Match: ")
    assert refused.value.fields[0].key == "If-Match"


def test_star_matches_any_existing_resource_only() -> None:
    star = parse_entity_tags("If-Match", " * ")
    assert star.matches('"0"')
    assert not star.matches(None)


def test_if_match_holds_for_a_listed_version_and_fails_naming_the_current_one() -> None:
    Preconditions(if_match='"4", "5"').check(5)
    with pytest.raises(PreconditionFailed) as failed:
        Preconditions(if_match='"4"').check(5)
    assert "current secrets version is 5" in failed.value.message


def test_weak_tags_never_match() -> None:
    with pytest.raises(PreconditionFailed):
        Preconditions(if_match='W/"5"').check(5)


def test_if_none_match_star_holds_only_when_there_is_no_resource() -> None:
    Preconditions(if_none_match="*").check(None)
    with pytest.raises(PreconditionFailed) as failed:
        Preconditions(if_none_match="*").check(0)
    assert "already exists" in failed.value.message


def test_no_preconditions_always_hold() -> None:
    Preconditions().check(None)
    Preconditions().check(7)
