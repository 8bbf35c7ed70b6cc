"""The ledger's arithmetic (domain/ledger.py) against brute force over deployments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.domain.errors import BadRequest
from keyturn.domain.ledger import (
    ValueSpan,
    VersionRecord,
    VersionUsage,
    ids_wanted,
    span_usage,
    usage_state,
    value_usage,
    version_changes,
    versions_page,
)

# (version, created_at, id, serving) per deployment: times may tie and ranges may overlap.
deployment_lists = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 30), st.integers(0, 10**6).map(str), st.booleans()),
    max_size=60,
    unique_by=lambda deployment: deployment[2],
)
span_lists = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 5) | st.none()).map(
        lambda bounds: ValueSpan(
            name="A",
            from_version=bounds[0],
            to_version=None if bounds[1] is None else bounds[0] + bounds[1],
            superseded_at=None,
            expire_after_ms=None,
        )
    ),
    min_size=1,
    max_size=5,
)


def _usage(deployments: list[tuple[int, int, str, bool]]) -> list[VersionUsage]:
    versions = sorted({version for version, *_ in deployments})
    found = []
    for version in versions:
        of_version = [d for d in deployments if d[0] == version]
        found.append(
            VersionUsage(
                version=version,
                live=len(of_version),
                serving=sum(d[3] for d in of_version),
                newest_at=max(d[1] for d in of_version),
                oldest_at=min(d[1] for d in of_version),
            )
        )
    return found


@given(deployments=deployment_lists, spans=span_lists, limit=st.integers(1, 8))
def test_value_usage_equals_brute_force(
    deployments: list[tuple[int, int, str, bool]], spans: list[ValueSpan], limit: int
) -> None:
    counted_spans = span_usage(spans, _usage(deployments), limit)
    wanted = ids_wanted(counted_spans)
    # What storage answers: each version's newest `wanted[v]`, by (created_at, id) descending.
    newest = {
        version: sorted(((d[1], d[2]) for d in deployments if d[0] == version), reverse=True)[
            :count
        ]
        for version, count in wanted.items()
    }
    for counted in value_usage(counted_spans, newest, limit):
        span = counted.span
        using = [
            d
            for d in deployments
            if span.from_version <= d[0] and (span.to_version is None or d[0] <= span.to_version)
        ]
        assert counted.live_deployments == len(using)
        assert counted.serving_deployments == sum(d[3] for d in using)
        expected = [d[2] for d in sorted(using, key=lambda d: (d[1], d[2]), reverse=True)]
        assert list(counted.deployment_ids) == expected[:limit]


def test_ids_wanted_reads_only_the_newest_versions_when_times_do_not_overlap() -> None:
    # Deployments pick the version current when made: version v's are all older than v+1's.
    usage = [
        VersionUsage(v, live=200, serving=0, newest_at=v * 10 + 9, oldest_at=v * 10)
        for v in range(1, 51)
    ]
    spans = span_usage([ValueSpan("A", 1, None, None, None)], usage)
    assert ids_wanted(spans) == {50: 100}


def test_version_changes_from_rows() -> None:
    records = [VersionRecord(v, v * 100, "update", None) for v in (3, 2, 1)]
    rows = [("A", 1, 2), ("A", 2, None), ("B", 1, 3), ("C", 3, None)]
    changes = version_changes(records, rows)
    assert [(c.record.version, c.added, c.changed, c.removed) for c in changes] == [
        (3, ("C",), (), ("B",)),
        (2, (), ("A",), ()),
        (1, ("A", "B"), (), ()),
    ]


def test_expires_at_needs_a_superseding_version_and_a_delay() -> None:
    assert ValueSpan("A", 1, 2, superseded_at=1000, expire_after_ms=50).expires_at == 1050
    assert ValueSpan("A", 1, 2, superseded_at=1000, expire_after_ms=None).expires_at is None
    assert ValueSpan("A", 1, None, superseded_at=None, expire_after_ms=None).expires_at is None


@pytest.mark.parametrize("raw", ["", "Current", "all", "in use"])
def test_an_unknown_state_names_the_parameter(raw: str) -> None:
    with pytest.raises(BadRequest) as refused:
        usage_state(raw)
    assert refused.value.fields[0].key == "state"


def test_known_states_and_none_are_accepted() -> None:
    assert [usage_state(raw) for raw in (None, "current", "in-use", "revocable")] == [
        None,
        "current",
        "in-use",
        "revocable",
    ]


@pytest.mark.parametrize(
    ("limit", "until", "field"),
    [
        ("0", None, "limit"),
        ("101", None, "limit"),
        ("1e2", None, "limit"),
        (None, "0", "until"),
        (None, "٣", "until"),
    ],
)
def test_versions_page_refuses_bad_numbers(
    limit: str | None, until: str | None, field: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        versions_page(limit, until)
    assert refused.value.fields[0].key == field


def test_versions_page_defaults_to_20_from_the_newest() -> None:
    assert (versions_page(None, None).limit, versions_page(None, None).until) == (20, None)
    assert (versions_page("100", "7").limit, versions_page("100", "7").until) == (100, 7)
