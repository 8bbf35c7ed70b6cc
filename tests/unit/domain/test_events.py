"""The event type catalogue (CONTRACT.md 6.1)."""

from __future__ import annotations

from keyturn.domain.events import (
    EVENT_TYPES,
    KEYTURN_EVENT_TYPES,
    VERCEL_EVENT_TYPES,
    unknown_event_types,
)


def test_catalogue_holds_every_type_of_the_contract_once() -> None:
    assert len(EVENT_TYPES) == len(VERCEL_EVENT_TYPES) + len(KEYTURN_EVENT_TYPES) == 11
    assert "resource.secrets.rotation-failed" in KEYTURN_EVENT_TYPES
    assert "deployment.created" in VERCEL_EVENT_TYPES


def test_unknown_event_types_keeps_only_names_outside_the_catalogue() -> None:
    assert unknown_event_types(["project.created", "project.exploded", "x"]) == [
        "project.exploded",
        "x",
    ]
