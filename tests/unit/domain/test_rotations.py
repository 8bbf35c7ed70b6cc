"""Reading a partner's answer to a rotation request, and the token's claims (CONTRACT.md 5.3)."""

from __future__ import annotations

from typing import Any

import pytest

from keyturn.domain.rotations import (
    PARTNER_BAD_RESPONSE,
    ROTATION_TIMED_OUT,
    AsyncRotation,
    PartnerAnswered,
    PartnerClaims,
    PartnerFailed,
    Rotation,
    RotationError,
    SyncRotation,
    read_partner_reply,
)
from keyturn.domain.secrets import Secret


def test_sync_answer_carries_the_secrets_and_partial() -> None:
    outcome = read_partner_reply(
        PartnerAnswered(
            200,
            {
                "sync": True,
                "partial": True,
                "secrets": [
                    {"name": "PGPASSWORD", "value": "new", "prefix": "ACME"},
                    {"name": "URL", "value": "u", "environmentOverrides": {"preview": "p"}},
                ],
            },
        )
    )
    assert isinstance(outcome, SyncRotation)
    assert outcome.partial is True
    assert outcome.secrets == (
        Secret("PGPASSWORD", "new", "ACME"),
        Secret("URL", "u", None, {"preview": "p"}),
    )


@pytest.mark.parametrize("status", [200, 202])
def test_async_answer_is_200_or_202_with_sync_false(status: int) -> None:
    assert read_partner_reply(PartnerAnswered(status, {"sync": False})) == AsyncRotation()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, None),
        (200, []),
        (200, {}),
        (200, {"sync": "true"}),
        (200, {"sync": True}),
        (200, {"sync": True, "secrets": {}}),
        (200, {"sync": True, "secrets": [], "partial": "yes"}),
        (200, {"sync": True, "secrets": ["PGPASSWORD"]}),
        (200, {"sync": True, "secrets": [{"name": "A"}]}),
        (200, {"sync": True, "secrets": [{"name": "A", "value": 1}]}),
        (200, {"sync": True, "secrets": [{"name": "A", "value": "v", "extra": 1}]}),
        (200, {"sync": True, "secrets": [{"name": "A", "value": "v", "prefix": None}]}),
        (
            200,
            {
                "sync": True,
                "secrets": [{"name": "A", "value": "v", "environmentOverrides": {"x": "y"}}],
            },
        ),
        (200, {"sync": True, "secrets": [{"name": "A", "value": "nul\x00"}]}),
        (202, {"sync": True, "secrets": []}),
        (201, {"sync": False}),
        (204, None),
        (302, None),
        (400, {"error": "nope"}),
        (500, {"error": {"code": ""}}),
        (500, {"error": {"code": "x" * 101}}),
    ],
)
def test_any_other_answer_is_a_bad_response(status: int, body: Any) -> None:
    outcome = read_partner_reply(PartnerAnswered(status, body))
    assert isinstance(outcome, RotationError)
    assert outcome.code == PARTNER_BAD_RESPONSE


def test_bad_response_names_the_part_that_is_wrong_but_no_value() -> None:
    outcome = read_partner_reply(
        PartnerAnswered(200, {"sync": True, "secrets": [{"name": "A", "value": 7}]})
    )
    assert isinstance(outcome, RotationError)
    assert "secrets[0].value" in outcome.message


def test_partner_error_code_and_message_are_kept() -> None:
    outcome = read_partner_reply(
        PartnerAnswered(409, {"error": {"code": "busy_rotating", "message": "later"}})
    )
    assert outcome == RotationError("busy_rotating", "later")


def test_partner_error_without_a_usable_message_gets_keyturns() -> None:
    outcome = read_partner_reply(PartnerAnswered(503, {"error": {"code": "down", "message": 5}}))
    assert isinstance(outcome, RotationError)
    assert outcome.code == "down"
    assert outcome.message


def test_no_answer_keeps_the_clients_code() -> None:
    outcome = read_partner_reply(PartnerFailed("partner_timeout", "too slow"))
    assert outcome == RotationError("partner_timeout", "too slow")


def test_claims_are_vercels_with_a_five_minute_expiry() -> None:
    claims = PartnerClaims(
        issuer="https://marketplace.vercel.com",
        client_id="oac_1",
        team_id="team_1",
        installation_id="icfg_1",
        user_id="user_1",
    ).at(1_700_000_000_999)
    assert claims == {
        "iss": "https://marketplace.vercel.com",
        "aud": "oac_1",
        "sub": "account:team_1:user:user_1",
        "account_id": "team_1",
        "installation_id": "icfg_1",
        "user_id": "user_1",
        "user_role": "ADMIN",
        "iat": 1_700_000_000,
        "exp": 1_700_000_300,
    }


def _pending(**overrides: Any) -> Rotation:
    fields: dict[str, Any] = {
        "id": "rot_1",
        "resource_internal_id": "res_1",
        "resource_id": "db1",
        "status": "pending",
        "reason": None,
        "delay_hours": 1.5,
        "requested_at": 1_000,
        "requested_by": "user_1",
        "deadline_at": 5_000,
    }
    return Rotation(**{**fields, **overrides})


def test_pending_rotation_fails_at_its_deadline_and_not_before() -> None:
    assert _pending().as_seen_at(4_999).status == "pending"
    seen = _pending().as_seen_at(5_000)
    assert seen.status == "failed"
    assert seen.error is not None
    assert seen.error.code == ROTATION_TIMED_OUT


def test_ended_rotation_is_seen_as_it_ended() -> None:
    completed = _pending(status="completed", completed_at=2_000, version=3)
    assert completed.as_seen_at(10_000) == completed


def test_delay_in_hours_becomes_milliseconds() -> None:
    assert _pending().superseded_expire_after_ms == 5_400_000
    assert _pending(delay_hours=None).superseded_expire_after_ms is None
