"""Event payloads without a database: Vercel's envelope and base fields, and the builders the
rotation and ledger work call (rotation-*, value-revocable)."""

from __future__ import annotations

import pytest

from keyturn.domain.event_payloads import (
    Involved,
    NewEvent,
    event_body,
    rotation_event,
    value_revocable_event,
)
from keyturn.domain.events import ROTATION_FAILED, VALUE_REVOCABLE
from keyturn.domain.resources import Resource
from keyturn.domain.rotations import Rotation, RotationError

RESOURCE = Resource(
    internal_id="res_1",
    installation_id="icfg_1",
    partner_id="db1",
    product_id="iap_1",
    name="db",
    status="ready",
    ownership=None,
    metadata=None,
    billing_plan=None,
    notification=None,
    extras=None,
    secrets_version=3,
    created_at=0,
    updated_at=0,
)
BASE = {
    "team": {"id": "team_1"},
    "installationIds": ["icfg_1"],
    "integrations": [{"installationId": "icfg_1", "resources": [{"externalResourceId": "db1"}]}],
    "resource": {"id": "db1", "internalId": "res_1"},
}


def test_the_envelope_has_id_type_time_a_null_region_and_the_payload() -> None:
    event = NewEvent(type="project.created", team_id="team_1", fields={"project": {"id": "p"}})
    assert event_body(event, event_id="evt_1", created_at=5, team_id="team_1") == {
        "id": "evt_1",
        "type": "project.created",
        "createdAt": 5,
        "region": None,
        "payload": {"team": {"id": "team_1"}, "user": None, "project": {"id": "p"}},
    }


def test_involved_resources_group_by_installation_each_once() -> None:
    event = NewEvent(
        type="deployment.created",
        team_id="team_1",
        user_id="user_1",
        fields={},
        involved=(
            Involved("icfg_1", "db1"),
            Involved("icfg_2", "kv"),
            Involved("icfg_1", "db2"),
            Involved("icfg_1", "db1"),
        ),
    )
    payload = event_body(event, event_id="evt_1", created_at=0, team_id="team_1")["payload"]
    assert payload["user"] == {"id": "user_1"}
    assert payload["installationIds"] == ["icfg_1", "icfg_2"]
    assert payload["integrations"] == [
        {
            "installationId": "icfg_1",
            "resources": [{"externalResourceId": "db1"}, {"externalResourceId": "db2"}],
        },
        {"installationId": "icfg_2", "resources": [{"externalResourceId": "kv"}]},
    ]


def test_a_rotation_event_carries_the_rotation_and_the_requesting_user() -> None:
    rotation = Rotation(
        id="rot_1",
        resource_internal_id="res_1",
        resource_id="db1",
        status="failed",
        reason="leaked",
        delay_hours=1.5,
        requested_at=10,
        requested_by="user_1",
        deadline_at=99,
        error=RotationError("partner_timeout", "no answer"),
    )
    event = rotation_event(ROTATION_FAILED, RESOURCE, rotation, user_id="user_1")
    body = event_body(event, event_id="evt_1", created_at=0, team_id="team_1")
    assert body["type"] == ROTATION_FAILED
    assert body["payload"] == {
        **BASE,
        "user": {"id": "user_1"},
        "rotation": {
            "id": "rot_1",
            "resourceId": "db1",
            "status": "failed",
            "reason": "leaked",
            "delayOldSecretsExpirationHours": 1.5,
            "requestedAt": 10,
            "requestedBy": "user_1",
            "completedAt": None,
            "version": None,
            "error": {"code": "partner_timeout", "message": "no answer"},
        },
    }


def test_a_rotation_event_of_another_type_is_refused() -> None:
    rotation = Rotation("rot_1", "res_1", "db1", "pending", None, None, 0, None, 1)
    with pytest.raises(ValueError, match="not a rotation event"):
        rotation_event(VALUE_REVOCABLE, RESOURCE, rotation, user_id=None)


def test_value_revocable_names_the_value_by_name_and_version_range() -> None:
    event = value_revocable_event(RESOURCE, "DATABASE_URL", 1, 2)
    body = event_body(event, event_id="evt_1", created_at=0, team_id="team_1")
    assert body["type"] == VALUE_REVOCABLE
    assert body["payload"] == {
        **BASE,
        "user": None,
        "name": "DATABASE_URL",
        "fromVersion": 1,
        "toVersion": 2,
    }
