"""Jinja2 templates of the dashboard, autoescaped, with the filters the pages share.

`StrictUndefined` makes a misspelt variable an error in the tests rather than an empty cell
on a page. The environment (and Jinja2 itself) is made on the first page rendered: an API
server or an emulator that never serves a page never pays for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment


def _utc(ms: int | None) -> str:
    """Milliseconds since the epoch as a UTC minute ("2026-12-01 22:30 UTC")."""
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(ms: int) -> str:
    """The same moment for `<time datetime=...>`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def versions_label(from_version: int, to_version: int | None) -> str:
    """A value's stretch of versions: "v3 to now", "v2", "v1 to v4"."""
    if to_version is None:
        return f"v{from_version} to now"
    if to_version == from_version:
        return f"v{from_version}"
    return f"v{from_version} to v{to_version}"


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("keyturn.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = _utc
    environment.filters["iso"] = _iso
    environment.globals["versions_label"] = versions_label
    return environment


def render(template: str, **values: Any) -> str:
    return _environment().get_template(template).render(**values)
