"""keyturn's HTTP client for the partner's rotate endpoint, against a real HTTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from keyturn.domain.rotations import PartnerAnswered, PartnerFailed
from keyturn.outbound.partner import HttpPartnerClient, RotationCall
from tests.partner_server import Answer, PartnerServer, deferred


@pytest.fixture
def server() -> Iterator[PartnerServer]:
    partner = PartnerServer()
    partner.start()
    yield partner
    partner.stop()


class Pauses:
    """Records the client's pauses between attempts instead of sleeping them."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def call(url: str) -> RotationCall:
    return RotationCall(
        url=f"{url}/v1/installations/icfg_1/resources/db1/secrets/rotate",
        token="header.payload.signature",
        idempotency_key="rot_abc",
        body={"reason": "leaked"},
    )


def client(pauses: Pauses, timeout_s: float = 5.0) -> HttpPartnerClient:
    return HttpPartnerClient(timeout_s=timeout_s, sleep=pauses)


def test_sends_the_contracts_headers_and_the_owners_body(server: PartnerServer) -> None:
    reply = client(Pauses()).request_rotation(call(server.base_url))
    assert reply == PartnerAnswered(202, {"sync": False})
    (received,) = server.received
    assert received.method == "POST"
    assert received.path == "/v1/installations/icfg_1/resources/db1/secrets/rotate"
    assert received.headers["authorization"] == "Bearer header.payload.signature"
    assert received.headers["x-vercel-auth"] == "user"
    assert received.headers["idempotency-key"] == "rot_abc"
    assert received.headers["content-type"] == "application/json"
    assert received.body == {"reason": "leaked"}


def test_5xx_is_retried_with_the_same_idempotency_key(server: PartnerServer) -> None:
    pauses = Pauses()
    server.answer(Answer.json(503, {}), Answer.json(500, {}), deferred(200))
    reply = client(pauses).request_rotation(call(server.base_url))
    assert reply == PartnerAnswered(200, {"sync": False})
    assert [r.headers["idempotency-key"] for r in server.received] == ["rot_abc"] * 3
    # Three attempts within about 3 s of waiting.
    assert len(pauses.taken) == 2
    assert sum(pauses.taken) <= 3


def test_three_attempts_at_most(server: PartnerServer) -> None:
    server.default = Answer.json(502, {"error": {"code": "upstream"}})
    reply = client(Pauses()).request_rotation(call(server.base_url))
    assert reply == PartnerAnswered(502, {"error": {"code": "upstream"}})
    assert len(server.received) == 3


def test_4xx_is_not_retried(server: PartnerServer) -> None:
    server.default = Answer.json(409, {"error": {"code": "busy"}})
    pauses = Pauses()
    reply = client(pauses).request_rotation(call(server.base_url))
    assert reply == PartnerAnswered(409, {"error": {"code": "busy"}})
    assert (len(server.received), pauses.taken) == (1, [])


def test_a_body_that_is_not_json_is_none(server: PartnerServer) -> None:
    server.default = Answer(200, b"<html>ok</html>")
    assert client(Pauses()).request_rotation(call(server.base_url)) == PartnerAnswered(200, None)


def test_a_slow_partner_times_out_on_every_attempt(server: PartnerServer) -> None:
    server.default = Answer.json(200, {"sync": False}, delay_s=1.0)
    reply = client(Pauses(), timeout_s=0.2).request_rotation(call(server.base_url))
    assert isinstance(reply, PartnerFailed)
    assert reply.code == "partner_timeout"
    assert len(server.received) == 3


def test_an_unreachable_partner_is_tried_three_times() -> None:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses = Pauses()
    reply = client(pauses).request_rotation(call(f"http://127.0.0.1:{port}"))
    assert isinstance(reply, PartnerFailed)
    assert reply.code == "partner_unreachable"
    assert "127.0.0.1" not in reply.message
    assert len(pauses.taken) == 2


def test_the_token_stays_out_of_repr() -> None:
    assert "header.payload.signature" not in repr(call("http://x"))
