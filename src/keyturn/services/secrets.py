"""The seed endpoint as a use case: update a resource's secrets (CONTRACT.md 2.1).

The write takes the resource's lock, merges the request into the current set, and writes a new
secrets version holding only the changed secrets. A request that changes nothing writes
nothing. Connected projects derive their env vars from the current version when read, so the
commit is the propagation: there is no per-project work, and no reader sees half of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from keyturn.domain.environment import derived_keys
from keyturn.domain.errors import NotFound, RuleViolation
from keyturn.domain.resources import INACTIVE_STATUS, Resource
from keyturn.domain.secrets import (
    Secret,
    check_secret_count,
    diff_secrets,
    merge_secrets,
    validate_secrets,
)
from keyturn.services.auth import Credentials, identify, require_installation
from keyturn.services.namespace import refuse_conflicts, taken_keys
from keyturn.storage.unit_of_work import Store, UnitOfWork


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
    store: Store, installation_id: str, partner_id: str, product_ref: str | None = None
) -> None:
    """Answer 404 before the body is read, as the contract's check order asks."""
    with store.read() as uow:
        find_live_resource(uow, installation_id, partner_id, product_ref=product_ref)


def update_resource_secrets(
    store: Store,
    credentials: Credentials,
    installation_id: str,
    partner_id: str,
    update: Callable[[], SecretsUpdate],
    *,
    product_ref: str | None = None,
) -> int:
    """Apply the update and commit; returns the resource's secrets version afterwards.

    One transaction does the contract's checks in their order, then the write: the token
    (401/403), the resource (404), the body (`update()` raises its 400), the rules (422).
    """
    with store.write() as uow:
        require_installation(identify(uow, credentials), installation_id)
        resource = find_live_resource(
            uow, installation_id, partner_id, product_ref=product_ref, for_update=True
        )
        request = update()
        validate_secrets(request.secrets)
        version = apply_secrets(uow, resource, request.secrets, partial=request.partial)
        uow.commit()
    return version


def apply_secrets(
    uow: UnitOfWork, resource: Resource, secrets: Sequence[Secret], *, partial: bool
) -> int:
    """Write a new secrets version if the update changes anything; the caller holds the lock.

    `secrets` must already have passed `validate_secrets`.
    """
    current = uow.secrets.current(resource)
    merged = merge_secrets(current, secrets, partial=partial)
    check_secret_count(merged)
    if resource.status == INACTIVE_STATUS:
        raise RuleViolation(
            "resource_not_active",
            f"resource {resource.partner_id!r} is uninstalled and takes no secrets",
        )
    change = diff_secrets(current, merged)
    if change.is_empty:
        return resource.secrets_version
    _refuse_new_key_conflicts(uow, resource, current, merged)
    version = resource.secrets_version + 1
    uow.secrets.write_version(resource, version, change, merged)
    uow.resources.record_secrets_version(resource, version)
    return version


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
    # Keys depend on a connection's prefix and environments only, shared by most connections:
    # derive them once per distinct pair rather than once per connected project.
    added_by_shape: dict[tuple[str | None, tuple[str, ...]], set[tuple[str, str]]] = {}
    wanted: dict[str, set[tuple[str, str]]] = {}
    for connection in uow.projects.connections_of_resource(resource.internal_id):
        shape = (connection.env_var_prefix, connection.environments)
        if shape not in added_by_shape:
            added_by_shape[shape] = derived_keys(connection, new_pairs) - derived_keys(
                connection, old_pairs
            )
        if added_by_shape[shape]:
            wanted[connection.project_id] = added_by_shape[shape]
    if wanted:
        uow.projects.lock(wanted)
        candidates = {key for keys in added_by_shape.values() for key, _ in keys}
        taken = taken_keys(
            uow, wanted, except_resource_id=resource.internal_id, only_keys=candidates
        )
        refuse_conflicts(wanted, taken)
