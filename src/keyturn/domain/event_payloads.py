"""What an event says (CONTRACT.md 6.1): Vercel's envelope and base fields, and what each type
adds. Names and ids only: no builder here takes a secret value, so none can leak into an event.

A service describes its event as a `NewEvent` (the type, who and what it involves, the
type's own fields); the outbox gives it an id and a time and `event_body` makes the JSON that is
stored, served by the feed and delivered byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keyturn.domain.events import (
    DEPLOYMENT_CREATED,
    PROJECT_CREATED,
    PROJECT_REMOVED,
    RESOURCE_DELETED,
    ROTATION_COMPLETED,
    ROTATION_FAILED,
    ROTATION_REQUESTED,
    SECRETS_UPDATED,
    VALUE_REVOCABLE,
)
from keyturn.domain.resources import Resource
from keyturn.domain.rotations import Rotation
from keyturn.domain.secrets import SecretSetChange


@dataclass(frozen=True, slots=True)
class Involved:
    """A resource an event is about, as Vercel names it: installation and partner id."""

    installation_id: str
    external_resource_id: str


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a change emits; `team_id` None: the team of its first installation."""

    type: str
    team_id: str | None
    fields: Mapping[str, Any]
    involved: tuple[Involved, ...] = ()
    user_id: str | None = None
    # The project a project-scoped event is about (a team webhook's `projectIds` filter).
    project_id: str | None = None
    installation_ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        # In order of first mention, each once.
        ids = dict.fromkeys(item.installation_id for item in self.involved)
        object.__setattr__(self, "installation_ids", tuple(ids))


def event_body(event: NewEvent, *, event_id: str, created_at: int, team_id: str) -> dict[str, Any]:
    """The event as stored and delivered: `{id, type, createdAt, region, payload}`."""
    payload: dict[str, Any] = {
        "team": {"id": team_id},
        "user": {"id": event.user_id} if event.user_id is not None else None,
    }
    if event.involved:
        by_installation: dict[str, list[dict[str, str]]] = {}
        for item in event.involved:
            resources = by_installation.setdefault(item.installation_id, [])
            entry = {"externalResourceId": item.external_resource_id}
            if entry not in resources:
                resources.append(entry)
        payload["installationIds"] = list(by_installation)
        payload["integrations"] = [
            {"installationId": installation_id, "resources": resources}
            for installation_id, resources in by_installation.items()
        ]
    payload.update(event.fields)
    return {
        "id": event_id,
        "type": event.type,
        "createdAt": created_at,
        "region": None,
        "payload": payload,
    }


def resource_ref(resource: Resource) -> dict[str, str]:
    return {"id": resource.partner_id, "internalId": resource.internal_id}


def involving(resource: Resource) -> tuple[Involved, ...]:
    return (Involved(resource.installation_id, resource.partner_id),)


def project_connection_event(
    event_type: str,
    resource: Resource,
    project_id: str,
    project_name: str,
    environments: Iterable[str],
    *,
    team_id: str,
    user_id: str | None,
) -> NewEvent:
    """`integration-resource.project-connected` or `-disconnected`."""
    return NewEvent(
        type=event_type,
        team_id=team_id,
        user_id=user_id,
        involved=involving(resource),
        project_id=project_id,
        fields={
            "configuration": {"id": resource.installation_id},
            "resource": resource_ref(resource),
            "project": {"id": project_id, "name": project_name},
            "envVarEnvironments": list(environments),
        },
    )


def deployment_created_event(
    *,
    team_id: str,
    user_id: str | None,
    deployment_id: str,
    name: str,
    url: str,
    project_id: str,
    target: str,
    involved: Iterable[Involved],
) -> NewEvent:
    """`deployment.created`; `involved`: the connected resources it took env vars from."""
    return NewEvent(
        type=DEPLOYMENT_CREATED,
        team_id=team_id,
        user_id=user_id,
        involved=tuple(involved),
        project_id=project_id,
        fields={
            "deployment": {"id": deployment_id, "name": name, "url": url, "meta": {}},
            "project": {"id": project_id},
            "target": target,
        },
    )


def project_event(
    event_type: str, *, team_id: str, user_id: str | None, project_id: str, name: str
) -> NewEvent:
    """`project.created` or `project.removed`."""
    if event_type not in (PROJECT_CREATED, PROJECT_REMOVED):
        raise ValueError(f"{event_type} is not a project event")
    return NewEvent(
        type=event_type,
        team_id=team_id,
        user_id=user_id,
        project_id=project_id,
        fields={"project": {"id": project_id, "name": name}},
    )


def secrets_updated_event(
    resource: Resource, version: int, source: str, change: SecretSetChange
) -> NewEvent:
    """`resource.secrets.updated`: one per new secrets version, names only."""
    return NewEvent(
        type=SECRETS_UPDATED,
        team_id=None,
        involved=involving(resource),
        fields={
            "resource": resource_ref(resource),
            "version": version,
            "source": source,
            "added": sorted(change.added),
            "changed": sorted(change.changed),
            "removed": sorted(change.removed),
        },
    )


def rotation_fields(rotation: Rotation) -> dict[str, Any]:
    """R of CONTRACT.md 5.3, as the rotation routes answer it: absent values are null."""
    error = rotation.error
    return {
        "id": rotation.id,
        "resourceId": rotation.resource_id,
        "status": rotation.status,
        "reason": rotation.reason,
        "delayOldSecretsExpirationHours": rotation.delay_hours,
        "requestedAt": rotation.requested_at,
        "requestedBy": rotation.requested_by,
        "completedAt": rotation.completed_at,
        "version": rotation.version,
        "error": None if error is None else {"code": error.code, "message": error.message},
    }


def rotation_event(
    event_type: str, resource: Resource, rotation: Rotation, *, user_id: str | None
) -> NewEvent:
    """`resource.secrets.rotation-requested`, `-completed` or `-failed`, with the rotation R."""
    if event_type not in (ROTATION_REQUESTED, ROTATION_COMPLETED, ROTATION_FAILED):
        raise ValueError(f"{event_type} is not a rotation event")
    return NewEvent(
        type=event_type,
        team_id=None,
        user_id=user_id,
        involved=involving(resource),
        fields={"resource": resource_ref(resource), "rotation": rotation_fields(rotation)},
    )


def value_revocable_event(
    resource: Resource, name: str, from_version: int, to_version: int
) -> NewEvent:
    """`resource.secrets.value-revocable`: a superseded value no live deployment uses."""
    return NewEvent(
        type=VALUE_REVOCABLE,
        team_id=None,
        involved=involving(resource),
        fields={
            "resource": resource_ref(resource),
            "name": name,
            "fromVersion": from_version,
            "toVersion": to_version,
        },
    )


def resource_deleted_event(resource: Resource, *, user_id: str | None = None) -> NewEvent:
    return NewEvent(
        type=RESOURCE_DELETED,
        team_id=None,
        user_id=user_id,
        involved=involving(resource),
        fields={"resource": resource_ref(resource)},
    )
