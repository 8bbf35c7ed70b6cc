"""The usage ledger's arithmetic (CONTRACT.md 5.1, 5.2): history and who runs which value.

Storage hands over names and numbers only, never a value: the stored rows of a resource's
secrets (each row is one *value*: a stretch of versions during which a name kept its value,
overrides and prefix, `valid_to` exclusive), and per secrets version how many live deployments
recorded it, how many of those still serve, and the creation times of its newest and oldest.
From those this module computes each version's added, changed and removed names, and each
value's counts, without a loop over deployments: the work grows with versions and values.

The newest deployment ids of a value (up to `MAX_DEPLOYMENT_IDS`) come from its versions'
newest ones. `ids_wanted` says how many newest ids of each version can matter, using the
versions' time ranges: a version whose newest deployment is older than at least 100 others of
the value's versions contributes nothing. Deployments pick the version current when they are
made, so versions' time ranges rarely overlap, and each value reads about 100 ids.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Final, Literal, get_args

from keyturn.domain.errors import BadRequest, FieldError

MAX_DEPLOYMENT_IDS: Final = 100
DEFAULT_VERSIONS_PAGE: Final = 20
MAX_VERSIONS_PAGE: Final = 100

UsageState = Literal["current", "in-use", "revocable"]
USAGE_STATES: Final[dict[str, UsageState]] = {state: state for state in get_args(UsageState)}


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One secrets version as stored: when, and what made it (5.1 `source`)."""

    version: int
    created_at: int
    source: str
    rotation_id: str | None


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A version with the names it added, changed and removed (each sorted)."""

    record: VersionRecord
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ValueSpan:
    """One stored value of a name: versions `from_version` to `to_version` (inclusive; None
    while current), when the version that ended it was made, and how long after that the
    partner said it would revoke it (a completed rotation's delay)."""

    name: str
    from_version: int
    to_version: int | None
    superseded_at: int | None
    expire_after_ms: int | None

    @property
    def current(self) -> bool:
        return self.to_version is None

    @property
    def expires_at(self) -> int | None:
        if self.superseded_at is None or self.expire_after_ms is None:
            return None
        return self.superseded_at + self.expire_after_ms

    def covers(self, version: int) -> bool:
        return self.from_version <= version and (
            self.to_version is None or version <= self.to_version
        )


@dataclass(frozen=True, slots=True)
class VersionUsage:
    """The live deployments that recorded one version: how many, how many still serve, and
    the creation times of the newest and the oldest of them."""

    version: int
    live: int
    serving: int
    newest_at: int
    oldest_at: int


@dataclass(frozen=True, slots=True)
class ValueUsage:
    span: ValueSpan
    live_deployments: int
    serving_deployments: int
    deployment_ids: tuple[str, ...]

    @property
    def safe_to_revoke(self) -> bool:
        return not self.span.current and self.live_deployments == 0

    def in_state(self, state: UsageState | None) -> bool:
        if state == "current":
            return self.span.current
        if state == "in-use":
            return not self.span.current and self.live_deployments > 0
        if state == "revocable":
            return self.safe_to_revoke
        return True


def version_changes(
    records: Sequence[VersionRecord], rows: Iterable[tuple[str, int, int | None]]
) -> list[VersionChange]:
    """Each version of `records` with its names, from the rows (name, valid_from, valid_to)
    that start or end at one of them: a name whose row ends where another starts changed."""
    starts: dict[int, set[str]] = {}
    ends: dict[int, set[str]] = {}
    for name, valid_from, valid_to in rows:
        starts.setdefault(valid_from, set()).add(name)
        if valid_to is not None:
            ends.setdefault(valid_to, set()).add(name)
    changes = []
    for record in records:
        started = starts.get(record.version, set())
        ended = ends.get(record.version, set())
        changes.append(
            VersionChange(
                record=record,
                added=tuple(sorted(started - ended)),
                changed=tuple(sorted(started & ended)),
                removed=tuple(sorted(ended - started)),
            )
        )
    return changes


def _versions_of(span: ValueSpan, newest_first: Sequence[VersionUsage]) -> list[VersionUsage]:
    return [usage for usage in newest_first if span.covers(usage.version)]


def _newest_first(usage: Iterable[VersionUsage]) -> list[VersionUsage]:
    return sorted(usage, key=lambda used: used.newest_at, reverse=True)


def _plan(versions: Sequence[VersionUsage], limit: int) -> list[tuple[int, int]]:
    """(version, how many of its newest ids can be among the `limit` newest of `versions`).

    `versions` come newest deployment first. A version's ids can only be pushed out by
    deployments certainly newer than its newest: those of versions whose oldest is newer.
    Once those are `limit`, every later version (its newest older still) has nothing to add.
    """
    plan: list[tuple[int, int]] = []
    seen: list[VersionUsage] = []
    for usage in versions:
        newer = sum(other.live for other in seen if other.oldest_at > usage.newest_at)
        if newer >= limit:
            break
        plan.append((usage.version, min(usage.live, limit - newer)))
        seen.append(usage)
    return plan


def ids_wanted(
    spans: Iterable[ValueSpan], usage: Iterable[VersionUsage], limit: int = MAX_DEPLOYMENT_IDS
) -> dict[int, int]:
    """{version: how many of its newest deployment ids to read} for every span's ids."""
    newest_first = _newest_first(usage)
    wanted: dict[int, int] = {}
    for span in spans:
        for version, count in _plan(_versions_of(span, newest_first), limit):
            wanted[version] = max(wanted.get(version, 0), count)
    return wanted


def value_usage(
    spans: Iterable[ValueSpan],
    usage: Iterable[VersionUsage],
    newest_ids: Mapping[int, Sequence[tuple[int, str]]],
    limit: int = MAX_DEPLOYMENT_IDS,
) -> list[ValueUsage]:
    """Each span's counts and newest ids, from the per-version usage and the ids read as
    `ids_wanted` asked: `newest_ids[v]` is [(created_at, id)], newest first."""
    newest_first = _newest_first(usage)
    found = []
    for span in spans:
        versions = _versions_of(span, newest_first)
        candidates = chain.from_iterable(
            newest_ids.get(version, ())[:count] for version, count in _plan(versions, limit)
        )
        found.append(
            ValueUsage(
                span=span,
                live_deployments=sum(used.live for used in versions),
                serving_deployments=sum(used.serving for used in versions),
                deployment_ids=tuple(
                    deployment_id for _, deployment_id in heapq.nlargest(limit, candidates)
                ),
            )
        )
    return found


def usage_state(raw: str | None) -> UsageState | None:
    """The `state` query parameter; 400 naming it when it is not one of the three."""
    if raw is None:
        return None
    state = USAGE_STATES.get(raw)
    if state is not None:
        return state
    message = f"must be one of {', '.join(USAGE_STATES)}"
    raise BadRequest(f"state: {message}", (FieldError("state", message),))


@dataclass(frozen=True, slots=True)
class VersionsPage:
    limit: int
    until: int | None


def versions_page(limit: str | None, until: str | None) -> VersionsPage:
    """The `limit` and `until` query parameters; 400 naming the one that is wrong."""
    return VersionsPage(
        limit=DEFAULT_VERSIONS_PAGE
        if limit is None
        else _whole_number("limit", limit, 1, MAX_VERSIONS_PAGE),
        until=None if until is None else _whole_number("until", until, 1, None),
    )


def _whole_number(name: str, raw: str, low: int, high: int | None) -> int:
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    message = f"must be a whole number {bounds}"
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        number = int(raw)
        if number >= low and (high is None or number <= high):
            return number
    raise BadRequest(f"{name}: {message}", (FieldError(name, message),))
