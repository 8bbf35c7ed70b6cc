"""Deployments: a build of a project for a target, with the env it was given, frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEPLOYMENT_TARGETS: Final = ("production", "preview")


@dataclass(frozen=True, slots=True)
class SecretsVersionUsed:
    """The secrets version of one connected resource that a deployment was built with."""

    resource_id: str  # the resource's internal id
    secrets_version: int


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
