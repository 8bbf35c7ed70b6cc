"""The seed endpoint as a use case: update a resource's secrets (CONTRACT.md 2.1).

The write takes the resource's lock, merges the request into the current set, and writes a new
secrets version holding only the changed secrets. A request that changes nothing writes
nothing. Connected projects derive their env vars from the current version when read, so the
commit is the propagation: there is no per-project work, and no reader sees half of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from keyturn.domain.conditions import NO_PRECONDITIONS, Preconditions
from keyturn.domain.envkeys import derive_env_key
from keyturn.domain.errors import Code, KeyturnError, NotFound, RuleViolation
from keyturn.domain.event_payloads import rotation_event, secrets_updated_event
from keyturn.domain.events import ROTATION_COMPLETED, ROTATION_FAILED
from keyturn.domain.resources import INACTIVE_STATUS, Resource
from keyturn.domain.rotations import Rotation, RotationError, timed_out_error
from keyturn.domain.secrets import (
    Secret,
    VersionProvenance,
    check_secret_count,
    diff_secrets,
    merge_secrets,
    validate_secrets,
)
from keyturn.services.auth import Credentials, identify, require_installation, token_principal
from keyturn.services.context import ServiceContext
from keyturn.services.idempotency import InlineKey
from keyturn.services.namespace import key_conflict
from keyturn.services.revocable import announce_superseded
from keyturn.storage.repositories.secrets import secret_set_digest
from keyturn.storage.unit_of_work import UnitOfWork

UPDATE = VersionProvenance("update")
# The writes that complete a pending rotation: the partner's own (2.1 and 2.2), not a rollback.
COMPLETES_ROTATION = frozenset({"update", "import", "patch"})
ROLLBACK = VersionProvenance("rollback")


@dataclass(frozen=True, slots=True)
class SecretsUpdate:
    secrets: tuple[Secret, ...]
    partial: bool = False


def find_live_resource(
    uow: UnitOfWork,
    installation_id: str,
    partner_id: str,
    *,
    product_ref: str | None = None,
    for_update: bool = False,
) -> Resource:
    """The live resource, or 404; with `product_ref`, also 404 unless it is of that product."""
    resource = uow.resources.live(installation_id, partner_id, for_update=for_update)
    if resource is None:
        raise NotFound(f"resourceId: no resource {partner_id!r} in this installation")
    if product_ref is not None:
        product = uow.accounts.product(resource.product_id)
        if product is None or product_ref not in (product.id, product.slug):
            raise NotFound(
                f"integrationProductIdOrSlug: resource {partner_id!r} is not of product "
                f"{product_ref!r}"
            )
    return resource


def ensure_resource_exists(
    ctx: ServiceContext,
    installation_id: str,
    partner_id: str,
    product_ref: str | None = None,
    preconditions: Preconditions = NO_PRECONDITIONS,
) -> None:
    """Answer 404, then 412, before the body is read, as the contract's check order asks (the
    write checks the preconditions again, under its lock)."""
    with ctx.store.read() as uow:
        resource = find_live_resource(uow, installation_id, partner_id, product_ref=product_ref)
        preconditions.check(resource.secrets_version)


def update_resource_secrets(
    ctx: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    partner_id: str,
    update: Callable[[], SecretsUpdate],
    *,
    product_ref: str | None = None,
    preconditions: Preconditions = NO_PRECONDITIONS,
    key: InlineKey[int] | None = None,
) -> int:
    """Apply the update and commit; returns the resource's secrets version afterwards.

    One transaction does the contract's checks in their order, then the write: the token
    (401/403), the Idempotency-Key (a replay, 422, 409), the resource (404), `If-Match` (412),
    the body's 400, the rules' 422 (both found before the transaction, by `_check_early`, and
    raised in their turn); the key's answer is kept in it too.
    """
    checked = _check_early(ctx, update)
    if key is None and product_ref is None and checked.full_set is not None:
        unchanged = _unchanged_version(
            ctx, credentials, installation_id, partner_id, checked.full_set.digest
        )
        if unchanged is not None and _holds(preconditions, unchanged):
            return unchanged
    with ctx.store.write() as uow:
        principal = identify(uow, credentials)
        require_installation(principal, installation_id)
        if key is not None:
            key.check(ctx, uow, principal)
        resource = find_live_resource(
            uow, installation_id, partner_id, product_ref=product_ref, for_update=True
        )
        preconditions.check(resource.secrets_version)
        request = checked.request()
        version = apply_secrets(
            uow, resource, request.secrets, partial=request.partial, full_set=checked.full_set
        )
        if key is not None:
            key.keep(uow, version)
        uow.commit()
    return version


@dataclass(frozen=True, slots=True)
class FullSet:
    """The set a full replace leaves, by name, with its `secret_set_digest`."""

    secrets: Mapping[str, Secret]
    digest: str


@dataclass(frozen=True, slots=True)
class _CheckedUpdate:
    """A secrets PUT's body, checked once before any transaction: the update, or the 400 or
    422 the write raises in the contract's order, after the token and the resource; for a
    full replace that breaks no rule, the set it leaves and its digest."""

    outcome: SecretsUpdate | KeyturnError
    full_set: FullSet | None = None

    def request(self) -> SecretsUpdate:
        """The update, or its 400 (body) or 422 (secret rules)."""
        if isinstance(self.outcome, KeyturnError):
            raise self.outcome
        return self.outcome


def _check_early(ctx: ServiceContext, update: Callable[[], SecretsUpdate]) -> _CheckedUpdate:
    """Parse and check the body now, outside the transaction, without refusing it yet.

    Done once for both the unchanged-set answer and the write; the set's hash is computed here
    too, before any pooled connection is held, so that no connection waits on it.
    """
    try:
        request = update()
        validate_secrets(request.secrets)
    except KeyturnError as refusal:
        return _CheckedUpdate(refusal)
    if request.partial:
        return _CheckedUpdate(request)  # its set depends on the stored values
    merged = merge_secrets({}, request.secrets, partial=False)
    try:
        check_secret_count(merged)
    except KeyturnError:
        # Refused by the write, under its lock, after the checks that come first.
        return _CheckedUpdate(request)
    return _CheckedUpdate(request, FullSet(merged, secret_set_digest(ctx.store.keys, merged)))


def _unchanged_version(
    ctx: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    partner_id: str,
    digest: str,
) -> int | None:
    """The resource's secrets version when a full replace leaving a set of `digest` would
    change nothing and the write would refuse nothing; None when it might (the write then
    decides, and refuses).

    A partner's periodic sync sends the set the resource holds: such a request is answered by
    one statement outside any transaction (the token and the resource together, and the set's
    digest compared with the one recorded with the version), without the write's lock, `BEGIN`
    and `COMMIT`. Nothing is written either way, so answering from that one consistent read is
    answering as of that moment, before any write that commits later.
    """
    if credentials.admin or credentials.refusal is not None:
        return None
    with ctx.store.one_statement() as uow:
        found = uow.resources.live_with_token(credentials.digest, installation_id, partner_id)
        if found is None:
            return None
        token, resource = found
        try:
            require_installation(
                token_principal(token, credentials.digest, uow.clock.now_ms()), installation_id
            )
        except KeyturnError:
            return None
        if resource is None or resource.status == INACTIVE_STATUS:
            return None
        if digest != resource.secrets_digest:
            return None
    return resource.secrets_version


def _holds(preconditions: Preconditions, version: int) -> bool:
    try:
        preconditions.check(version)
    except KeyturnError:
        return False
    return True


def roll_back_secrets(
    ctx: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    partner_id: str,
    version: Callable[[], int],
    *,
    preconditions: Preconditions = NO_PRECONDITIONS,
) -> int:
    """Make the secret set that of an earlier version (CONTRACT.md 5.4), as a new version;
    returns the version current afterwards (the current one when the sets are the same).

    The checks of a secrets PUT in their order, `version()` raising the body's 400, then 404
    for a version the resource never had; then every rule of 2.1, as for a full update.
    """
    with ctx.store.write() as uow:
        require_installation(identify(uow, credentials), installation_id)
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        preconditions.check(resource.secrets_version)
        wanted = version()
        if not uow.resources.has_secrets_version(resource, wanted):
            raise NotFound(f"version: resource {partner_id!r} has no secrets version {wanted}")
        secrets = tuple(uow.secrets.at_version(resource, wanted).values())
        validate_secrets(secrets)
        current = apply_secrets(uow, resource, secrets, partial=False, provenance=ROLLBACK)
        uow.commit()
    return current


def apply_secrets(
    uow: UnitOfWork,
    resource: Resource,
    secrets: Sequence[Secret],
    *,
    partial: bool,
    provenance: VersionProvenance = UPDATE,
    full_set: FullSet | None = None,
) -> int:
    """Write a new secrets version if the update changes anything; the caller holds the lock.

    `secrets` must already have passed `validate_secrets`. `provenance` says what made the
    version (5.1 `source`); a request that changes nothing records nothing. `full_set` is the
    set a full replace of `secrets` leaves, when the caller has it already.
    """
    # A full replace needs no stored value to know the set it leaves: when that set's digest
    # is the one recorded with the current version, nothing changes, and no value is read.
    current = uow.secrets.current(resource) if partial else None
    merged: Mapping[str, Secret]
    digest: str | None
    if partial or full_set is None:
        merged = merge_secrets(current or {}, secrets, partial=partial)
        digest = None
    else:
        merged, digest = full_set.secrets, full_set.digest
    check_secret_count(merged)
    if resource.status == INACTIVE_STATUS:
        raise RuleViolation(
            Code.RESOURCE_NOT_ACTIVE,
            f"resource {resource.partner_id!r} is uninstalled and takes no secrets",
        )
    if digest is None:
        digest = uow.secrets.digest(merged)
    if digest == resource.secrets_digest:
        return resource.secrets_version
    if current is None:
        current = uow.secrets.current(resource)
    change = diff_secrets(current, merged)
    if change.is_empty:
        # The same set under a digest not known yet: record it, so the next repeat is cheap.
        uow.resources.record_secrets_digest(resource, digest)
        return resource.secrets_version
    _refuse_new_key_conflicts(uow, resource, current, merged)
    version = resource.secrets_version + 1
    completes: str | None = None
    if provenance.source in COMPLETES_ROTATION:
        # The partner's next effective update after an async rotation answer completes it (5.3).
        pending = uow.rotations.pending(resource.internal_id)
        if pending is not None and pending.as_seen_at(uow.clock.now_ms()).status == "pending":
            completes = pending.id
            provenance = VersionProvenance(
                "rotation", pending.id, pending.superseded_expire_after_ms
            )
        elif pending is not None:
            # Past its deadline: this write is the one that meets it, so it records the failure.
            end_rotation(uow, resource, pending.id, failed=timed_out_error(), user_id=None)
    uow.secrets.write_version(resource, version, change, merged)
    uow.resources.record_secrets_version(resource, version, provenance, digest)
    uow.events.emit(secrets_updated_event(resource, version, provenance.source, change))
    if completes is not None:
        # The partner's own write: no user made it (6.1 `user: null`).
        end_rotation(uow, resource, completes, version=version, user_id=None)
    announce_superseded(uow, resource, version)
    return version


def end_rotation(
    uow: UnitOfWork,
    resource: Resource,
    rotation_id: str,
    *,
    user_id: str | None,
    version: int | None = None,
    failed: RotationError | None = None,
) -> Rotation | None:
    """Complete the pending rotation by `version`, or fail it with `failed`, and emit its
    `rotation-completed` or `-failed` event; None when it was no longer pending (another write
    ended it first, and emitted the event)."""
    if failed is not None:
        ended = uow.rotations.fail(rotation_id, failed)
        event_type = ROTATION_FAILED
    elif version is not None:
        ended = uow.rotations.complete(rotation_id, version=version)
        event_type = ROTATION_COMPLETED
    else:
        raise ValueError("a rotation ends with a version or an error")
    rotation = uow.rotations.get(rotation_id) if ended else None
    if rotation is not None:
        uow.events.emit(rotation_event(event_type, resource, rotation, user_id=user_id))
    return rotation


def _refuse_new_key_conflicts(
    uow: UnitOfWork,
    resource: Resource,
    current: Mapping[str, Secret],
    merged: Mapping[str, Secret],
) -> None:
    """409 if a key the update newly derives is taken in a connected project (2.1 step 5).

    A key depends only on a secret's name and prefix (and the connection's prefix), so an
    update that adds no (name, prefix) pair, such as a rotation, cannot conflict and costs no
    look-up of the resource's connections.
    """
    old_pairs = {(secret.name, secret.prefix) for secret in current.values()}
    new_pairs = {(secret.name, secret.prefix) for secret in merged.values()} - old_pairs
    if not new_pairs:
        return
    # A key depends on the connection's prefix alone (environments only decide where it
    # lands), so the new keys are derived once per distinct prefix, and the database does the
    # rest: which connected project already holds one of them in a shared environment.
    candidates: dict[str | None, set[str]] = {}
    for prefix in uow.connections.prefixes_of_resource(resource.internal_id):
        added = {derive_env_key(name, secret_prefix, prefix) for name, secret_prefix in new_pairs}
        added -= {derive_env_key(name, secret_prefix, prefix) for name, secret_prefix in old_pairs}
        if added:
            candidates[prefix] = added
    if candidates:
        uow.projects.lock_env_keys(key for keys in candidates.values() for key in keys)
        key = uow.connections.first_taken_key(resource.internal_id, candidates)
        if key is not None:
            raise key_conflict(key)
