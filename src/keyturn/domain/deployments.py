"""Deployments: a build of a project for a target, with the env it was given, frozen.

A deployment does not copy the env vars its connected resources give it. It records, per
resource, the secrets version it was built with and the connection's shape at that moment;
secrets versions never change, so deriving from that record gives the same env on every read,
whatever happens to the resource or the connection later. Only the users' own variables, which
are edited in place, are copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEPLOYMENT_TARGETS: Final = ("production", "preview")


@dataclass(frozen=True, slots=True)
class SecretsVersionUsed:
    """One connected resource of a deployment: the secrets version it was built with, and
    the connection's prefix, environments and sensitivity then (a `DerivationShape`).

    No environments means the deployment's copied variables hold what this resource gave it:
    a deployment made before deployments referenced their resources, whose connection is gone.
    """

    resource_id: str  # the resource's internal id
    secrets_version: int
    environments: tuple[str, ...] = ()
    env_var_prefix: str | None = None
    make_sensitive: bool = False
    # The resource's version now, when read back (None once the resource is deleted): the
    # deployment is stale for the resource when it differs from `secrets_version`.
    current_version: int | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    project_id: str
    name: str
    target: str
    git_branch: str | None
    url: str
    created_at: int
    secrets_versions: tuple[SecretsVersionUsed, ...]
