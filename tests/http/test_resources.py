"""Resource import, patch, read, list and delete (CONTRACT.md 2.2)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import Partner
from tests.storage_snapshot import database_snapshot


def test_import_creates_resource_and_answers_its_name(partner: Partner, client: TestClient) -> None:
    response = client.put(
        partner.resource_path("db1"),
        json={
            "productId": partner.product_id,
            "name": "Main DB",
            "status": "ready",
            "ownership": "owned",
            "metadata": {"region": "fra1"},
            "billingPlan": {"id": "free", "type": "subscription", "name": "Free"},
            "notification": {"level": "info", "title": "ready"},
            "extras": {"tier": 1},
        },
        headers=partner.auth(),
    )
    assert (response.status_code, response.json()) == (200, {"name": "Main DB"})
    body = partner.get_resource("db1")
    assert body["id"] == "db1"
    assert str(body["internalId"]).startswith("res_")
    assert body["productId"] == partner.product_id
    assert (body["status"], body["ownership"]) == ("ready", "owned")
    assert body["metadata"] == {"region": "fra1"}
    assert body["billingPlan"] == {"id": "free", "type": "subscription", "name": "Free"}
    assert (body["secretsVersion"], body["secretNames"]) == (0, [])


def test_import_accepts_product_slug(partner: Partner, client: TestClient) -> None:
    response = client.put(
        partner.resource_path("db1"),
        json={"productId": partner.product_slug, "name": "n", "status": "ready"},
        headers=partner.auth(),
    )
    assert response.status_code == 200
    assert partner.get_resource("db1")["productId"] == partner.product_id


def test_import_again_updates_and_keeps_internal_id(partner: Partner) -> None:
    partner.import_resource("db1")
    first = partner.get_resource("db1")
    partner.import_resource("db1", name="Renamed", status="suspended")
    second = partner.get_resource("db1")
    assert second["internalId"] == first["internalId"]
    assert (second["name"], second["status"]) == ("Renamed", "suspended")


def test_import_with_secrets_replaces_the_whole_set(partner: Partner) -> None:
    partner.import_resource(
        "db1", secrets=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    )
    partner.import_resource("db1", secrets=[{"name": "C", "value": "3"}])
    body = partner.get_resource("db1")
    assert (body["secretNames"], body["secretsVersion"]) == (["C"], 2)


def test_import_with_unknown_product_is_404_and_changes_nothing(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = client.put(
        partner.resource_path("db1"),
        json={"productId": "iap_nope", "name": "n", "status": "ready"},
        headers=partner.auth(),
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert database_snapshot(runtime) == before


def test_import_with_bad_status_is_400_naming_it(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = client.put(
        partner.resource_path("db1"),
        json={"productId": partner.product_id, "name": "n", "status": "active"},
        headers=partner.auth(),
    )
    assert response.status_code == 400
    assert "status" in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


def test_import_with_invalid_secret_is_422_and_creates_nothing(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = client.put(
        partner.resource_path("db1"),
        json={
            "productId": partner.product_id,
            "name": "n",
            "status": "ready",
            "secrets": [{"name": "TZ", "value": "UTC"}],
        },
        headers=partner.auth(),
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "reserved_secret_name")
    assert database_snapshot(runtime) == before


def test_import_of_uninstalled_resource_with_secrets_is_422(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = client.put(
        partner.resource_path("db1"),
        json={
            "productId": partner.product_id,
            "name": "n",
            "status": "uninstalled",
            "secrets": [{"name": "A", "value": "1"}],
        },
        headers=partner.auth(),
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "resource_not_active")
    assert database_snapshot(runtime) == before


def test_patch_changes_only_given_fields(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1", metadata={"a": 1})
    response = client.patch(
        partner.resource_path("db1"), json={"status": "suspended"}, headers=partner.auth()
    )
    assert (response.status_code, response.json()) == (200, {"name": "db1"})
    body = partner.get_resource("db1")
    assert (body["status"], body["metadata"]) == ("suspended", {"a": 1})


def test_patch_with_secrets_array_replaces_the_set(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    response = client.patch(
        partner.resource_path("db1"),
        json={"secrets": [{"name": "B", "value": "2"}]},
        headers=partner.auth(),
    )
    assert response.status_code == 200
    assert partner.get_resource("db1")["secretNames"] == ["B"]


def test_patch_with_partial_secrets_object_keeps_others(
    partner: Partner, client: TestClient
) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    response = client.patch(
        partner.resource_path("db1"),
        json={"secrets": {"secrets": [{"name": "B", "value": "2"}], "partial": True}},
        headers=partner.auth(),
    )
    assert response.status_code == 200
    body = partner.get_resource("db1")
    assert (body["secretNames"], body["secretsVersion"]) == (["A", "B"], 2)


def test_patch_unknown_resource_is_404(partner: Partner, client: TestClient) -> None:
    response = client.patch(partner.resource_path("nope"), json={}, headers=partner.auth())
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_patch_with_unknown_key_is_400(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1")
    response = client.patch(
        partner.resource_path("db1"), json={"colour": "red"}, headers=partner.auth()
    )
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["message"]


def test_list_shows_live_resources_with_partner_ids(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1")
    partner.import_resource("db2")
    response = client.get(
        f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth()
    )
    assert response.status_code == 200
    listed = response.json()["resources"]
    assert [r["partnerId"] for r in listed] == ["db1", "db2"]
    assert all(r["internalId"].startswith("res_") for r in listed)


def test_delete_answers_204_then_resource_is_gone(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    response = client.delete(partner.resource_path("db1"), headers=partner.auth())
    assert (response.status_code, response.content) == (204, b"")
    assert client.get(partner.resource_path("db1"), headers=partner.auth()).status_code == 404
    listed = client.get(
        f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth()
    )
    assert listed.json() == {"resources": []}
    assert client.delete(partner.resource_path("db1"), headers=partner.auth()).status_code == 404


def test_deleted_resource_can_be_imported_again_as_a_new_resource(
    partner: Partner, client: TestClient
) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    old_internal_id = partner.get_resource("db1")["internalId"]
    client.delete(partner.resource_path("db1"), headers=partner.auth())
    partner.import_resource("db1")
    body = partner.get_resource("db1")
    assert body["internalId"] != old_internal_id
    assert (body["secretsVersion"], body["secretNames"]) == (0, [])


def test_resource_endpoints_refuse_user_tokens(partner: Partner, client: TestClient) -> None:
    partner.import_resource("db1")
    headers = partner.auth(partner.user_token)
    assert client.get(partner.resource_path("db1"), headers=headers).status_code == 403
    assert client.delete(partner.resource_path("db1"), headers=headers).status_code == 403
    listed = client.get(f"/v1/installations/{partner.installation_id}/resources", headers=headers)
    assert listed.status_code == 403
