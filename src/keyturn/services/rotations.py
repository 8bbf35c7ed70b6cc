"""Rotation requests (CONTRACT.md 5.3): the owner asks keyturn, keyturn asks the partner.

The partner call is made outside any database transaction: it may take seconds, and holding a
resource's lock (or SQLite's one writer slot) that long would stall every other write. So a
request runs in three steps:

1. one write transaction does the contract's checks in their order and records the rotation as
   `pending` (a second request for the resource now gets 409 `rotation_in_progress`, on
   PostgreSQL too: the resource's row lock orders the two, and a unique index on pending
   rotations backs it);
2. the signed call to the partner, with no transaction open;
3. one write transaction records the outcome: a sync answer is applied as a 2.1 update (a
   version with `source: "rotation"`), an async one leaves the rotation pending until the
   partner's next effective update completes it (`services.secrets.apply_secrets` sees to
   that for every write of secrets), anything else fails it.

A pending rotation whose deadline (`KEYTURN_ROTATION_TIMEOUT_H` after the request) has passed
is failed with `rotation_timed_out`: reads show it so at once (`Rotation.as_seen_at`, on the
context's clock), and the next write that meets it records it, with its `rotation-failed`
event; the delivery worker records the ones no write meets (`record_timed_out_rotations`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from keyturn.domain.accounts import Installation, Principal, user_id_of
from keyturn.domain.errors import Code, Conflict, NotFound, RuleViolation
from keyturn.domain.event_payloads import rotation_event
from keyturn.domain.events import ROTATION_REQUESTED
from keyturn.domain.rotations import (
    AsyncRotation,
    PartnerClaims,
    Rotation,
    RotationError,
    SyncRotation,
    read_partner_reply,
    timed_out_error,
)
from keyturn.domain.secrets import VersionProvenance, validate_secrets
from keyturn.outbound.partner import RotationCall
from keyturn.services.auth import (
    Credentials,
    identify,
    require_installation,
    require_installation_owner,
    require_user,
)
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller, check_team_scope
from keyturn.services.secrets import apply_secrets, end_rotation, find_live_resource
from keyturn.services.signing import signing_key
from keyturn.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class RotationRequest:
    """The owner's body: `sent` is exactly what the owner sent, which the partner gets."""

    reason: str | None
    delay_hours: float | None
    sent: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RotationAnswer:
    rotation: Rotation
    # Whether the partner rotated already (200) or will (202).
    completed: bool


class RotationFailed(Exception):
    """The partner did not rotate; `rotation` is the failed request. The HTTP layer answers it
    as a 502 `partner_error` (`domain.errors.PartnerError`) with the rotation in its body."""

    def __init__(self, rotation: Rotation) -> None:
        error = rotation.error
        reason = f"{error.code}: {error.message}" if error else "the rotation failed"
        self.message = f"the partner did not rotate the secrets ({reason})"
        super().__init__(self.message)
        self.rotation = rotation


@dataclass(frozen=True, slots=True)
class _Requested:
    rotation: Rotation
    installation: Installation
    base_url: str
    user_id: str


def request_rotation(
    ctx: ServiceContext,
    caller: TeamCaller,
    installation_id: str,
    partner_id: str,
    request: Callable[[], RotationRequest],
    *,
    issuer: str,
) -> RotationAnswer:
    """`POST {owner path}/secrets/rotate`: record, call the partner, record what it said."""
    requested = _record_request(ctx, caller, installation_id, partner_id, request)
    rotation = requested.rotation
    claims = PartnerClaims(
        issuer=issuer,
        client_id=requested.installation.integration_id,
        team_id=requested.installation.team_id,
        installation_id=installation_id,
        user_id=requested.user_id,
    )
    call = RotationCall(
        # The partner's resource id is its own: any character, so one escaped path segment.
        url=f"{requested.base_url.rstrip('/')}/v1/installations/{quote(installation_id, safe='')}"
        f"/resources/{quote(partner_id, safe='')}/secrets/rotate",
        token=signing_key(ctx).sign(claims.at(ctx.clock.now_ms())),
        idempotency_key=rotation.id,
        body=request().sent,
    )
    outcome = read_partner_reply(ctx.partner_api.request_rotation(call))
    if isinstance(outcome, AsyncRotation):
        return RotationAnswer(_current(ctx, rotation), completed=False)
    if isinstance(outcome, SyncRotation):
        try:
            applied = _apply_sync(ctx, installation_id, partner_id, rotation, outcome)
        except (RuleViolation, Conflict, NotFound) as refusal:
            # The partner's secrets broke a rule of 2.1: the rotation fails with that code.
            outcome = RotationError(str(refusal.code), refusal.message)
        else:
            if applied.status == "failed":
                raise RotationFailed(applied)
            return RotationAnswer(applied, completed=applied.status == "completed")
    raise RotationFailed(_fail(ctx, rotation, outcome))


def _record_request(
    ctx: ServiceContext,
    caller: TeamCaller,
    installation_id: str,
    partner_id: str,
    request: Callable[[], RotationRequest],
) -> _Requested:
    now = ctx.clock.now_ms()
    with ctx.store.write() as uow:
        principal, installation = _owned_installation(uow, caller, installation_id)
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        body = request()
        integration = uow.accounts.integration_by_id_or_slug(installation.integration_id)
        if integration is None or integration.base_url is None:
            raise Conflict(
                Code.ROTATION_NOT_SUPPORTED,
                "the integration has no baseUrl: its partner takes no rotation requests",
            )
        pending = uow.rotations.pending(resource.internal_id)
        if pending is not None:
            if pending.as_seen_at(now).status == "pending":
                raise Conflict(
                    Code.ROTATION_IN_PROGRESS,
                    f"rotation {pending.id} of this resource is still pending",
                )
            # Past its deadline: this request is the write that meets it and records it.
            end_rotation(uow, resource, pending.id, failed=timed_out_error(), user_id=None)
        user_id = user_id_of(principal)
        rotation = Rotation(
            id=ctx.ids.new("rot"),
            resource_internal_id=resource.internal_id,
            resource_id=resource.partner_id,
            status="pending",
            reason=body.reason,
            delay_hours=body.delay_hours,
            requested_at=now,
            requested_by=user_id,
            deadline_at=now + ctx.rotation_timeout_ms,
        )
        uow.rotations.add(rotation)
        # Every request that passes the checks reaches the partner call: announced here, with
        # the record, whatever the partner answers (6.1).
        uow.events.emit(rotation_event(ROTATION_REQUESTED, resource, rotation, user_id=user_id))
        uow.commit()
    return _Requested(rotation, installation, integration.base_url, user_id)


def _apply_sync(
    ctx: ServiceContext,
    installation_id: str,
    partner_id: str,
    rotation: Rotation,
    sync: SyncRotation,
) -> Rotation:
    """Apply the partner's new secrets as a 2.1 update that completes `rotation`."""
    validate_secrets(sync.secrets)
    with ctx.store.write() as uow:
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        still = uow.rotations.get(rotation.id)
        if still is None or resource.internal_id != rotation.resource_internal_id:
            return _seen(ctx, still or rotation)
        if still.status == "pending" and still.as_seen_at(ctx.clock.now_ms()).status != "pending":
            # The partner answered after the deadline: the rotation has failed; record it.
            failed = end_rotation(
                uow, resource, rotation.id, failed=timed_out_error(), user_id=None
            )
            uow.commit()
            return _seen(ctx, failed or still)
        if still.status != "pending":
            # Completed by the partner's own update meanwhile: as it stands.
            return _seen(ctx, still)
        version = apply_secrets(
            uow,
            resource,
            sync.secrets,
            partial=sync.partial,
            provenance=VersionProvenance(
                "rotation", rotation.id, rotation.superseded_expire_after_ms
            ),
        )
        # The same secrets again (no new version) complete it too, by the current version. The
        # owner's request made this change, so the event names the owner.
        completed = end_rotation(
            uow, resource, rotation.id, version=version, user_id=rotation.requested_by
        )
        uow.commit()
    return completed or rotation


def _fail(ctx: ServiceContext, rotation: Rotation, error: RotationError) -> Rotation:
    with ctx.store.write() as uow:
        [resource] = uow.resources.by_internal_ids([rotation.resource_internal_id])
        failed = end_rotation(
            uow, resource, rotation.id, failed=error, user_id=rotation.requested_by
        )
        current = failed or uow.rotations.get(rotation.id)
        uow.commit()
    return _seen(ctx, current or rotation)


def record_timed_out_rotations(ctx: ServiceContext, *, limit: int = 100) -> int:
    """Fail the pending rotations past their deadline with `rotation_timed_out`, each with its
    `rotation-failed` event, so that one no write meets still ends; returns how many. Reads
    first, so a round with nothing to record writes nothing. Several callers at once (delivery
    workers) record each once: ending a rotation is a compare-and-set."""
    now = ctx.clock.now_ms()
    with ctx.store.read() as uow:
        if not uow.rotations.past_deadline(now, limit=1):
            return 0
    with ctx.store.write() as uow:
        due = uow.rotations.past_deadline(now, limit=limit)
        resources = {
            resource.internal_id: resource
            for resource in uow.resources.by_internal_ids(r.resource_internal_id for r in due)
        }
        ended = [
            end_rotation(
                uow,
                resources[rotation.resource_internal_id],
                rotation.id,
                failed=timed_out_error(),
                user_id=None,
            )
            for rotation in due
        ]
        uow.commit()
    return sum(rotation is not None for rotation in ended)


def _current(ctx: ServiceContext, rotation: Rotation) -> Rotation:
    with ctx.store.read() as uow:
        current = uow.rotations.get(rotation.id)
    return _seen(ctx, current or rotation)


def _seen(ctx: ServiceContext, rotation: Rotation) -> Rotation:
    return rotation.as_seen_at(ctx.clock.now_ms())


def list_rotations_for_owner(
    ctx: ServiceContext, caller: TeamCaller, installation_id: str, partner_id: str
) -> list[Rotation]:
    """`GET {owner path}/secrets/rotations`, newest first."""
    with ctx.store.read() as uow:
        _owned_installation(uow, caller, installation_id)
        return _rotations(ctx, uow, installation_id, partner_id)


def _owned_installation(
    uow: UnitOfWork, caller: TeamCaller, installation_id: str
) -> tuple[Principal, Installation]:
    """The owner path's caller and installation: 401, then 403 for a `?teamId=`/`?slug=` of
    another team (CONTRACT.md 0), then the installation's own 403/404."""
    principal = identify(uow, caller.credentials)
    if caller.team_ref is not None or caller.team_slug is not None:
        check_team_scope(uow, require_user(principal), caller.team_ref, caller.team_slug)
    return principal, require_installation_owner(uow, principal, installation_id)


def list_rotations_for_partner(
    ctx: ServiceContext, credentials: Credentials, installation_id: str, partner_id: str
) -> list[Rotation]:
    """`GET {partner path}/secrets/rotations`, newest first."""
    with ctx.store.read() as uow:
        require_installation(identify(uow, credentials), installation_id)
        return _rotations(ctx, uow, installation_id, partner_id)


def _rotations(
    ctx: ServiceContext, uow: UnitOfWork, installation_id: str, partner_id: str
) -> list[Rotation]:
    resource = find_live_resource(uow, installation_id, partner_id)
    now = ctx.clock.now_ms()
    return [
        rotation.as_seen_at(now) for rotation in uow.rotations.of_resource(resource.internal_id)
    ]
