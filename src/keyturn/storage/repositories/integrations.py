"""An integration's partner settings (CONTRACT.md 1): its URLs, its events and its client secret.

The client secret is sealed with the master key, not hashed like tokens: keyturn has to read it
back to sign the integration's webhooks (6.2). Its associated data names the integration, so a
ciphertext copied onto another integration does not open there.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from keyturn.storage.encryption import KeyRing
from keyturn.storage.tables import integrations


def client_secret_identity(integration_id: str) -> str:
    """The associated data of an integration's sealed client secret."""
    return f"integration:{integration_id}:client_secret"


class IntegrationRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def set_partner_settings(
        self,
        integration_id: str,
        *,
        base_url: str | None,
        webhook_url: str | None,
        events: tuple[str, ...],
    ) -> None:
        self._connection.execute(
            update(integrations)
            .where(integrations.c.id == integration_id)
            .values(base_url=base_url, webhook_url=webhook_url, events=list(events))
        )

    def set_client_secret(self, integration_id: str, client_secret: str) -> None:
        """Replace the integration's client secret: the old one stops signing at once."""
        sealed = self._keys.seal(
            client_secret, associated_data=client_secret_identity(integration_id)
        )
        self._connection.execute(
            update(integrations)
            .where(integrations.c.id == integration_id)
            .values(client_secret_ciphertext=sealed)
        )

    def client_secret(self, integration_id: str) -> str | None:
        """The integration's client secret in plaintext (to sign with); None if it has none."""
        sealed = self._connection.execute(
            select(integrations.c.client_secret_ciphertext).where(
                integrations.c.id == integration_id
            )
        ).scalar_one_or_none()
        if sealed is None:
            return None
        return self._keys.open(sealed, associated_data=client_secret_identity(integration_id))
