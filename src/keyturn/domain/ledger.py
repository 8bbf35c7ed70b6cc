"""The usage ledger's arithmetic (CONTRACT.md 5.1, 5.2): history and who runs which value.

Storage hands over names and numbers only, never a value: the stored rows of a resource's
secrets (each row is one *value*: a stretch of versions during which a name kept its value,
overrides and prefix, `valid_to` exclusive), and per secrets version how many live deployments
recorded it, how many of those still serve, and bounds of the creation times of its newest and
oldest (exact until a deployment is deleted, which leaves them: a bound is all `ids_wanted`
needs).
From those this module computes each version's added, changed and removed names, and each
value's counts, without a loop over deployments: the work grows with versions and values.

The newest deployment ids of a value (up to `MAX_DEPLOYMENT_IDS`) come from its versions'
newest ones. `ids_wanted` says how many newest ids of each version can matter, using the
versions' time ranges: a version whose newest deployment is older than at least 100 others of
the value's versions contributes nothing. Deployments pick the version current when they are
made, so versions' time ranges rarely overlap, and each value reads about 100 ids.
"""

from __future__ import annotations

import bisect
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


@dataclass(frozen=True, slots=True)
class VersionUsage:
    """The live deployments that recorded one version: how many, how many still serve, and
    bounds of their creation times: `newest_at` is no older than the newest of them, and
    `oldest_at` no newer than the oldest."""

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
        return safe_to_revoke(current=self.span.current, live_deployments=self.live_deployments)


def safe_to_revoke(*, current: bool, live_deployments: int) -> bool:
    """5.2's `safeToRevoke`: superseded, and no live deployment uses it. The one definition:
    the usage answer and the `value-revocable` announcement both ask it, so they never disagree."""
    return not current and live_deployments == 0


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


@dataclass(frozen=True, slots=True)
class SpanUsage:
    """A value with the totals of the versions it covers and `plan`: (version, how many of its
    newest deployment ids can be among the value's newest `MAX_DEPLOYMENT_IDS`)."""

    span: ValueSpan
    live_deployments: int
    serving_deployments: int
    plan: tuple[tuple[int, int], ...]

    def in_state(self, state: UsageState | None) -> bool:
        if state == "current":
            return self.span.current
        if state == "in-use":
            return not self.span.current and self.live_deployments > 0
        if state == "revocable":
            return safe_to_revoke(current=self.span.current, live_deployments=self.live_deployments)
        return True


def _plan(newest_first: Sequence[VersionUsage], limit: int) -> tuple[tuple[int, int], ...]:
    """Which versions' newest ids can be among the `limit` newest of `newest_first` (versions
    by their newest deployment, newest first), and how many of each.

    A version's ids can only be pushed out by deployments certainly newer than its newest:
    those of versions whose oldest is newer (with bounds: whose lower bound is above its upper
    one, which is certain all the more). Once those number `limit`, every later version
    (its newest older still) has nothing to add. Until the versions seen hold `limit`
    deployments, none can be pushed out, so the exact count is only needed after that.
    """
    plan: list[tuple[int, int]] = []
    seen: list[VersionUsage] = []
    seen_live = 0
    for usage in newest_first:
        newer = 0
        if seen_live >= limit:
            newer = sum(other.live for other in seen if other.oldest_at > usage.newest_at)
            if newer >= limit:
                break
        plan.append((usage.version, min(usage.live, limit - newer)))
        seen.append(usage)
        seen_live += usage.live
    return tuple(plan)


def span_usage(
    spans: Iterable[ValueSpan], usage: Iterable[VersionUsage], limit: int = MAX_DEPLOYMENT_IDS
) -> list[SpanUsage]:
    """Each value with the totals and the id plan of the versions it covers (a slice)."""
    by_version = sorted(usage, key=lambda used: used.version)
    numbers = [used.version for used in by_version]
    found = []
    for span in spans:
        start = bisect.bisect_left(numbers, span.from_version)
        end = (
            len(numbers)
            if span.to_version is None
            else bisect.bisect_right(numbers, span.to_version)
        )
        covered = by_version[start:end]
        newest_first = sorted(covered, key=lambda used: used.newest_at, reverse=True)
        found.append(
            SpanUsage(
                span=span,
                live_deployments=sum(used.live for used in covered),
                serving_deployments=sum(used.serving for used in covered),
                plan=_plan(newest_first, limit),
            )
        )
    return found


def ids_wanted(spans: Iterable[SpanUsage]) -> dict[int, int]:
    """{version: how many of its newest deployment ids to read} for every value's ids."""
    wanted: dict[int, int] = {}
    for counted in spans:
        for version, count in counted.plan:
            wanted[version] = max(wanted.get(version, 0), count)
    return wanted


def value_usage(
    spans: Iterable[SpanUsage],
    newest_ids: Mapping[int, Sequence[tuple[int, str]]],
    limit: int = MAX_DEPLOYMENT_IDS,
) -> list[ValueUsage]:
    """Each value's newest ids, from those read as `ids_wanted` asked: `newest_ids[v]` is
    [(created_at, id)] of version v, newest first."""
    found = []
    # Values ending together share their plan (all current values, say): merge each plan once.
    merged: dict[tuple[tuple[int, int], ...], tuple[str, ...]] = {}
    for counted in spans:
        ids = merged.get(counted.plan)
        if ids is None:
            ids = merged[counted.plan] = _newest(counted.plan, newest_ids, limit)
        found.append(
            ValueUsage(
                span=counted.span,
                live_deployments=counted.live_deployments,
                serving_deployments=counted.serving_deployments,
                deployment_ids=ids,
            )
        )
    return found


def _newest(
    plan: Sequence[tuple[int, int]],
    newest_ids: Mapping[int, Sequence[tuple[int, str]]],
    limit: int,
) -> tuple[str, ...]:
    """The `limit` newest ids of a value from its plan's versions' newest ids."""
    if len(plan) == 1:
        # Usually so (deployments use the version current when made): already in order.
        version, count = plan[0]
        return tuple(deployment_id for _, deployment_id in newest_ids.get(version, ())[:count])
    candidates = chain.from_iterable(newest_ids.get(version, ())[:count] for version, count in plan)
    return tuple(deployment_id for _, deployment_id in sorted(candidates, reverse=True)[:limit])


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
