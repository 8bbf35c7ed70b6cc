"""A partner, a team's projects and helpers to read the ledger on both paths."""

from __future__ import annotations

from typing import Any

import pytest

from keyturn.domain.clock import SettableClock
from tests.conftest import Partner, Workspace


class Ledger:
    """The lifecycle routes of one resource, on the partner path and on the owner path."""

    def __init__(
        self,
        partner: Partner,
        workspace: Workspace,
        clock: SettableClock,
        resource_id: str = "db1",
    ) -> None:
        self.partner = partner
        self.clock = clock
        self.workspace = workspace
        self.client = partner.client
        self.resource_id = resource_id

    def partner_path(self, resource_id: str | None = None) -> str:
        return self.partner.resource_path(resource_id or self.resource_id)

    def owner_path(self, resource_id: str | None = None) -> str:
        return (
            f"/v1/integrations/installations/{self.partner.installation_id}"
            f"/resources/{resource_id or self.resource_id}"
        )

    def get(self, suffix: str, *, owner: bool = False, **params: str) -> Any:
        path = self.owner_path() if owner else self.partner_path()
        headers = self.workspace.headers if owner else self.partner.auth()
        return self.client.get(path + suffix, params=params, headers=headers)

    def versions(self, *, owner: bool = False, **params: str) -> dict[str, Any]:
        response = self.get("/secrets/versions", owner=owner, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def usage(self, *, owner: bool = False, **params: str) -> dict[str, Any]:
        response = self.get("/secrets/usage", owner=owner, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        # Both paths answer the same body (CONTRACT.md v2 intro).
        other = self.get("/secrets/usage", owner=not owner, **params)
        assert other.json() == body
        return body

    def values(self, **params: str) -> dict[tuple[str, int], dict[str, Any]]:
        """The usage values by (name, fromVersion)."""
        return {(v["name"], v["fromVersion"]): v for v in self.usage(**params)["values"]}

    def redeploy_stale(self) -> Any:
        return self.client.post(
            self.owner_path() + "/secrets/redeploy-stale", headers=self.workspace.headers
        )

    def deploy(self, body: dict[str, object]) -> dict[str, Any]:
        """Deploy one second after whatever happened before: a later deployment is newer."""
        self.clock.advance(1000)
        return self.workspace.deploy(body)

    def put(self, secrets: dict[str, str], *, partial: bool = False) -> None:
        self.clock.advance(1000)
        status, body = self.partner.put_secrets(
            {
                "secrets": [{"name": name, "value": value} for name, value in secrets.items()],
                "partial": partial,
            },
            self.resource_id,
        )
        assert status == 201, body

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/v13/deployments/{deployment_id}", headers=self.workspace.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def ledger(partner: Partner, workspace: Workspace, clock: SettableClock) -> Ledger:
    partner.import_resource("db1")
    return Ledger(partner, workspace, clock)
