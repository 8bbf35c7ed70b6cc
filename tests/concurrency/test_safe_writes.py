"""Safe writes under real concurrency: two `keyturn serve` processes on one database.

Two writers with the same `If-Match` give exactly one 201 and one 412 (CONTRACT.md 5.5), and
two requests with the same `Idempotency-Key` at once give one effect and one replay or one 409
(5.6): the check and the write share a transaction and a lock, in every process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.concurrency.conftest import ServerProcesses, seed

ROUNDS = 8

pytestmark = pytest.mark.slow


def _race(
    bases: list[str], send: Callable[[httpx.Client, int], httpx.Response]
) -> list[list[httpx.Response]]:
    """`send` from one thread per server, released together, `ROUNDS` times."""
    start_together = threading.Barrier(len(bases))

    def worker(thread: int) -> list[httpx.Response]:
        answers = []
        with httpx.Client(base_url=bases[thread], timeout=60) as http:
            for round_ in range(ROUNDS):
                start_together.wait(timeout=30)
                answers.append(send(http, round_))
        return answers

    with ThreadPoolExecutor(len(bases)) as pool:
        per_thread = list(pool.map(worker, range(len(bases))))
    return [list(answers) for answers in zip(*per_thread, strict=True)]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
def test_two_writers_with_the_same_if_match_give_one_201_and_one_412(
    start_server: ServerProcesses,
) -> None:
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    auth = {"Authorization": f"Bearer {seeded.token}"}
    path = f"/v1/installations/{seeded.installation_id}/resources/db/secrets"

    def put(http: httpx.Client, round_: int) -> httpx.Response:
        # Both name the version the resource had before the round: round_.
        return http.put(
            path,
            json={"secrets": [{"name": "A", "value": f"{round_}-{http.base_url.port}"}]},
            headers={**auth, "If-Match": f'"{round_}"'},
        )

    rounds = _race(bases, put)
    for answers in rounds:
        assert sorted(answer.status_code for answer in answers) == [201, 412], [
            answer.text for answer in answers
        ]
    resource = httpx.get(
        f"{bases[0]}/v1/installations/{seeded.installation_id}/resources/db", headers=auth
    )
    assert resource.json()["secretsVersion"] == ROUNDS


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
def test_the_same_idempotency_key_at_once_has_one_effect(start_server: ServerProcesses) -> None:
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    auth = {"Authorization": f"Bearer {seeded.token}"}
    path = f"/v1/installations/{seeded.installation_id}/resources/db/secrets"

    def put(http: httpx.Client, round_: int) -> httpx.Response:
        return http.put(
            path,
            json={"secrets": [{"name": "A", "value": f"value-{round_}"}]},
            headers={**auth, "Idempotency-Key": f"rotation-{round_}"},
        )

    for answers in _race(bases, put):
        _assert_one_effect(answers)
    resource = httpx.get(
        f"{bases[0]}/v1/installations/{seeded.installation_id}/resources/db", headers=auth
    )
    assert resource.json()["secretsVersion"] == ROUNDS


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_same_idempotency_key_at_once_on_a_claimed_route_has_one_effect(
    start_server: ServerProcesses,
) -> None:
    """The claim path (any write but the secrets PUT): one project, one replay or one 409."""
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    auth = {"Authorization": f"Bearer {seeded.user_token}"}

    def create(http: httpx.Client, round_: int) -> httpx.Response:
        return http.post(
            "/v11/projects",
            json={"name": f"web-{round_}"},
            headers={**auth, "Idempotency-Key": f"create-{round_}"},
        )

    for answers in _race(bases, create):
        _assert_one_effect(answers, success=200)
    projects = httpx.get(f"{bases[0]}/v9/projects", headers=auth).json()["projects"]
    assert sorted(project["name"] for project in projects) == sorted(
        f"web-{round_}" for round_ in range(ROUNDS)
    )


def _assert_one_effect(answers: list[httpx.Response], success: int = 201) -> None:
    ran = [
        a for a in answers if a.status_code == success and "Idempotent-Replayed" not in a.headers
    ]
    assert len(ran) == 1, [(a.status_code, a.text) for a in answers]
    (other,) = [a for a in answers if a is not ran[0]]
    if other.status_code == 409:
        assert other.json()["error"]["code"] == "idempotency_key_in_use"
    else:
        assert other.status_code == success, other.text
        assert other.headers["Idempotent-Replayed"] == "true"
        assert other.json() == ran[0].json()
