"""Resource use cases (CONTRACT.md 2.2): import, patch, read, list and delete.

Secrets sent with an import or a patch go through the same path as the seed endpoint
(`secrets.apply_secrets`), under the same lock, in the same transaction as the other fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from keyturn.domain.conditions import NO_PRECONDITIONS, Preconditions
from keyturn.domain.errors import BadRequest, FieldError, NotFound
from keyturn.domain.event_payloads import resource_deleted_event
from keyturn.domain.resources import MAX_PARTNER_ID_LENGTH, Resource, ResourceFields
from keyturn.domain.rotations import Rotation
from keyturn.domain.secrets import VersionProvenance, validate_secrets
from keyturn.services.context import ServiceContext
from keyturn.services.secrets import SecretsUpdate, apply_secrets, find_live_resource
from keyturn.storage.unit_of_work import UnitOfWork

IMPORT = VersionProvenance("import")
PATCH = VersionProvenance("patch")


@dataclass(frozen=True, slots=True)
class ResourceView:
    """A resource as its partner may read it: names of secrets, never their values."""

    resource: Resource
    secret_names: tuple[str, ...]
    # Its latest rotation request (5.3), as it stands now; only a single resource's read has it.
    latest_rotation: Rotation | None = None


def import_resource(
    ctx: ServiceContext,
    installation_id: str,
    partner_id: str,
    fields: ResourceFields,
    secrets: SecretsUpdate | None,
    preconditions: Preconditions = NO_PRECONDITIONS,
) -> Resource:
    """Create or update the resource; `secrets`, if given, replaces its whole secret set.

    `If-None-Match: *` (in `preconditions`) makes it create only: 412 when the resource exists.
    """
    if len(partner_id) > MAX_PARTNER_ID_LENGTH:
        message = f"is longer than {MAX_PARTNER_ID_LENGTH} characters"
        raise BadRequest(f"resourceId: {message}", (FieldError("resourceId", message),))
    with ctx.store.write() as uow:
        resource = import_in(uow, installation_id, partner_id, fields, secrets, preconditions)
        uow.commit()
    return resource


def import_in(
    uow: UnitOfWork,
    installation_id: str,
    partner_id: str,
    fields: ResourceFields,
    secrets: SecretsUpdate | None,
    preconditions: Preconditions = NO_PRECONDITIONS,
) -> Resource:
    """The import in the caller's unit of work (the API's, or a seed's).

    The precondition (412) is checked before the body's secrets (422), as 5.5 orders them.
    """
    resource = uow.resources.claim(installation_id, partner_id)
    preconditions.check(None if resource is None else resource.secrets_version)
    if secrets is not None:
        validate_secrets(secrets.secrets)
    fields = _with_product_id(uow, installation_id, fields)
    if resource is None:
        resource = uow.resources.add(installation_id, partner_id, fields)
    else:
        resource = uow.resources.change(resource, fields)
    if secrets is not None:
        apply_secrets(uow, resource, secrets.secrets, partial=False, provenance=IMPORT)
    return resource


def patch_resource(
    ctx: ServiceContext,
    installation_id: str,
    partner_id: str,
    fields: ResourceFields,
    secrets: SecretsUpdate | None,
    preconditions: Preconditions = NO_PRECONDITIONS,
) -> Resource:
    if secrets is not None:
        validate_secrets(secrets.secrets)
    with ctx.store.write() as uow:
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        preconditions.check(resource.secrets_version)
        fields = _with_product_id(uow, installation_id, fields)
        resource = uow.resources.change(resource, fields)
        if secrets is not None:
            apply_secrets(uow, resource, secrets.secrets, partial=secrets.partial, provenance=PATCH)
        uow.commit()
    return resource


def get_resource(ctx: ServiceContext, installation_id: str, partner_id: str) -> ResourceView:
    with ctx.store.read() as uow:
        view = views_of(uow, [find_live_resource(uow, installation_id, partner_id)])[0]
        latest = uow.rotations.latest(view.resource.internal_id)
    if latest is None:
        return view
    return replace(view, latest_rotation=latest.as_seen_at(ctx.clock.now_ms()))


def list_resources(ctx: ServiceContext, installation_id: str) -> list[ResourceView]:
    with ctx.store.read() as uow:
        return views_of(uow, uow.resources.list_live(installation_id))


def delete_resource(ctx: ServiceContext, installation_id: str, partner_id: str) -> None:
    """Delete the resource: its env vars leave every project; deployments keep theirs."""
    with ctx.store.write() as uow:
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        uow.resources.mark_deleted(resource)
        uow.events.emit(resource_deleted_event(resource))
        uow.commit()


def _with_product_id(
    uow: UnitOfWork, installation_id: str, fields: ResourceFields
) -> ResourceFields:
    """Resolve `fields.product_id` (an id or a slug) to the product's id, or 404."""
    if fields.product_id is None:
        return fields
    installation = uow.accounts.installation(installation_id)
    if installation is None:
        raise NotFound(f"integrationConfigurationId: no installation {installation_id!r}")
    product = uow.accounts.product_of_integration(installation.integration_id, fields.product_id)
    if product is None:
        raise NotFound(f"productId: no product {fields.product_id!r} in this integration")
    return replace(fields, product_id=product.id)


def views_of(uow: UnitOfWork, resources: list[Resource]) -> list[ResourceView]:
    """The resources with their secret names, read in one query for all of them."""
    names = uow.secrets.current_names_and_prefixes(r.internal_id for r in resources)
    return [
        ResourceView(
            resource=resource,
            secret_names=tuple(sorted(name for name, _ in names.get(resource.internal_id, []))),
        )
        for resource in resources
    ]
