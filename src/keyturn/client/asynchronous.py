"""`AsyncClient`: `Client`'s twin for asyncio: the same arguments, methods and retries.

Every method sends one call of `keyturn.client.endpoints`; 429s, 5xx and requests that got no
answer are retried as `RetryPolicy` says, each write with the same `Idempotency-Key` every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from keyturn.client import endpoints
from keyturn.client.endpoints import UNSET, Call, Unset
from keyturn.client.errors import ConnectionFailed
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
from keyturn.client.retry import RetryPolicy
from keyturn.client.secret import SecretLike
from keyturn.client.sending import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    api_error,
    base_url,
    default_headers,
)

T = TypeVar("T")


class AsyncClient:
    """A keyturn API client; use it as an async context manager, or await `close()`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after: float = RetryPolicy.max_retry_after_s,
    ) -> None:
        self.retry = RetryPolicy(max_retries=max_retries, max_retry_after_s=max_retry_after)
        self._http = httpx.AsyncClient(
            base_url=base_url(url), headers=default_headers(token), timeout=timeout
        )

    def __repr__(self) -> str:
        return f"AsyncClient({str(self._http.base_url)!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.body,
                    headers=call.headers(),
                )
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_retries:
                    raise ConnectionFailed(
                        f"{call.method} {call.path}: no answer from {self._http.base_url} "
                        f"({exc.__class__.__name__})"
                    ) from None
                attempt += 1
                await asyncio.sleep(self.retry.delay_s(attempt, None))
                continue
            if response.is_success:
                return call.read(response)
            if attempt >= self.retry.max_retries or not self.retry.retries(response):
                raise api_error(response)
            attempt += 1
            await asyncio.sleep(self.retry.delay_s(attempt, response))

    # Bootstrap (admin token).

    async def create_team(self, slug: str, *, name: str | None = None) -> Team:
        return await self._send(endpoints.create_team(slug, name))

    async def create_user_token(self, team_id: str, *, name: str | None = None) -> UserToken:
        return await self._send(endpoints.create_user_token(team_id, name))

    async def create_integration(
        self,
        slug: str,
        products: list[Mapping[str, str]],
        *,
        name: str | None = None,
        base_url: str | None = None,
        webhook_url: str | None = None,
        events: list[str] | None = None,
    ) -> CreatedIntegration:
        settings = {"baseUrl": base_url, "webhookUrl": webhook_url, "events": events}
        return await self._send(endpoints.create_integration(slug, products, name, settings))

    async def update_integration(
        self,
        id_or_slug: str,
        *,
        base_url: str | Unset | None = UNSET,
        webhook_url: str | Unset | None = UNSET,
        events: list[str] | Unset | None = UNSET,
    ) -> Integration:
        """Set the partner settings given; `None` clears one, and one not given stays."""
        settings = {"baseUrl": base_url, "webhookUrl": webhook_url, "events": events}
        return await self._send(endpoints.update_integration(id_or_slug, settings))

    async def new_client_secret(self, id_or_slug: str) -> ClientSecret:
        return await self._send(endpoints.new_client_secret(id_or_slug))

    async def create_installation(self, team_id: str, integration: str) -> Installation:
        return await self._send(endpoints.create_installation(team_id, integration))

    # Marketplace API (integration token).

    async def update_resource_secrets(
        self,
        installation_id: str,
        resource_id: str,
        secrets: list[SecretLike],
        partial: bool = False,
    ) -> None:
        call = endpoints.update_resource_secrets(installation_id, resource_id, secrets, partial)
        return await self._send(call)

    async def import_resource(
        self,
        installation_id: str,
        resource_id: str,
        *,
        product_id: str,
        name: str,
        status: str,
        ownership: str | None = None,
        metadata: dict[str, Any] | None = None,
        billing_plan: dict[str, Any] | None = None,
        notification: dict[str, Any] | None = None,
        extras: dict[str, Any] | None = None,
        secrets: list[SecretLike] | None = None,
    ) -> ResourceName:
        fields = endpoints.resource_fields(
            product_id, name, status, ownership, metadata, billing_plan, notification, extras
        )
        call = endpoints.import_resource(installation_id, resource_id, fields, secrets)
        return await self._send(call)

    async def patch_resource(
        self,
        installation_id: str,
        resource_id: str,
        *,
        product_id: str | None = None,
        name: str | None = None,
        status: str | None = None,
        ownership: str | None = None,
        metadata: dict[str, Any] | None = None,
        billing_plan: dict[str, Any] | None = None,
        notification: dict[str, Any] | None = None,
        extras: dict[str, Any] | None = None,
        secrets: list[SecretLike] | None = None,
        partial: bool = False,
    ) -> ResourceName:
        fields = endpoints.resource_fields(
            product_id, name, status, ownership, metadata, billing_plan, notification, extras
        )
        call = endpoints.patch_resource(installation_id, resource_id, fields, secrets, partial)
        return await self._send(call)

    async def get_resource(self, installation_id: str, resource_id: str) -> Resource:
        return await self._send(endpoints.get_resource(installation_id, resource_id))

    async def list_resources(self, installation_id: str) -> list[ListedResource]:
        return await self._send(endpoints.list_resources(installation_id))

    async def delete_resource(self, installation_id: str, resource_id: str) -> None:
        return await self._send(endpoints.delete_resource(installation_id, resource_id))

    # Installation credentials: the client's own token must be a live one of the installation.

    async def rotate_credentials(
        self, installation_id: str, client_secret: str, *, client_id: str | None = None
    ) -> Credential:
        """A new access token for the installation; the one in use stays valid."""
        call = endpoints.rotate_credentials(installation_id, client_secret, client_id)
        return await self._send(call)

    async def revoke_credential(
        self,
        installation_id: str,
        token: str,
        client_secret: str,
        *,
        client_id: str | None = None,
    ) -> Revocation:
        """Stop `token` (one of the installation's) at once; never its last live one (409)."""
        call = endpoints.revoke_credential(installation_id, token, client_secret, client_id)
        return await self._send(call)

    # Rotation lifecycle: `owner=True` takes the owner path, for a user token of the team.

    async def secrets_versions(
        self,
        installation_id: str,
        resource_id: str,
        *,
        limit: int | None = None,
        until: int | None = None,
        owner: bool = False,
    ) -> SecretsVersions:
        call = endpoints.secrets_versions(installation_id, resource_id, limit, until, owner)
        return await self._send(call)

    async def secrets_usage(
        self,
        installation_id: str,
        resource_id: str,
        *,
        state: str | None = None,
        owner: bool = False,
    ) -> SecretsUsage:
        call = endpoints.secrets_usage(installation_id, resource_id, state, owner)
        return await self._send(call)

    async def request_rotation(
        self,
        installation_id: str,
        resource_id: str,
        *,
        reason: str | None = None,
        delay_old_secrets_expiration_hours: float | None = None,
    ) -> Rotation:
        """Ask the partner to rotate (user token): `completed` when it answered with the new
        secrets, `pending` until its next update; a refusal raises `APIError` 502
        `partner_error` with the failed rotation in `details["rotation"]`."""
        call = endpoints.request_rotation(
            installation_id, resource_id, reason, delay_old_secrets_expiration_hours
        )
        return await self._send(call)

    async def list_rotations(
        self, installation_id: str, resource_id: str, *, owner: bool = False
    ) -> list[Rotation]:
        return await self._send(endpoints.list_rotations(installation_id, resource_id, owner))

    async def rollback(self, installation_id: str, resource_id: str, version: int) -> RolledBack:
        return await self._send(endpoints.rollback(installation_id, resource_id, version))

    async def redeploy_stale(self, installation_id: str, resource_id: str) -> list[Deployment]:
        return await self._send(endpoints.redeploy_stale(installation_id, resource_id))

    # Projects, connections, env vars, deployments (user token).

    async def create_project(self, name: str) -> Project:
        return await self._send(endpoints.create_project(name))

    async def get_project(self, id_or_name: str) -> Project:
        return await self._send(endpoints.get_project(id_or_name))

    async def list_projects(self) -> list[Project]:
        return await self._send(endpoints.list_projects())

    async def delete_project(self, id_or_name: str) -> None:
        return await self._send(endpoints.delete_project(id_or_name))

    async def connect(
        self,
        installation_id: str,
        resource_id: str,
        project_id: str,
        *,
        environments: list[str] | None = None,
        sensitive: bool | None = None,
        prefix: str | None = None,
    ) -> Connection:
        call = endpoints.connect(
            installation_id, resource_id, project_id, environments, sensitive, prefix
        )
        return await self._send(call)

    async def list_connections(self, installation_id: str, resource_id: str) -> list[Connection]:
        return await self._send(endpoints.list_connections(installation_id, resource_id))

    async def disconnect(self, installation_id: str, resource_id: str, project_id: str) -> None:
        return await self._send(endpoints.disconnect(installation_id, resource_id, project_id))

    async def list_env(
        self,
        project: str,
        *,
        target: str | None = None,
        decrypt: bool = False,
        git_branch: str | None = None,
    ) -> list[EnvVar]:
        return await self._send(endpoints.list_env(project, target, decrypt, git_branch))

    async def get_env(self, project: str, env_id: str) -> EnvVar:
        return await self._send(endpoints.get_env(project, env_id))

    async def pull_env(
        self, project_id: str, target: str, git_branch: str | None = None
    ) -> dict[str, str]:
        return await self._send(endpoints.pull_env(project_id, target, git_branch))

    async def pull_deployment_env(self, deployment_id: str) -> dict[str, str]:
        return await self._send(endpoints.pull_deployment_env(deployment_id))

    async def create_deployment(
        self,
        name: str,
        *,
        project: str | None = None,
        target: str | None = None,
        git_branch: str | None = None,
    ) -> Deployment:
        return await self._send(endpoints.create_deployment(name, project, target, git_branch))

    async def redeploy(
        self, deployment_id: str, *, name: str | None = None, target: str | None = None
    ) -> Deployment:
        return await self._send(endpoints.redeploy(deployment_id, name, target))

    async def get_deployment(self, deployment_id: str) -> Deployment:
        return await self._send(endpoints.get_deployment(deployment_id))

    async def list_deployments(
        self, *, project_id: str | None = None, target: str | None = None
    ) -> list[Deployment]:
        return await self._send(endpoints.list_deployments(project_id, target))

    async def delete_deployment(self, deployment_id: str) -> None:
        return await self._send(endpoints.delete_deployment(deployment_id))

    # Events (the caller's: a user token's team, an integration token's installation) and team
    # webhooks (user token).

    async def list_events(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        type: str | None = None,
    ) -> EventPage:
        """One page of the caller's events in order; pass the page's `next` as `after`."""
        return await self._send(endpoints.list_events(after, limit, type))

    async def event_deliveries(self, event_id: str) -> list[Delivery]:
        return await self._send(endpoints.event_deliveries(event_id))

    async def redeliver(self, event_id: str) -> Redelivered:
        """Queue every failed delivery of the event again."""
        return await self._send(endpoints.redeliver(event_id))

    async def create_webhook(
        self, url: str, events: list[str], *, project_ids: list[str] | None = None
    ) -> CreatedWebhook:
        return await self._send(endpoints.create_webhook(url, events, project_ids))

    async def list_webhooks(self) -> list[Webhook]:
        return await self._send(endpoints.list_webhooks())

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self._send(endpoints.get_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> None:
        return await self._send(endpoints.delete_webhook(webhook_id))
