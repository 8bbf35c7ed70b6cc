"""The emulator's in-memory state: the fault book and the request log."""

from __future__ import annotations

import random

from keyturn.domain.emulator import FaultSpec, RecordedRequest
from keyturn.domain.ids import IdSource
from keyturn.services.emulator import FaultBook, RequestLog


def test_a_fault_with_a_count_fires_that_many_times_then_stays_listed_spent() -> None:
    book = FaultBook(IdSource())
    fault = book.add(FaultSpec(path="/x", status=500, count=2))
    assert [book.draw("GET", "/x") is fault for _ in range(3)] == [True, True, False]
    assert (fault.remaining, fault.fired) == (0, 2)
    assert book.all() == [fault]


def test_a_fault_fires_only_for_its_method_and_the_first_matching_fault_applies() -> None:
    book = FaultBook(IdSource())
    put_only = book.add(FaultSpec(path="/x", method="PUT", status=500))
    anything = book.add(FaultSpec(path="*", status=503))
    assert book.draw("PUT", "/x") is put_only
    assert book.draw("GET", "/x") is anything
    assert book.draw("get", "/y") is anything


def test_a_fault_with_a_probability_fires_about_that_often() -> None:
    book = FaultBook(IdSource(), rng=random.Random(7))  # noqa: S311  # a reproducible draw, not a secret
    book.add(FaultSpec(path="*", status=500, probability=0.25))
    fired = sum(book.draw("GET", "/x") is not None for _ in range(4000))
    # A fixed seed: the draw is reproducible; the bound says the probability is honoured.
    assert 850 <= fired <= 1150


def test_the_request_log_keeps_the_newest_up_to_its_capacity() -> None:
    log = RequestLog(capacity=3)
    for index in range(5):
        log.add(RecordedRequest(f"req_{index}", index, "GET", "/", "", 200, 0, None, None))
    assert [item.id for item in log.newest_first()] == ["req_4", "req_3", "req_2"]
