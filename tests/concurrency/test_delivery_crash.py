"""Delivery survives crashes and shares the work: `kill -9` of `keyturn serve` with deliveries
pending loses none of them; two `keyturn deliver` processes on one PostgreSQL deliver 1,000
events, each once; `keyturn serve --workers 2` delivers each event once.

Both run real processes against a real receiver (tests/receiver.py) that checks every
signature.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from keyturn.app import Runtime, build_runtime
from keyturn.domain.event_payloads import project_event
from keyturn.domain.events import PROJECT_CREATED
from keyturn.settings import Settings
from keyturn.storage.tables import deliveries
from tests.concurrency.conftest import Seeded, ServerProcesses, seed
from tests.conftest import ADMIN_TOKEN
from tests.receiver import Receiver

pytestmark = pytest.mark.slow

DEADLINE_S = 60
FAST = {"KEYTURN_WEBHOOK_TIMEOUT_S": "1"}


def wait_for(condition: object, what: str, deadline_s: float = DEADLINE_S) -> None:
    assert callable(condition)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {deadline_s} s: {what}")


def _subscribe_and_emit(
    runtime: Runtime, base: str, seeded: Seeded, receiver: Receiver, *, count: int
) -> None:
    """A team webhook for `project.created` pointing at `receiver` (which learns its secret),
    then `count` such events written through the outbox in one transaction."""
    hook = httpx.post(
        f"{base}/v1/webhooks",
        json={"url": receiver.url, "events": ["project.created"]},
        headers={"Authorization": f"Bearer {seeded.user_token}"},
    ).json()
    receiver.secret = hook["secret"]
    with runtime.store.write() as uow:
        for n in range(count):
            uow.events.emit(
                project_event(
                    PROJECT_CREATED,
                    team_id=seeded.team_id,
                    user_id=None,
                    project_id=f"prj_{n}",
                    name=f"p{n}",
                )
            )
        uow.commit()


def test_pending_deliveries_go_out_after_kill_9_and_restart(
    start_server: ServerProcesses, database_url: str
) -> None:
    base = start_server(FAST)
    seeded = seed(base)
    user = {"Authorization": f"Bearer {seeded.user_token}"}
    receiver = Receiver()
    try:
        hook = httpx.post(
            f"{base}/v1/webhooks",
            json={"url": receiver.url, "events": ["project.created"]},
            headers=user,
        ).json()
        receiver.secret = hook["secret"]
        receiver.refuse()  # every attempt fails until after the crash
        names = [f"p{n}" for n in range(20)]
        for name in names:
            created = httpx.post(f"{base}/v11/projects", json={"name": name}, headers=user)
            assert created.status_code == 200, created.text
        events = httpx.get(f"{base}/v1/events", params={"limit": 100}, headers=user).json()
        committed = {e["id"] for e in events["events"] if e["type"] == "project.created"}
        assert len(committed) == len(names)

        def tried() -> bool:
            first = sorted(committed)[0]
            found = httpx.get(f"{base}/v1/events/{first}/deliveries", headers=user).json()
            return bool(found["deliveries"][0]["attempts"] >= 1)

        wait_for(tried, "the background worker tried a delivery")
        start_server.kill(base)
        receiver.accept()
        base = start_server(FAST)
        wait_for(lambda: set(receiver.ids()) >= committed, "every committed event delivered")
        assert all(item.signature_ok for item in receiver.delivered())
        assert set(receiver.ids()) == committed  # nothing delivered that was not committed
    finally:
        receiver.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_deliver_processes_on_one_postgresql_send_each_event_once(
    database_url: str, tmp_path: Path, master_key: str, start_server: ServerProcesses
) -> None:
    base = start_server({"KEYTURN_DELIVERY": "off"})
    seeded = seed(base)
    receiver = Receiver()
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    settings = Settings(
        data_dir=tmp_path / "writer",
        database_url=database_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        master_key=SecretStr(master_key),
    )
    runtime = build_runtime(settings)
    try:
        # 1,000 events written through the outbox, in one transaction, before any worker runs.
        _subscribe_and_emit(runtime, base, seeded, receiver, count=1_000)
        env = {key: value for key, value in os.environ.items() if not key.startswith("KEYTURN_")}
        env |= {
            "KEYTURN_DATABASE_URL": database_url,
            "KEYTURN_MASTER_KEY": master_key,
            "KEYTURN_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        for number in range(2):
            env["KEYTURN_DATA_DIR"] = str(tmp_path / f"deliver{number}")
            log = (tmp_path / f"deliver{number}.log").open("wb")
            logs.append(log)
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "keyturn.cli", "deliver"],
                    env=dict(env),
                    stdout=log,
                    stderr=log,
                )
            )
        wait_for(lambda: len(receiver.ids()) >= 1_000, "1,000 distinct events delivered", 120)
        time.sleep(1)  # anything sent twice would arrive by now
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        counts = receiver.ids()
        duplicates = sum(count - 1 for count in counts.values())
        reports = [(tmp_path / f"deliver{n}.log").read_text() for n in range(2)]
        # Each process reports what it sent; the receiver saw each event once.
        print(
            f"1,000 events, 2 deliver processes: {duplicates} duplicates; "
            + " | ".join(report.strip().splitlines()[-1] for report in reports)
        )
        assert len(counts) == 1_000
        assert duplicates == 0
        assert all(item.signature_ok for item in receiver.delivered())
        with runtime.store.engine.connect() as connection:
            states = dict(
                connection.execute(
                    select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
                ).all()
            )
        assert states == {"delivered": 1_000}
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
        receiver.close()
        runtime.store.engine.dispose()


def test_serve_with_two_workers_sends_each_event_once(
    database_url: str, tmp_path: Path, master_key: str, start_server: ServerProcesses
) -> None:
    """`keyturn serve --workers 2` runs one delivery worker, in its parent process; were there
    one per HTTP worker, the claims would still keep each event to one attempt."""
    base = start_server({"KEYTURN_WORKERS": "2"})
    seeded = seed(base)
    receiver = Receiver()
    runtime = build_runtime(
        Settings(
            data_dir=tmp_path / "writer",
            database_url=database_url,
            admin_token=SecretStr(ADMIN_TOKEN),
            master_key=SecretStr(master_key),
            delivery=False,
        )
    )
    try:
        _subscribe_and_emit(runtime, base, seeded, receiver, count=200)
        wait_for(lambda: len(receiver.ids()) >= 200, "200 distinct events delivered")
        time.sleep(1)  # anything sent twice would arrive by now
        counts = receiver.ids()
        assert len(counts) == 200
        assert sum(count - 1 for count in counts.values()) == 0
        with runtime.store.engine.connect() as connection:
            attempts = dict(
                connection.execute(
                    select(deliveries.c.attempts, func.count())
                    .where(deliveries.c.status == "delivered")
                    .group_by(deliveries.c.attempts)
                ).all()
            )
        assert attempts == {1: 200}
    finally:
        receiver.close()
        runtime.store.engine.dispose()
