"""Announcing values safe to revoke (CONTRACT.md 6.1 `resource.secrets.value-revocable`).

A value (5.2) becomes safe to revoke at most once and stays so: superseded values never
become current again (a rollback writes the old secrets as a *new* value), and new deployments
only record the current version, so a superseded value's live deployments can only go. The
moments it can happen are therefore two: the version that supersedes it, when no live
deployment uses it, and the deletion of the last live deployment that does. The use cases that
make those changes call this module in their transaction; it asks the ledger's own rule
(`domain.ledger.safe_to_revoke`) on the counts the usage answer reads, records the value in
`revocable_values` (whose key refuses a second announcement) and emits the event.

Concurrency on PostgreSQL: a secrets write holds the resource's row lock, and a deletion takes
the row locks of the resources its deployments use before it counts, so of a write and a
deletion racing over one value the later one sees the other's commit and announces it.
"""

from __future__ import annotations

from collections.abc import Iterable

from keyturn.domain.event_payloads import value_revocable_event
from keyturn.domain.ledger import ValueSpan, safe_to_revoke
from keyturn.domain.resources import Resource
from keyturn.storage.unit_of_work import UnitOfWork


def announce_superseded(uow: UnitOfWork, resource: Resource, version: int) -> None:
    """After `version` is written: announce the values it ended that no live deployment uses."""
    # One statement reads the ended values with their live counts: a rotation ends many.
    _announce(uow, resource, uow.ledger.values_ended_by(resource.internal_id, version))


def lock_resources_used(uow: UnitOfWork, resource_ids: Iterable[str]) -> list[Resource]:
    """Lock the live resources among `resource_ids` before deleting deployments that use them;
    pass what it returns to `announce_unused_after_deletion`."""
    return uow.resources.lock_live_by_internal_ids(resource_ids)


def announce_unused_after_deletion(
    uow: UnitOfWork, resources: Iterable[Resource], used: Iterable[tuple[str, int]]
) -> None:
    """After deleting deployments that used `used` (resource internal id, version): announce
    the values of those versions that no live deployment uses any more."""
    versions: dict[str, set[int]] = {}
    for resource_id, version in used:
        versions.setdefault(resource_id, set()).add(version)
    for resource in resources:
        wanted = sorted(versions.get(resource.internal_id, ()))
        spans = uow.ledger.unannounced_values_using(resource.internal_id, wanted)
        _announce(uow, resource, _counted(uow, resource, spans))


def _counted(
    uow: UnitOfWork, resource: Resource, spans: Iterable[ValueSpan]
) -> list[tuple[ValueSpan, int]]:
    """Each superseded span of `spans` with how many live deployments use one of its versions."""
    live: dict[tuple[int, int], int] = {}
    counted: list[tuple[ValueSpan, int]] = []
    for span in spans:
        if span.to_version is None:
            continue
        bounds = (span.from_version, span.to_version)
        if bounds not in live:
            # Values ended by one version often share their range: one count each.
            live[bounds] = uow.ledger.live_between(resource.internal_id, *bounds)
        counted.append((span, live[bounds]))
    return counted


def _announce(
    uow: UnitOfWork, resource: Resource, counted: Iterable[tuple[ValueSpan, int]]
) -> None:
    """Record and emit the superseded values of `counted` (span, live count) that are safe to
    revoke, by name then first version."""
    revocable: list[tuple[ValueSpan, int]] = [
        (span, span.to_version)
        for span, live in counted
        if span.to_version is not None and safe_to_revoke(current=False, live_deployments=live)
    ]
    revocable.sort(key=lambda found: (found[0].name, found[0].from_version))
    # A rotation ends every value at once: one statement records them all.
    uow.ledger.announce(
        resource.internal_id, [span for span, _ in revocable], at=uow.clock.now_ms()
    )
    for span, to_version in revocable:
        uow.events.emit(value_revocable_event(resource, span.name, span.from_version, to_version))
