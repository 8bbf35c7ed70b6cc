"""Conditional writes (CONTRACT.md 5.5): ETag, If-Match and If-None-Match, 412 before the body."""

from __future__ import annotations

from typing import Any

import pytest

from keyturn.app import Runtime
from tests.conftest import Partner
from tests.storage_snapshot import database_snapshot

SECRETS = {"secrets": [{"name": "A", "value": "2"}]}


@pytest.fixture
def at_version_2(partner: Partner) -> Partner:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    assert partner.put_secrets({"secrets": [{"name": "A", "value": "1b"}]})[0] == 201
    return partner


def _put(partner: Partner, body: Any, *, by_product: bool = False, **headers: str) -> Any:
    path = partner.resource_path() + "/secrets"
    if by_product:
        path = (
            f"/v1/installations/{partner.installation_id}/products/{partner.product_slug}"
            "/resources/db1/secrets"
        )
    return partner.client.put(path, json=body, headers={**partner.auth(), **headers})


def test_resource_get_carries_its_secrets_version_as_etag(at_version_2: Partner) -> None:
    response = at_version_2.client.get(at_version_2.resource_path(), headers=at_version_2.auth())
    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'


def test_resource_without_secrets_has_etag_zero(partner: Partner) -> None:
    partner.import_resource("db1")
    response = partner.client.get(partner.resource_path(), headers=partner.auth())
    assert response.headers["ETag"] == '"0"'


def test_secrets_put_answers_the_new_version_as_etag(at_version_2: Partner) -> None:
    response = _put(at_version_2, SECRETS)
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"3"'
    assert response.json() == {}


def test_noop_secrets_put_answers_the_current_version_as_etag(at_version_2: Partner) -> None:
    response = _put(at_version_2, {"secrets": [{"name": "A", "value": "1b"}]})
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize("by_product", [False, True])
@pytest.mark.parametrize("if_match", ['"2"', '"1", "2"', "*", ' "7","2" '])
def test_secrets_put_with_a_matching_if_match_writes(
    at_version_2: Partner, by_product: bool, if_match: str
) -> None:
    response = _put(at_version_2, SECRETS, by_product=by_product, **{"If-Match": if_match})
    assert response.status_code == 201, response.text
    assert at_version_2.get_resource()["secretsVersion"] == 3


@pytest.mark.parametrize("by_product", [False, True])
@pytest.mark.parametrize("if_match", ['"1"', '"1", "3"', 'W/"2"', '"02"'])
def test_secrets_put_with_a_stale_if_match_is_412_naming_the_version_and_changes_nothing(
    at_version_2: Partner, runtime: Runtime, by_product: bool, if_match: str
) -> None:
    before = database_snapshot(runtime)
    response = _put(at_version_2, SECRETS, by_product=by_product, **{"If-Match": if_match})
    assert response.status_code == 412, response.text
    error = response.json()["error"]
    assert error["code"] == "precondition_failed"
    assert "version is 2" in error["message"]
    assert database_snapshot(runtime) == before


def test_noop_secrets_put_with_a_stale_if_match_is_412(at_version_2: Partner) -> None:
    response = _put(
        at_version_2, {"secrets": [{"name": "A", "value": "1b"}]}, **{"If-Match": '"1"'}
    )
    assert response.status_code == 412, response.text


def test_stale_if_match_is_412_before_the_body_is_read(at_version_2: Partner) -> None:
    response = at_version_2.client.put(
        at_version_2.resource_path() + "/secrets",
        content=b"not json",
        headers={**at_version_2.auth(), "If-Match": '"1"'},
    )
    assert response.status_code == 412, response.text


def test_unknown_resource_is_404_before_if_match(partner: Partner) -> None:
    response = _put(partner, SECRETS, **{"If-Match": '"1"'})
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("if_match", ["2", '"2', "W/2", ","])
def test_malformed_if_match_is_400_naming_the_header(
    at_version_2: Partner, runtime: Runtime, if_match: str
) -> None:
    before = database_snapshot(runtime)
    response = _put(at_version_2, SECRETS, **{"If-Match": if_match})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("If-Match")
    assert database_snapshot(runtime) == before


def test_patch_with_a_stale_if_match_is_412_before_the_body(
    at_version_2: Partner, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = at_version_2.client.patch(
        at_version_2.resource_path(),
        content=b"[",
        headers={**at_version_2.auth(), "If-Match": '"1"'},
    )
    assert response.status_code == 412, response.text
    assert "version is 2" in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


def test_patch_with_a_matching_if_match_writes(at_version_2: Partner) -> None:
    response = at_version_2.client.patch(
        at_version_2.resource_path(),
        json={"name": "renamed", "secrets": [{"name": "A", "value": "3"}]},
        headers={**at_version_2.auth(), "If-Match": '"2"'},
    )
    assert response.status_code == 200, response.text
    resource = at_version_2.get_resource()
    assert (resource["name"], resource["secretsVersion"]) == ("renamed", 3)


def test_rollback_with_a_stale_if_match_is_412_before_the_body(
    at_version_2: Partner, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = at_version_2.client.post(
        at_version_2.resource_path() + "/secrets/rollback",
        json={"version": "not a number"},
        headers={**at_version_2.auth(), "If-Match": '"1"'},
    )
    assert response.status_code == 412, response.text
    assert database_snapshot(runtime) == before


def test_rollback_with_a_matching_if_match_writes(at_version_2: Partner) -> None:
    response = at_version_2.client.post(
        at_version_2.resource_path() + "/secrets/rollback",
        json={"version": 1},
        headers={**at_version_2.auth(), "If-Match": '"2"'},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"version": 3}


def _import(partner: Partner, **headers: str) -> Any:
    return partner.client.put(
        partner.resource_path(),
        json={"productId": partner.product_id, "name": "db1", "status": "ready"},
        headers={**partner.auth(), **headers},
    )


def test_import_with_if_none_match_star_creates_a_new_resource(partner: Partner) -> None:
    response = _import(partner, **{"If-None-Match": "*"})
    assert response.status_code == 200, response.text
    assert partner.get_resource()["name"] == "db1"


def test_import_with_if_none_match_star_of_an_existing_resource_is_412_and_changes_nothing(
    at_version_2: Partner, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = _import(at_version_2, **{"If-None-Match": "*"})
    assert response.status_code == 412, response.text
    assert response.json()["error"]["code"] == "precondition_failed"
    assert "already exists" in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


def test_import_of_a_deleted_resource_with_if_none_match_star_creates_it_again(
    partner: Partner,
) -> None:
    partner.import_resource("db1")
    deleted = partner.client.delete(partner.resource_path(), headers=partner.auth())
    assert deleted.status_code == 204
    assert _import(partner, **{"If-None-Match": "*"}).status_code == 200
