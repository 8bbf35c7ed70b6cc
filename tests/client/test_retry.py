"""Retries against a real HTTP server of the test's own that answers from a script
(tests/scripted_server.py): what the client sent again, with which `Idempotency-Key`."""

from __future__ import annotations

import asyncio

import pytest

from keyturn.client import APIError, AsyncClient, Client, Secret
from tests.scripted_server import Answer, ScriptedServer
from tests.scripted_server import scripted as scripted

RATE_LIMITED = Answer(
    429,
    {"error": {"code": "rate_limited", "message": "too many requests"}},
    {"Retry-After": "0"},
)
UNAVAILABLE = Answer(503, {"error": {"code": "service_unavailable", "message": "database"}})
CREATED = Answer(201, {})


def _push(client: Client) -> None:
    client.update_resource_secrets("icfg_1", "db1", [Secret("A", "1")])


def test_429_is_retried_with_the_same_idempotency_key(scripted: ScriptedServer) -> None:
    scripted.script = [RATE_LIMITED, CREATED]
    with Client(scripted.url, "kt_token") as client:
        _push(client)
    assert len(scripted.seen) == 2
    (_, path, first), (_, _, second) = scripted.seen
    assert path == "/v1/installations/icfg_1/resources/db1/secrets"
    assert first is not None
    assert first == second


def test_503_is_retried_with_the_same_idempotency_key(scripted: ScriptedServer) -> None:
    scripted.script = [UNAVAILABLE, UNAVAILABLE, CREATED]
    with Client(scripted.url, "kt_token", max_retries=3) as client:
        _push(client)
    keys = {key for _, _, key in scripted.seen}
    assert len(scripted.seen) == 3
    assert len(keys) == 1
    assert None not in keys


def test_each_logical_write_gets_its_own_idempotency_key(scripted: ScriptedServer) -> None:
    with Client(scripted.url, "kt_token") as client:
        _push(client)
        _push(client)
    first, second = (key for _, _, key in scripted.seen)
    assert first != second


def test_reads_carry_no_idempotency_key(scripted: ScriptedServer) -> None:
    scripted.script = [Answer(200, {"projects": [], "pagination": {}})]
    with Client(scripted.url, "kt_token") as client:
        assert client.list_projects() == []
    assert scripted.seen == [("GET", "/v9/projects", None)]


def test_retry_after_is_capped_so_an_hour_asked_does_not_stall(scripted: ScriptedServer) -> None:
    hour = Answer(429, RATE_LIMITED.body, {"Retry-After": "3600"})
    scripted.script = [hour, CREATED]
    # With the cap at a hundredth of a second the test ends; uncapped it would wait an hour.
    with Client(scripted.url, "kt_token", max_retry_after=0.01) as client:
        _push(client)
    assert len(scripted.seen) == 2


def test_retries_exhausted_raise_the_last_refusal(scripted: ScriptedServer) -> None:
    scripted.script = [RATE_LIMITED]
    with Client(scripted.url, "kt_token", max_retries=2) as client, pytest.raises(APIError) as e:
        _push(client)
    assert (e.value.status, e.value.code) == (429, "rate_limited")
    assert len(scripted.seen) == 3


def test_a_4xx_is_not_retried(scripted: ScriptedServer) -> None:
    scripted.script = [Answer(422, {"error": {"code": "invalid_secret_name", "message": "A"}})]
    with Client(scripted.url, "kt_token") as client, pytest.raises(APIError) as caught:
        _push(client)
    assert caught.value.code == "invalid_secret_name"
    assert len(scripted.seen) == 1


def test_a_502_partner_error_is_final_and_not_retried(scripted: ScriptedServer) -> None:
    body = {"error": {"code": "partner_error", "message": "partner said no", "rotation": {}}}
    scripted.script = [Answer(502, body), CREATED]
    with Client(scripted.url, "kt_token") as client, pytest.raises(APIError) as caught:
        _push(client)
    assert caught.value.code == "partner_error"
    assert caught.value.details == {"rotation": {}}
    assert len(scripted.seen) == 1


def test_an_error_body_not_in_the_contract_shape_still_raises_api_error(
    scripted: ScriptedServer,
) -> None:
    scripted.script = [Answer(404, ["not", "an", "error", "object"])]
    with Client(scripted.url, "kt_token") as client, pytest.raises(APIError) as caught:
        client.get_project("web")
    assert (caught.value.status, caught.value.code) == (404, "http_404")


def test_async_client_retries_429_with_the_same_idempotency_key(
    scripted: ScriptedServer,
) -> None:
    scripted.script = [RATE_LIMITED, UNAVAILABLE, CREATED]

    async def push() -> None:
        async with AsyncClient(scripted.url, "kt_token") as client:
            await client.update_resource_secrets("icfg_1", "db1", [Secret("A", "1")])

    asyncio.run(push())
    keys = [key for _, _, key in scripted.seen]
    assert len(keys) == 3
    assert len(set(keys)) == 1
