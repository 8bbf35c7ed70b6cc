"""The pytest plugin as a partner uses it: real inner pytest runs (pytester), each starting its
own keyturn emulator subprocess."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "testing-with-keyturn.md"
MARKER = "<!-- tests/pytest_plugin/test_plugin.py runs this block"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

pytestmark = pytest.mark.slow


def documented_example() -> str:
    text = GUIDE.read_text()
    block = PYTHON_BLOCK.search(text, text.index(MARKER))
    assert block is not None
    return block.group(1)


def test_the_documented_example_passes_as_a_partners_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_partner=documented_example())

    result = pytester.runpytest_subprocess("-q")

    result.assert_outcomes(passed=3)


def test_keyturn_resets_between_tests_and_keyturn_server_does_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_isolation="""
        import httpx

        TOKEN = "kt_user_isolation_test_0001"

        def test_first_seeds_and_breaks(keyturn):
            keyturn.seed({"teams": [{"slug": "acme", "tokens": [{"token": TOKEN}]}]})
            keyturn.fault(path="/v9/*", status=503)
            keyturn.advance_clock(60_000)
            assert httpx.get(keyturn.url + "/v9/projects",
                             headers={"Authorization": "Bearer " + TOKEN}).status_code == 503

        def test_second_finds_an_empty_emulator(keyturn):
            answer = httpx.get(keyturn.url + "/v9/projects",
                               headers={"Authorization": "Bearer " + TOKEN})
            assert answer.status_code == 401
            assert [r["status"] for r in keyturn.requests()] == [401]
            assert keyturn.now() - keyturn.advance_clock(0) <= 0

        def test_session_server_keeps_its_state(keyturn_server):
            keyturn_server.seed({"teams": [{"slug": "kept"}]})
            again = httpx.post(keyturn_server.url + "/v1/admin/seed",
                               json={"teams": [{"slug": "kept"}]},
                               headers={"Authorization": "Bearer " + keyturn_server.admin_token})
            assert again.status_code == 422
        """
    )

    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")

    result.assert_outcomes(passed=3)


def test_a_control_call_that_fails_raises_with_keyturns_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_bad_seed="""
        import pytest
        from keyturn.pytest_plugin import KeyturnServerError

        def test_bad_fixture(keyturn):
            with pytest.raises(KeyturnServerError, match=r"400.*teams\\[0\\]\\.slug"):
                keyturn.seed({"teams": [{"slug": "Not A Slug"}]})
        """
    )

    result = pytester.runpytest_subprocess("-q")

    result.assert_outcomes(passed=1)


def test_each_xdist_worker_gets_its_own_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_workers=f"""
        from pathlib import Path

        def test_note_the_url(keyturn, worker_id):
            Path({str(tmp_path)!r}, worker_id).write_text(keyturn.url)
        """
    )

    result = pytester.runpytest_subprocess("-q", "-n", "2", "--dist", "each")

    result.assert_outcomes(passed=2)
    urls = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert set(urls) == {"gw0", "gw1"}
    assert urls["gw0"] != urls["gw1"]


def test_keyturns_client_retries_an_injected_429_with_the_same_key_and_sees_expiry(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_with_client="""
        import pytest

        from keyturn.client import APIError, Client, Secret

        TOKEN = "kt_integration_client_example_0001"
        SECRET = "ClientExampleClientSecret0123456789"
        WORLD = {
            "teams": [{"id": "team_client", "slug": "acme"}],
            "integrations": [
                {"slug": "acme-db", "clientSecret": SECRET, "products": [{"slug": "postgres"}]}
            ],
            "installations": [
                {"id": "icfg_client", "teamId": "team_client", "integration": "acme-db",
                 "accessToken": TOKEN}
            ],
            "resources": [
                {"installationId": "icfg_client", "id": "db1", "productId": "postgres",
                 "name": "db1", "status": "ready",
                 "secrets": [{"name": "PASSWORD", "value": "one"}]}
            ],
        }


        def test_a_429_is_retried_with_the_same_idempotency_key(keyturn):
            keyturn.seed(WORLD)
            keyturn.fault(path="/v1/installations/*/secrets", method="PUT", status=429,
                          retryAfterS=0, count=2)
            with Client(keyturn.url, TOKEN) as client:
                client.update_resource_secrets("icfg_client", "db1", [Secret("PASSWORD", "two")])
                assert client.get_resource("icfg_client", "db1").secrets_version == 2
            sent = keyturn.requests(path="/v1/installations/*/secrets")
            assert [r["status"] for r in sent] == [201, 429, 429]  # newest first
            keys = {r["idempotencyKey"] for r in sent}
            assert len(keys) == 1 and None not in keys


        def test_a_rotated_token_is_refused_once_the_clock_passes_its_expiry(keyturn):
            keyturn.seed(WORLD)
            with Client(keyturn.url, TOKEN) as client:
                rotated = client.rotate_credentials("icfg_client", SECRET)
            with Client(keyturn.url, rotated.access_token) as fresh:
                assert [r.id for r in fresh.list_resources("icfg_client")] == ["db1"]
                keyturn.advance_clock(rotated.expires_in * 1000)
                with pytest.raises(APIError) as caught:
                    fresh.list_resources("icfg_client")
            assert caught.value.status == 401
            assert "expired" in caught.value.message
        """
    )

    result = pytester.runpytest_subprocess("-q")

    result.assert_outcomes(passed=2)
