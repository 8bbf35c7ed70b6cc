"""One function per route of the contract: the request it makes and how its answer is read.

`Client` and `AsyncClient` only send these, so both speak exactly the same API. A write gets its
`Idempotency-Key` here, once, so that every retry of it carries the same key.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from keyturn.client.errors import APIError
from keyturn.client.models import (
    ClientSecret,
    Connection,
    CreatedIntegration,
    CreatedWebhook,
    Credential,
    Delivery,
    Deployment,
    EnvVar,
    EventPage,
    Installation,
    Integration,
    ListedResource,
    Project,
    Redelivered,
    Resource,
    ResourceName,
    Revocation,
    RolledBack,
    Rotation,
    SecretsUsage,
    SecretsVersions,
    Team,
    UserToken,
    Webhook,
)
from keyturn.client.secret import SecretLike, secrets_to_wire

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One logical request; `read` turns its successful answer into the method's result."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    body: Any = None
    idempotency_key: str | None = field(default=None)

    def headers(self) -> dict[str, str]:
        return {"Idempotency-Key": self.idempotency_key} if self.idempotency_key else {}


def call(
    method: str,
    path: str,
    read: Callable[[httpx.Response], T],
    *,
    params: Mapping[str, str | None] | None = None,
    body: Any = None,
) -> Call[T]:
    kept = {k: v for k, v in (params or {}).items() if v is not None} or None
    key = uuid.uuid4().hex if method in WRITES else None
    return Call(method, path, read, params=kept, body=body, idempotency_key=key)


def segment(value: str) -> str:
    """A path segment: quoted whole, so an id cannot reach another route."""
    return quote(value, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise APIError(
            response.status_code, "bad_response", "the server's answer is not JSON"
        ) from None


def model(kind: type[M], key: str | None = None) -> Callable[[httpx.Response], M]:
    def read(response: httpx.Response) -> M:
        body = _json(response)
        return kind.model_validate(body[key] if key else body)

    return read


def models(kind: type[M], key: str | None) -> Callable[[httpx.Response], list[M]]:
    """A list of `kind` under `key`, or the whole body when `key` is None (Vercel's webhook
    list is a bare array)."""
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]  # kind is a class at runtime

    def read(response: httpx.Response) -> list[M]:
        body = _json(response)
        items: list[M] = adapter.validate_python(body if key is None else body[key])
        return items

    return read


def string_map(key: str) -> Callable[[httpx.Response], dict[str, str]]:
    def read(response: httpx.Response) -> dict[str, str]:
        found = _json(response)[key]
        return {str(name): str(value) for name, value in found.items()}

    return read


def nothing(_response: httpx.Response) -> None:
    return None


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _number(value: int | None) -> str | None:
    return None if value is None else str(value)


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


# Bootstrap (CONTRACT.md 1), admin token.


def create_team(slug: str, name: str | None) -> Call[Team]:
    return call("POST", "/v1/admin/teams", model(Team), body=_drop_none(slug=slug, name=name))


def create_user_token(team_id: str, name: str | None) -> Call[UserToken]:
    path = f"/v1/admin/teams/{segment(team_id)}/tokens"
    return call("POST", path, model(UserToken), body=_drop_none(name=name))


class Unset(enum.Enum):
    """A field left out of a PATCH (where `None` sends `null`, which clears it)."""

    UNSET = "unset"


UNSET = Unset.UNSET


def create_integration(
    slug: str, products: list[Mapping[str, str]], name: str | None, settings: dict[str, Any]
) -> Call[CreatedIntegration]:
    body = _drop_none(slug=slug, name=name, products=[dict(p) for p in products], **settings)
    return call("POST", "/v1/admin/integrations", model(CreatedIntegration), body=body)


def update_integration(id_or_slug: str, settings: dict[str, Any]) -> Call[Integration]:
    body = {key: value for key, value in settings.items() if value is not UNSET}
    path = f"/v1/admin/integrations/{segment(id_or_slug)}"
    return call("PATCH", path, model(Integration), body=body)


def new_client_secret(id_or_slug: str) -> Call[ClientSecret]:
    path = f"/v1/admin/integrations/{segment(id_or_slug)}/secret"
    return call("POST", path, model(ClientSecret))


def create_installation(team_id: str, integration: str) -> Call[Installation]:
    body = {"teamId": team_id, "integration": integration}
    return call("POST", "/v1/admin/installations", model(Installation), body=body)


# Marketplace API (2), integration token.


def resource_fields(
    product_id: str | None,
    name: str | None,
    status: str | None,
    ownership: str | None,
    metadata: dict[str, Any] | None,
    billing_plan: dict[str, Any] | None,
    notification: dict[str, Any] | None,
    extras: dict[str, Any] | None,
) -> dict[str, Any]:
    fields = {
        "productId": product_id,
        "name": name,
        "status": status,
        "ownership": ownership,
        "metadata": metadata,
        "billingPlan": billing_plan,
        "notification": notification,
        "extras": extras,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _resource(installation_id: str, resource_id: str) -> str:
    return f"/v1/installations/{segment(installation_id)}/resources/{segment(resource_id)}"


def update_resource_secrets(
    installation_id: str, resource_id: str, secrets: list[SecretLike], partial: bool
) -> Call[None]:
    body: dict[str, Any] = {"secrets": secrets_to_wire(secrets)}
    if partial:
        body["partial"] = True
    return call("PUT", _resource(installation_id, resource_id) + "/secrets", nothing, body=body)


def import_resource(
    installation_id: str,
    resource_id: str,
    fields: dict[str, Any],
    secrets: list[SecretLike] | None,
) -> Call[ResourceName]:
    body = dict(fields)
    if secrets is not None:
        body["secrets"] = secrets_to_wire(secrets)
    return call("PUT", _resource(installation_id, resource_id), model(ResourceName), body=body)


def patch_resource(
    installation_id: str,
    resource_id: str,
    fields: dict[str, Any],
    secrets: list[SecretLike] | None,
    partial: bool,
) -> Call[ResourceName]:
    body = dict(fields)
    if secrets is not None:
        wire = secrets_to_wire(secrets)
        body["secrets"] = {"secrets": wire, "partial": True} if partial else wire
    return call("PATCH", _resource(installation_id, resource_id), model(ResourceName), body=body)


def get_resource(installation_id: str, resource_id: str) -> Call[Resource]:
    return call("GET", _resource(installation_id, resource_id), model(Resource))


def list_resources(installation_id: str) -> Call[list[ListedResource]]:
    path = f"/v1/installations/{segment(installation_id)}/resources"
    return call("GET", path, models(ListedResource, "resources"))


def delete_resource(installation_id: str, resource_id: str) -> Call[None]:
    return call("DELETE", _resource(installation_id, resource_id), nothing)


# Projects, connections, env vars, deployments (3), user token.


def create_project(name: str) -> Call[Project]:
    return call("POST", "/v11/projects", model(Project), body={"name": name})


def get_project(id_or_name: str) -> Call[Project]:
    return call("GET", f"/v9/projects/{segment(id_or_name)}", model(Project))


def list_projects() -> Call[list[Project]]:
    return call("GET", "/v9/projects", models(Project, "projects"))


def delete_project(id_or_name: str) -> Call[None]:
    return call("DELETE", f"/v9/projects/{segment(id_or_name)}", nothing)


def _connections(installation_id: str, resource_id: str) -> str:
    return (
        f"/v1/integrations/installations/{segment(installation_id)}"
        f"/resources/{segment(resource_id)}/connections"
    )


def connect(
    installation_id: str,
    resource_id: str,
    project_id: str,
    environments: list[str] | None,
    sensitive: bool | None,
    prefix: str | None,
) -> Call[Connection]:
    body = _drop_none(
        projectId=project_id,
        envVarEnvironments=environments,
        makeEnvVarsSensitive=sensitive,
        envVarPrefix=prefix,
    )
    return call("POST", _connections(installation_id, resource_id), model(Connection), body=body)


def list_connections(installation_id: str, resource_id: str) -> Call[list[Connection]]:
    path = _connections(installation_id, resource_id)
    return call("GET", path, models(Connection, "connections"))


def disconnect(installation_id: str, resource_id: str, project_id: str) -> Call[None]:
    path = _connections(installation_id, resource_id) + f"/{segment(project_id)}"
    return call("DELETE", path, nothing)


def list_env(
    project: str, target: str | None, decrypt: bool, git_branch: str | None
) -> Call[list[EnvVar]]:
    params = {"target": target, "decrypt": _flag(decrypt), "gitBranch": git_branch}
    path = f"/v10/projects/{segment(project)}/env"
    return call("GET", path, models(EnvVar, "envs"), params=params)


def get_env(project: str, env_id: str) -> Call[EnvVar]:
    return call("GET", f"/v1/projects/{segment(project)}/env/{segment(env_id)}", model(EnvVar))


def pull_env(project_id: str, target: str, git_branch: str | None) -> Call[dict[str, str]]:
    path = f"/v3/env/pull/{segment(project_id)}/{segment(target)}"
    if git_branch is not None:
        # A branch name may hold `/`; the route takes the rest of the path as the branch.
        path += "/" + quote(git_branch, safe="/")
    return call("GET", path, string_map("env"))


def pull_deployment_env(deployment_id: str) -> Call[dict[str, str]]:
    return call("GET", f"/v3/env/pull/{segment(deployment_id)}", string_map("buildEnv"))


def create_deployment(
    name: str, project: str | None, target: str | None, git_branch: str | None
) -> Call[Deployment]:
    body = _drop_none(name=name, project=project, target=target, gitBranch=git_branch)
    return call("POST", "/v13/deployments", model(Deployment), body=body)


def redeploy(deployment_id: str, name: str | None, target: str | None) -> Call[Deployment]:
    body = _drop_none(deploymentId=deployment_id, name=name, target=target)
    return call("POST", "/v13/deployments", model(Deployment), body=body)


def get_deployment(deployment_id: str) -> Call[Deployment]:
    return call("GET", f"/v13/deployments/{segment(deployment_id)}", model(Deployment))


def list_deployments(project_id: str | None, target: str | None) -> Call[list[Deployment]]:
    params = {"projectId": project_id, "target": target}
    return call("GET", "/v6/deployments", models(Deployment, "deployments"), params=params)


def delete_deployment(deployment_id: str) -> Call[None]:
    return call("DELETE", f"/v13/deployments/{segment(deployment_id)}", nothing)


# Rotation lifecycle (5): the partner path with an integration token, the owner path with a
# user token of the installation's team.


def _lifecycle(installation_id: str, resource_id: str, owner: bool) -> str:
    path = _resource(installation_id, resource_id) + "/secrets"
    return "/v1/integrations" + path.removeprefix("/v1") if owner else path


def secrets_versions(
    installation_id: str, resource_id: str, limit: int | None, until: int | None, owner: bool
) -> Call[SecretsVersions]:
    params = {"limit": _number(limit), "until": _number(until)}
    path = _lifecycle(installation_id, resource_id, owner) + "/versions"
    return call("GET", path, model(SecretsVersions), params=params)


def secrets_usage(
    installation_id: str, resource_id: str, state: str | None, owner: bool
) -> Call[SecretsUsage]:
    path = _lifecycle(installation_id, resource_id, owner) + "/usage"
    return call("GET", path, model(SecretsUsage), params={"state": state})


def redeploy_stale(installation_id: str, resource_id: str) -> Call[list[Deployment]]:
    path = _lifecycle(installation_id, resource_id, owner=True) + "/redeploy-stale"
    return call("POST", path, models(Deployment, "deployments"))


def request_rotation(
    installation_id: str, resource_id: str, reason: str | None, delay_hours: float | None
) -> Call[Rotation]:
    body = _drop_none(reason=reason, delayOldSecretsExpirationHours=delay_hours)
    path = _lifecycle(installation_id, resource_id, owner=True) + "/rotate"
    return call("POST", path, model(Rotation, "rotation"), body=body)


def list_rotations(installation_id: str, resource_id: str, owner: bool) -> Call[list[Rotation]]:
    path = _lifecycle(installation_id, resource_id, owner) + "/rotations"
    return call("GET", path, models(Rotation, "rotations"))


def rollback(installation_id: str, resource_id: str, version: int) -> Call[RolledBack]:
    path = _lifecycle(installation_id, resource_id, owner=False) + "/rollback"
    return call("POST", path, model(RolledBack), body={"version": version})


# Events and webhooks (6): the caller's events; team webhooks with a user token.


def create_webhook(
    url: str, events: list[str], project_ids: list[str] | None
) -> Call[CreatedWebhook]:
    body = _drop_none(url=url, events=events, projectIds=project_ids)
    return call("POST", "/v1/webhooks", model(CreatedWebhook), body=body)


def list_webhooks() -> Call[list[Webhook]]:
    return call("GET", "/v1/webhooks", models(Webhook, None))


def get_webhook(webhook_id: str) -> Call[Webhook]:
    return call("GET", f"/v1/webhooks/{segment(webhook_id)}", model(Webhook))


def delete_webhook(webhook_id: str) -> Call[None]:
    return call("DELETE", f"/v1/webhooks/{segment(webhook_id)}", nothing)


def list_events(after: str | None, limit: int | None, event_type: str | None) -> Call[EventPage]:
    params = {"after": after, "limit": _number(limit), "type": event_type}
    return call("GET", "/v1/events", model(EventPage), params=params)


def event_deliveries(event_id: str) -> Call[list[Delivery]]:
    path = f"/v1/events/{segment(event_id)}/deliveries"
    return call("GET", path, models(Delivery, "deliveries"))


def redeliver(event_id: str) -> Call[Redelivered]:
    return call("POST", f"/v1/events/{segment(event_id)}/redeliver", model(Redelivered))


# Installation credentials (8), with a live token of the installation. Vercel's bodies here are
# snake_case (`client_secret`), unlike the rest of the API.


def _credentials(installation_id: str) -> str:
    return f"/v1/installations/{segment(installation_id)}/credentials"


def rotate_credentials(
    installation_id: str, client_secret: str, client_id: str | None
) -> Call[Credential]:
    body = _drop_none(client_secret=client_secret, client_id=client_id)
    return call("POST", _credentials(installation_id) + "/rotate", model(Credential), body=body)


def revoke_credential(
    installation_id: str, token: str, client_secret: str, client_id: str | None
) -> Call[Revocation]:
    body = _drop_none(token=token, client_secret=client_secret, client_id=client_id)
    return call("POST", _credentials(installation_id) + "/revoke", model(Revocation), body=body)
