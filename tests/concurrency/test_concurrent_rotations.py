"""Rotation requests across processes: two `keyturn serve` on one PostgreSQL database.

Two owners asking at once, each through its own process, get one rotation and one 409
`rotation_in_progress`; both processes sign with the one key they made between them, so the
partner verifies the token of either against the JWKS of the other.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.concurrency.conftest import ServerProcesses, seed
from tests.conftest import ADMIN_TOKEN
from tests.partner_server import Answer, PartnerServer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_owners_on_two_processes_get_one_rotation_and_one_409(
    start_server: ServerProcesses,
) -> None:
    first, second = start_server(), start_server()
    seeded = seed(first)
    client_id = httpx.patch(f"{first}/v1/admin/integrations/race", json={}, headers=ADMIN).json()[
        "clientId"
    ]
    # Each process names itself as the issuer; the keys are fetched from the second only.
    partner = PartnerServer(
        jwks_url=f"{second}/.well-known/jwks", issuer=[first, second], audience=client_id
    )
    # The partner answers slowly and asynchronously: the other request finds it pending.
    partner.default = Answer.json(202, {"sync": False}, delay_s=0.3)
    partner.start()
    try:
        httpx.patch(
            f"{first}/v1/admin/integrations/race",
            json={"baseUrl": partner.base_url},
            headers=ADMIN,
        ).raise_for_status()
        path = (
            f"/v1/integrations/installations/{seeded.installation_id}/resources/db/secrets/rotate"
        )
        owner = {"Authorization": f"Bearer {seeded.user_token}"}
        start = threading.Barrier(2)
        answers: dict[str, httpx.Response] = {}

        def ask(base: str) -> None:
            start.wait()
            answers[base] = httpx.post(f"{base}{path}", json={}, headers=owner, timeout=60)

        threads = [threading.Thread(target=ask, args=(base,)) for base in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(response.status_code for response in answers.values())
        assert statuses == [202, 409], {base: r.text for base, r in answers.items()}
        conflict = next(r for r in answers.values() if r.status_code == 409)
        assert conflict.json()["error"]["code"] == "rotation_in_progress"
        (received,) = partner.received
        assert received.verification_error is None
        listed = httpx.get(
            f"{second}/v1/integrations/installations/{seeded.installation_id}"
            "/resources/db/secrets/rotations",
            headers=owner,
        ).json()["rotations"]
        assert [r["status"] for r in listed] == ["pending"]
        assert received.headers["idempotency-key"] == listed[0]["id"]
    finally:
        partner.stop()
    keys = [httpx.get(f"{base}/.well-known/jwks").json()["keys"] for base in (first, second)]
    assert keys[0] == keys[1]
    assert len(keys[0]) == 1
