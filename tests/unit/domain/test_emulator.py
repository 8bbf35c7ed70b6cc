"""The emulator's pure rules: path globs, its clock, faults and Vercel's rate-limit answer."""

from __future__ import annotations

import pytest

from keyturn.domain.clock import SettableClock
from keyturn.domain.emulator import (
    RATE_LIMIT_TOTAL,
    EmulatorClock,
    glob_pattern,
    rate_limit_headers,
    rate_limited_body,
)

RESOURCE = "/v1/installations/icfg_1/resources/db"


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/v1/installations/*/resources/*/secrets", f"{RESOURCE}/secrets", True),
        ("/v1/installations/*/secrets", "/v1/installations/icfg_1/resources/db/secrets", True),
        ("/v1/installations/*/secrets", "/v1/installations/icfg_1/resources/db/secrets/x", False),
        ("*", "/anything/at/all", True),
        ("/v3/env/pull/*", "/v3/env/pull", False),
        # Only `*` is special: `?` and `[...]` stand for themselves.
        ("/a?b", "/a?b", True),
        ("/a?b", "/axb", False),
        ("/a[0]", "/a[0]", True),
        ("/a.b", "/axb", False),
    ],
)
def test_glob_star_matches_any_characters_slash_included_and_nothing_else_is_special(
    glob: str, path: str, matches: bool
) -> None:
    assert (glob_pattern(glob).fullmatch(path) is not None) is matches


def test_emulator_clock_is_the_wall_clock_plus_an_offset_that_only_grows() -> None:
    wall = SettableClock(1_000_000)
    clock = EmulatorClock(wall)
    assert clock.now_ms() == 1_000_000
    assert clock.advance(5_000) == 1_005_000
    wall.advance(1)
    assert (clock.now_ms(), clock.offset_ms) == (1_005_001, 5_000)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    assert clock.offset_ms == 5_000


def test_emulator_clock_reset_goes_back_to_the_wall_clock() -> None:
    wall = SettableClock(7)
    clock = EmulatorClock(wall)
    clock.advance(100)
    clock.reset()
    assert (clock.now_ms(), clock.offset_ms) == (7, 0)


def test_rate_limited_body_and_headers_are_vercels_and_agree_on_the_reset() -> None:
    body = rate_limited_body(1_700_000_000_500, 3)
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["limit"] == {
        "remaining": 0,
        "reset": 1_700_000_003,
        "resetMs": 1_700_000_003_500,
        "total": RATE_LIMIT_TOTAL,
    }
    assert rate_limit_headers(1_700_000_000_500, 3) == {
        "Retry-After": "3",
        "X-RateLimit-Limit": str(RATE_LIMIT_TOTAL),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1700000003",
    }
