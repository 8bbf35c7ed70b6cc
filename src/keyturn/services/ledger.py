"""Who still runs which credentials (CONTRACT.md 5.1, 5.2): a resource's secrets history, its
usage ledger, and redeploying what is stale.

The partner asks on its path with its installation token, the owner on the owner path with a
user token of the installation's team; both get the same answer. Each read runs in one read
transaction (one snapshot), so the counts, the ids and the versions agree with each other.
Nothing here reads a secret value: the ledger is names, version numbers and deployment ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.domain.ledger import (
    ValueUsage,
    VersionChange,
    ids_wanted,
    span_usage,
    usage_state,
    value_usage,
    version_changes,
    versions_page,
)
from keyturn.domain.resources import Resource
from keyturn.services.auth import (
    Credentials,
    identify,
    require_installation,
    team_installation,
)
from keyturn.services.context import ServiceContext
from keyturn.services.deployments import DeploymentView, deploy
from keyturn.services.projects import TeamCaller, caller_member, caller_team, find_project
from keyturn.services.secrets import find_live_resource
from keyturn.storage.unit_of_work import UnitOfWork

# The partner's installation token, or the owner's user token (with its `?teamId=`).
Asker = Credentials | TeamCaller


@dataclass(frozen=True, slots=True)
class VersionsView:
    current_version: int
    versions: list[VersionChange]


@dataclass(frozen=True, slots=True)
class UsageView:
    current_version: int
    values: list[ValueUsage]


def list_versions(
    ctx: ServiceContext,
    asker: Asker,
    installation_id: str,
    partner_id: str,
    *,
    limit: str | None,
    until: str | None,
) -> VersionsView:
    """The resource's versions below `until`, newest first, each with the names it added,
    changed and removed. Checks: the token (401/403), the resource (404), the query (400)."""
    with ctx.store.read() as uow:
        resource = _asked_resource(uow, asker, installation_id, partner_id)
        page = versions_page(limit, until)
        records = uow.ledger.versions(resource.internal_id, until=page.until, limit=page.limit)
        rows = (
            uow.ledger.rows_starting_or_ending(
                resource.internal_id, records[-1].version, records[0].version
            )
            if records
            else []
        )
    return VersionsView(resource.secrets_version, version_changes(records, rows))


def secrets_usage(
    ctx: ServiceContext, asker: Asker, installation_id: str, partner_id: str, *, state: str | None
) -> UsageView:
    """Every stored value of the resource with the live deployments that still run it."""
    with ctx.store.read() as uow:
        resource = _asked_resource(uow, asker, installation_id, partner_id)
        wanted_state = usage_state(state)
        spans = uow.ledger.value_spans(resource.internal_id)
        usage = uow.ledger.usage_by_version(resource.internal_id)
        # The counts decide the state; ids are read only for the values that are answered.
        kept = [counted for counted in span_usage(spans, usage) if counted.in_state(wanted_state)]
        newest = uow.ledger.newest_deployments(resource.internal_id, ids_wanted(kept))
    return UsageView(resource.secrets_version, value_usage(kept, newest))


def redeploy_stale(
    ctx: ServiceContext, owner: TeamCaller, installation_id: str, partner_id: str
) -> list[DeploymentView]:
    """Redeploy every project, target and git branch connected to the resource whose newest
    live deployment runs another version of it than the current one; one transaction."""
    with ctx.store.write(snapshot=True) as uow:
        uow.deployments.lock_for_changes()
        team_id, user_id = caller_member(uow, owner)
        team_installation(uow, team_id, installation_id)
        resource = find_live_resource(uow, installation_id, partner_id)
        connected = [c.project_id for c in uow.connections.of_resource(resource.internal_id)]
        views = []
        for project_id, target, git_branch in uow.ledger.stale_serving(
            resource.internal_id, resource.secrets_version, connected
        ):
            project = find_project(uow, team_id, project_id)
            deployment = deploy(
                uow,
                project,
                name=project.name,
                target=target,
                git_branch=git_branch,
                user_id=user_id,
            )
            views.append(DeploymentView(deployment, project.name))
        uow.commit()
    return views


def _asked_resource(
    uow: UnitOfWork, asker: Asker, installation_id: str, partner_id: str
) -> Resource:
    """The live resource, once the token reaches it: 401, then 403, then 404."""
    if isinstance(asker, TeamCaller):
        _owner_team(uow, asker, installation_id)
    else:
        require_installation(identify(uow, asker), installation_id)
    return find_live_resource(uow, installation_id, partner_id)


def _owner_team(uow: UnitOfWork, owner: TeamCaller, installation_id: str) -> str:
    """The user token's team, once it is the installation's: 401, 403, then 404."""
    team_id = caller_team(uow, owner)
    team_installation(uow, team_id, installation_id)
    return team_id
