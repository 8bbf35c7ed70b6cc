"""Webhook rules without a database: the signature, the retry schedule, who receives what."""

from __future__ import annotations

import random

import pytest

from keyturn.domain.events import (
    DEPLOYMENT_CREATED,
    PROJECT_CONNECTED,
    RESOURCE_DELETED,
    SECRETS_UPDATED,
)
from keyturn.domain.webhooks import (
    DEFAULT_MAX_ATTEMPTS,
    MAX_RETRY_MS,
    integration_receives,
    retry_delay_ms,
    signature,
    webhook_receives,
)


def test_signature_is_lower_case_hex_hmac_sha1_of_the_raw_body() -> None:
    # RFC 2202's second HMAC-SHA1 test case.
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_first_retry_is_within_5_s_and_eight_attempts_span_over_an_hour(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  # jitter under test, not security
    delays = [retry_delay_ms(n, rng) for n in range(1, DEFAULT_MAX_ATTEMPTS)]
    assert 0 < delays[0] <= 5_000
    assert sum(delays) >= 3_600_000  # from the first attempt to the eighth
    assert delays == sorted(delays)


def test_retry_delays_are_jittered_down_by_at_most_half_and_capped() -> None:
    class Extreme(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    assert retry_delay_ms(1, Extreme(0.0)) == 2_000
    assert 1_000 < retry_delay_ms(1, Extreme(0.999999)) <= 1_001
    assert retry_delay_ms(50, Extreme(0.0)) == MAX_RETRY_MS
    with pytest.raises(ValueError, match="at least one failed attempt"):
        retry_delay_ms(0, Extreme(0.0))


def test_an_integration_gets_vercels_types_and_the_keyturn_types_it_listed() -> None:
    assert integration_receives(PROJECT_CONNECTED, ())
    assert integration_receives(DEPLOYMENT_CREATED, ())
    assert not integration_receives(SECRETS_UPDATED, ())
    assert integration_receives(SECRETS_UPDATED, (SECRETS_UPDATED,))
    assert not integration_receives(RESOURCE_DELETED, (SECRETS_UPDATED,))


def test_a_team_hook_gets_its_types_and_project_ids_narrow_project_events_only() -> None:
    assert webhook_receives(DEPLOYMENT_CREATED, (DEPLOYMENT_CREATED,), None, "prj_a")
    assert not webhook_receives(PROJECT_CONNECTED, (DEPLOYMENT_CREATED,), None, "prj_a")
    assert webhook_receives(DEPLOYMENT_CREATED, (DEPLOYMENT_CREATED,), ("prj_a",), "prj_a")
    assert not webhook_receives(DEPLOYMENT_CREATED, (DEPLOYMENT_CREATED,), ("prj_b",), "prj_a")
    # A resource event concerns no one project: projectIds do not narrow it.
    assert webhook_receives(SECRETS_UPDATED, (SECRETS_UPDATED,), ("prj_b",), None)
