"""The outbox's cost and the delivery worker's throughput (`make bench`, events part).

* A rotation PUT (20 secrets, one connected project) with no webhook configured, next to the
  same PUT when two team webhooks subscribe to `resource.secrets.updated` (the event then fans
  out to two delivery rows in the PUT's transaction). Requests of the two cases are
  interleaved; the target is at most 1.15x.
* Delivery throughput: 2,000 events emitted through the outbox, then one `DeliveryWorker`
  (the server's, with its default batch and concurrency) sends them to a local receiver over
  real sockets; events per second from the first claim to the last record. Target >= 500/s
  on SQLite.
"""

from __future__ import annotations

import base64
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from bench.measure import timed
from bench.world import ADMIN_TOKEN, expect
from keyturn.app import build_runtime, create_app
from keyturn.delivery.worker import DeliveryWorker
from keyturn.domain.event_payloads import project_event
from keyturn.domain.events import PROJECT_CREATED
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.delivery import DeliveryPolicy
from keyturn.settings import Settings

OUTBOX_TARGET_RATIO = 1.15
THROUGHPUT_TARGET = 500.0
DELIVERED_EVENTS = 2_000


class _Receiver(BaseHTTPRequestHandler):
    # Keep-alive, as real receivers answer: the worker reuses its connections.
    protocol_version = "HTTP/1.1"
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with _Receiver.lock:
            _Receiver.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmark counts, it does not log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def _admin(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    return expect(
        client.post(path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}), 201
    )


def measure_events(
    name: str,
    database: Callable[[Path], AbstractContextManager[str]],
    work_dir: Path,
    samples: int,
) -> list[str]:
    """The printed lines of the events part for one database."""
    with database(work_dir) as url:
        settings = Settings(
            data_dir=work_dir / f"{name}-events-data",
            database_url=url,
            admin_token=SecretStr(ADMIN_TOKEN),
            master_key=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        )
        runtime = build_runtime(settings)
        server = _Server(("127.0.0.1", 0), _Receiver)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with TestClient(create_app(runtime)) as client:
                return list(_measure(name, client, runtime, server, samples))
        finally:
            server.shutdown()
            server.server_close()
            runtime.store.engine.dispose()


def _measure(
    name: str, client: TestClient, runtime: Any, server: _Server, samples: int
) -> Iterator[str]:
    receiver_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    worlds = [_partner(client, f"{name}-quiet"), _partner(client, f"{name}-hooked")]
    hooked = worlds[1]
    for _ in range(2):
        expect(
            client.post(
                "/v1/webhooks",
                json={"url": receiver_url, "events": ["resource.secrets.updated"]},
                headers={"Authorization": f"Bearer {hooked['user']}"},
            ),
            200,
        )
    times: dict[str, list[float]] = {"no webhook": [], "two webhooks": []}
    for round_number in range(samples + 5):
        for label, world in zip(times, worlds, strict=True):
            body = {
                "secrets": [
                    {"name": f"SECRET_{n}", "value": f"v{round_number}-{n}-" + "x" * 40}
                    for n in range(20)
                ]
            }
            elapsed = timed(_put(client, world, body), 201)
            if round_number >= 5:  # the first rounds warm the caches up
                times[label].append(elapsed)
    quiet = statistics.median(times["no webhook"])
    fanned = statistics.median(times["two webhooks"])
    ratio = fanned / quiet
    yield (
        f"events {name}: rotation PUT median {quiet:.2f} ms with no webhook, {fanned:.2f} ms "
        f"with two webhooks subscribed ({ratio:.2f}x; target <= {OUTBOX_TARGET_RATIO}x): "
        f"{'MET' if ratio <= OUTBOX_TARGET_RATIO else 'NOT MET'}"
    )
    # Throughput: the rotation deliveries above are sent first, then 2,000 new events.
    worker = DeliveryWorker(runtime.context, WebhookSender(10), policy=DeliveryPolicy())
    while worker.run_once():
        pass
    expect(
        client.post(
            "/v1/webhooks",
            json={"url": receiver_url, "events": ["project.created"]},
            headers={"Authorization": f"Bearer {hooked['user']}"},
        ),
        200,
    )
    with runtime.store.write() as uow:
        for n in range(DELIVERED_EVENTS):
            uow.events.emit(
                project_event(
                    PROJECT_CREATED,
                    team_id=hooked["team"],
                    user_id=None,
                    project_id=f"prj_bench{n}",
                    name=f"p{n}",
                )
            )
        uow.commit()
    before = _Receiver.received
    started = time.perf_counter()
    while worker.run_once():
        pass
    elapsed = time.perf_counter() - started
    worker.stop()
    sent = _Receiver.received - before
    rate = sent / elapsed
    yield (
        f"events {name}: one worker delivered {sent:,} events in {elapsed:.2f} s = "
        f"{rate:,.0f} events/s (target >= {THROUGHPUT_TARGET:g}/s on SQLite): "
        f"{'MET' if rate >= THROUGHPUT_TARGET else 'NOT MET'}"
    )


def _put(client: TestClient, world: dict[str, Any], body: dict[str, Any]) -> Callable[[], Any]:
    return lambda: client.put(world["secrets"], json=body, headers=world["auth"])


def _partner(client: TestClient, slug: str) -> dict[str, Any]:
    team = _admin(client, "/v1/admin/teams", {"slug": slug})
    user = _admin(client, f"/v1/admin/teams/{team['id']}/tokens", {})
    _admin(client, "/v1/admin/integrations", {"slug": slug, "products": [{"slug": "pg"}]})
    installation = _admin(
        client, "/v1/admin/installations", {"teamId": team["id"], "integration": slug}
    )
    auth = {"Authorization": f"Bearer {installation['accessToken']}"}
    resource = f"/v1/installations/{installation['id']}/resources/db"
    expect(
        client.put(
            resource, json={"productId": "pg", "name": "db", "status": "ready"}, headers=auth
        ),
        200,
    )
    project = expect(
        client.post(
            "/v11/projects",
            json={"name": "web"},
            headers={"Authorization": f"Bearer {user['token']}"},
        ),
        200,
    )
    expect(
        client.post(
            f"/v1/integrations/installations/{installation['id']}/resources/db/connections",
            json={"projectId": project["id"]},
            headers={"Authorization": f"Bearer {user['token']}"},
        ),
        201,
    )
    return {
        "team": team["id"],
        "user": user["token"],
        "auth": auth,
        "secrets": f"{resource}/secrets",
    }
