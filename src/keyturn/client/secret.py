"""`Secret`: one secret of a resource as the partner pushes it, whose repr never shows a value.

Vercel's body keys (`name`, `value`, `prefix`, `environmentOverrides`) are accepted as plain
mappings too; both become the same wire item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Environment = str  # "production" | "preview" | "development"


@dataclass(frozen=True)
class Secret:
    """A secret to push: its value applies to every environment unless overridden for one."""

    name: str
    value: str = field(repr=False)
    prefix: str | None = None
    environment_overrides: Mapping[Environment, str] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        overrides = sorted(self.environment_overrides or {})
        return (
            f"Secret(name={self.name!r}, value='**********', prefix={self.prefix!r}, "
            f"environment_overrides={overrides!r})"
        )

    def to_wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.prefix is not None:
            item["prefix"] = self.prefix
        if self.environment_overrides is not None:
            item["environmentOverrides"] = dict(self.environment_overrides)
        return item


SecretLike = Secret | Mapping[str, Any]


def secrets_to_wire(secrets: list[SecretLike] | tuple[SecretLike, ...]) -> list[dict[str, Any]]:
    """The `secrets` array of a request body; a mapping is sent as given (the server checks it)."""
    return [s.to_wire() if isinstance(s, Secret) else dict(s) for s in secrets]
