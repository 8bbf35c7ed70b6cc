"""Jinja2 templates of the dashboard, autoescaped, with the filters the pages share.

`StrictUndefined` makes a misspelt variable an error in the tests rather than an empty cell
on a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


def _utc(ms: int | None) -> str:
    """Milliseconds since the epoch as a UTC minute ("2026-12-01 22:30 UTC")."""
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(ms: int) -> str:
    """The same moment for `<time datetime=...>`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("keyturn.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = _utc
    environment.filters["iso"] = _iso
    return environment


TEMPLATES = _environment()


def render(template: str, **values: Any) -> str:
    return TEMPLATES.get_template(template).render(**values)
