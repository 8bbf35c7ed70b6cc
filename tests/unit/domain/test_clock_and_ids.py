"""The settable clock tests use, and the id source's shapes."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from keyturn.domain.clock import SettableClock, SystemClock
from keyturn.domain.ids import BASE62, TOKEN_SHAPE, IdSource


def test_a_settable_clock_moves_only_when_advanced_or_set() -> None:
    clock = SettableClock(1_000)
    assert clock.now_ms() == 1_000
    clock.advance(250)
    assert clock.now_ms() == 1_250
    clock.set(10)
    assert clock.now_ms() == 10


def test_a_settable_clock_refuses_to_advance_backwards_and_stays_put() -> None:
    clock = SettableClock(1_000)
    with pytest.raises(ValueError, match="non-negative"):
        clock.advance(-1)
    assert clock.now_ms() == 1_000


def test_a_settable_clock_without_a_start_begins_at_the_wall_clock() -> None:
    before = SystemClock().now_ms()
    started = SettableClock().now_ms()
    assert before <= started <= SystemClock().now_ms()


def test_ids_and_tokens_have_vercels_shapes() -> None:
    ids = IdSource()
    assert re.fullmatch(r"rot_[A-Za-z0-9]{24}", ids.new("rot"))
    assert re.fullmatch(r"[A-Za-z0-9]{16}", ids.env_var_id())
    token = ids.token("user")
    assert token.startswith("kt_user_")
    assert TOKEN_SHAPE.fullmatch(token)


def test_a_seeded_id_source_repeats_its_ids_and_the_default_does_not() -> None:
    seeded = [IdSource(random.Random(7)) for _ in range(2)]  # noqa: S311  # reproducible on purpose
    assert seeded[0].new("dpl") == seeded[1].new("dpl")
    assert IdSource().new("dpl") != IdSource().new("dpl")


def test_default_ids_use_every_base62_character_about_equally_often() -> None:
    ids = IdSource()
    counts = Counter("".join(ids.base62(62) for _ in range(1_000)))
    assert set(counts) == set(BASE62)
    # About 1,000 of each (standard deviation 31); a byte's remainder modulo 62 without dropping
    # the bytes above 247 would give the first 8 characters about 1,211 each.
    assert all(830 < count < 1_170 for count in counts.values()), counts


def test_default_ids_have_the_length_asked_for_even_when_bytes_are_dropped() -> None:
    ids = IdSource()
    assert {len(ids.base62(length)) for length in range(200) for _ in range(5)} == set(range(200))
