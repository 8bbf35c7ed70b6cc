"""The three `in_<environment>` columns that connections, user variables and deployments'
references share: one boolean per environment, so queries can test an overlap in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, or_

from keyturn.domain.envkeys import ENVIRONMENTS


def environment_columns(environments: Sequence[str]) -> dict[str, bool]:
    return {f"in_{environment}": environment in environments for environment in ENVIRONMENTS}


def environments_of(row: Any) -> tuple[str, ...]:
    """The environments a row's columns name, in the standard order."""
    return tuple(e for e in ENVIRONMENTS if getattr(row, f"in_{e}"))


def share_an_environment(first: FromClause, second: FromClause) -> ColumnElement[bool]:
    """SQL: the two rows are both in at least one environment."""
    return or_(
        *(
            first.c[f"in_{environment}"] & second.c[f"in_{environment}"]
            for environment in ENVIRONMENTS
        )
    )
