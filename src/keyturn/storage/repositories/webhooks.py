"""Team webhooks (CONTRACT.md 6.3), each secret sealed to its hook's row.

The secret is sealed, not hashed: the delivery worker signs every delivery with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.domain.webhooks import Webhook
from keyturn.storage.encryption import KeyRing
from keyturn.storage.tables import deliveries, webhooks


def webhook_secret_identity(webhook_id: str) -> str:
    """The associated data of a hook's sealed secret: it opens in this row only."""
    return f"webhook/{webhook_id}/secret"


class WebhookRepository:
    def __init__(
        self, connection: Connection, keys: KeyRing, *, clock: Clock, ids: IdSource
    ) -> None:
        self._connection = connection
        self._keys = keys
        self._clock = clock
        self._ids = ids

    def add(
        self, team_id: str, url: str, events: Sequence[str], project_ids: Sequence[str] | None
    ) -> tuple[Webhook, str]:
        """A new hook and its secret (returned once, kept sealed)."""
        now = self._clock.now_ms()
        hook = Webhook(
            id=self._ids.new("hook"),
            team_id=team_id,
            url=url,
            events=tuple(events),
            project_ids=None if project_ids is None else tuple(project_ids),
            created_at=now,
            updated_at=now,
        )
        # 40 base62 characters: about 238 bits, like keyturn's tokens.
        secret = self._ids.base62(40)
        self._connection.execute(
            insert(webhooks).values(
                id=hook.id,
                team_id=team_id,
                url=url,
                events=list(hook.events),
                project_ids=None if hook.project_ids is None else list(hook.project_ids),
                secret_ciphertext=self._keys.seal(
                    secret, associated_data=webhook_secret_identity(hook.id)
                ),
                created_at=now,
                updated_at=now,
            )
        )
        return hook, secret

    def of_team(self, team_id: str) -> list[Webhook]:
        rows = self._connection.execute(
            select(webhooks)
            .where(webhooks.c.team_id == team_id)
            .order_by(webhooks.c.created_at, webhooks.c.id)
        ).all()
        return [_webhook(row) for row in rows]

    def get(self, webhook_id: str) -> Webhook | None:
        row = self._connection.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return _webhook(row) if row else None

    def delete(self, hook: Webhook) -> None:
        """Remove the hook; what it had still to receive fails, saying why."""
        self._connection.execute(
            update(deliveries)
            .where(
                deliveries.c.destination_kind == "webhook",
                deliveries.c.destination_id == hook.id,
                deliveries.c.status == "pending",
            )
            .values(status="failed", next_attempt_at=None, last_error="the webhook was removed")
        )
        self._connection.execute(delete(webhooks).where(webhooks.c.id == hook.id))

    def secrets(self, webhook_ids: Iterable[str]) -> dict[str, str]:
        """The signing secrets of the hooks that still exist, by id."""
        wanted = sorted(set(webhook_ids))
        if not wanted:
            return {}
        rows = self._connection.execute(
            select(webhooks.c.id, webhooks.c.secret_ciphertext).where(webhooks.c.id.in_(wanted))
        ).all()
        return {
            row.id: self._keys.open(
                row.secret_ciphertext, associated_data=webhook_secret_identity(row.id)
            )
            for row in rows
        }


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        team_id=row.team_id,
        url=row.url,
        events=tuple(row.events),
        project_ids=None if row.project_ids is None else tuple(row.project_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
