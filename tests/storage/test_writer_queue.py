"""SQLite writers of one process take turns in arrival order (storage/writer_queue.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from keyturn.storage.writer_queue import TicketLock, writer_queue

WAITERS = 6
DEADLINE_S = 10


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def test_waiters_are_served_in_the_order_they_arrived() -> None:
    lock = TicketLock()
    served: list[int] = []
    lock.acquire()

    def writer(number: int) -> None:
        lock.acquire()
        served.append(number)
        lock.release()

    threads = []
    for number in range(WAITERS):
        thread = threading.Thread(target=writer, args=(number,))
        thread.start()
        threads.append(thread)
        # The next writer arrives only once this one has taken its ticket.
        _wait_for(lambda n=number: lock.waiting == n + 2, f"writer {number} took no ticket")
    lock.release()
    for thread in threads:
        thread.join(timeout=DEADLINE_S)
    assert served == list(range(WAITERS))
    assert lock.waiting == 0


def test_one_queue_per_database_file_however_it_is_named(tmp_path: Path) -> None:
    first = tmp_path / "a" / "keyturn.db"
    assert writer_queue(str(tmp_path / "a" / ".." / "a" / "keyturn.db")) is writer_queue(str(first))
    assert writer_queue(str(first)) is not writer_queue(str(tmp_path / "b" / "keyturn.db"))
