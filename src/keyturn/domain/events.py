"""The catalogue of event types (CONTRACT.md 6.1): the one list every part of keyturn checks
event names against.

Two families: Vercel's own types, which an integration with a `webhookUrl` receives for its
installations whether it asks or not (6.2), and keyturn's additions, which it receives only when
it lists them in its `events`. An integration may list any type of the catalogue; a name outside
it is refused (1: 400), so a typo cannot silently subscribe to nothing.
"""

from __future__ import annotations

from typing import Final

PROJECT_CONNECTED: Final = "integration-resource.project-connected"
PROJECT_DISCONNECTED: Final = "integration-resource.project-disconnected"
DEPLOYMENT_CREATED: Final = "deployment.created"
PROJECT_CREATED: Final = "project.created"
PROJECT_REMOVED: Final = "project.removed"

SECRETS_UPDATED: Final = "resource.secrets.updated"
ROTATION_REQUESTED: Final = "resource.secrets.rotation-requested"
ROTATION_COMPLETED: Final = "resource.secrets.rotation-completed"
ROTATION_FAILED: Final = "resource.secrets.rotation-failed"
VALUE_REVOCABLE: Final = "resource.secrets.value-revocable"
RESOURCE_DELETED: Final = "resource.deleted"

# Vercel's types, in the order of the contract's table.
VERCEL_EVENT_TYPES: Final = (
    PROJECT_CONNECTED,
    PROJECT_DISCONNECTED,
    DEPLOYMENT_CREATED,
    PROJECT_CREATED,
    PROJECT_REMOVED,
)

# keyturn's additions: what an integration opts into with `events`.
KEYTURN_EVENT_TYPES: Final = (
    SECRETS_UPDATED,
    ROTATION_REQUESTED,
    ROTATION_COMPLETED,
    ROTATION_FAILED,
    VALUE_REVOCABLE,
    RESOURCE_DELETED,
)

EVENT_TYPES: Final = frozenset(VERCEL_EVENT_TYPES + KEYTURN_EVENT_TYPES)


def unknown_event_types(types: list[str]) -> list[str]:
    """The names in `types` that are not in the catalogue, in the order given."""
    return [name for name in types if name not in EVENT_TYPES]
