"""`GET {partner or owner path}/secrets/versions` (CONTRACT.md 5.1): names, never values."""

from __future__ import annotations

import pytest

from keyturn.app import Runtime
from keyturn.domain.secrets import Secret, VersionProvenance
from keyturn.services.secrets import apply_secrets, find_live_resource
from tests.conftest import Partner, seed_partner
from tests.http.lifecycle.conftest import Ledger
from tests.storage_snapshot import database_snapshot


def test_versions_list_added_changed_and_removed_names_newest_first(ledger: Ledger) -> None:
    ledger.put({"A": "a-value-1", "B": "b-value-1"})
    ledger.put({"A": "a-value-2", "C": "c-value-1"})
    ledger.put({"C": "c-value-2"}, partial=True)
    body = ledger.versions()
    assert body["currentVersion"] == 3
    assert [
        (v["version"], v["source"], v["rotationId"], v["added"], v["changed"], v["removed"])
        for v in body["versions"]
    ] == [
        (3, "update", None, [], ["C"], []),
        (2, "update", None, ["C"], ["A"], ["B"]),
        (1, "update", None, ["A", "B"], [], []),
    ]
    created = [v["createdAt"] for v in body["versions"]]
    assert created == sorted(created, reverse=True)
    assert ledger.versions(owner=True) == body
    assert "value" not in ledger.get("/secrets/versions").text


def test_a_name_is_changed_when_only_its_prefix_or_an_override_changed(
    ledger: Ledger, partner: Partner
) -> None:
    def put(secret: dict[str, object]) -> None:
        status, body = partner.put_secrets({"secrets": [secret]})
        assert status == 201, body

    put({"name": "A", "value": "same"})
    put({"name": "A", "value": "same", "prefix": "ACME"})
    put({"name": "A", "value": "same", "prefix": "ACME", "environmentOverrides": {"preview": "p"}})
    put({"name": "A", "value": "same", "prefix": "ACME", "environmentOverrides": {"preview": "p"}})
    versions = ledger.versions()["versions"]
    assert [(v["version"], v["changed"]) for v in versions] == [(3, ["A"]), (2, ["A"]), (1, [])]


def test_versions_name_the_import_and_patch_that_made_them(
    ledger: Ledger, partner: Partner, client: object
) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "one"}])
    response = partner.client.patch(
        partner.resource_path("db1"),
        json={"secrets": {"secrets": [{"name": "B", "value": "two"}], "partial": True}},
        headers=partner.auth(),
    )
    assert response.status_code == 200, response.text
    assert [(v["source"], v["added"]) for v in ledger.versions()["versions"]] == [
        ("patch", ["B"]),
        ("import", ["A"]),
    ]


def test_a_version_completing_a_rotation_names_it(ledger: Ledger, runtime: Runtime) -> None:
    ledger.put({"A": "one"})
    with runtime.store.write() as uow:
        resource = find_live_resource(uow, ledger.partner.installation_id, "db1", for_update=True)
        apply_secrets(
            uow,
            resource,
            [Secret(name="A", value="two")],
            partial=True,
            provenance=VersionProvenance(source="rotation", rotation_id="rot_abc"),
        )
        uow.commit()
    newest = ledger.versions()["versions"][0]
    assert (newest["source"], newest["rotationId"], newest["changed"]) == (
        "rotation",
        "rot_abc",
        ["A"],
    )


def test_versions_page_with_limit_and_until(ledger: Ledger) -> None:
    for number in range(1, 24):
        ledger.put({"A": f"value-{number}"})
    assert [v["version"] for v in ledger.versions()["versions"]] == list(range(23, 3, -1))
    first = ledger.versions(limit="5")["versions"]
    assert [v["version"] for v in first] == [23, 22, 21, 20, 19]
    after = ledger.versions(limit="5", until=str(first[-1]["version"]))["versions"]
    assert [v["version"] for v in after] == [18, 17, 16, 15, 14]
    assert [v["version"] for v in ledger.versions(until="3", limit="100")["versions"]] == [2, 1]
    assert ledger.versions(until="1")["versions"] == []
    assert ledger.versions(until="1")["currentVersion"] == 23


def test_a_resource_without_secrets_has_no_versions(ledger: Ledger) -> None:
    assert ledger.versions() == {"currentVersion": 0, "versions": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"until": "0"}, "until"),
        ({"until": "x"}, "until"),
        ({"until": "99999999999999999999"}, "until"),
    ],
)
def test_a_bad_limit_or_until_is_a_400_naming_it(
    ledger: Ledger, runtime: Runtime, params: dict[str, str], field: str
) -> None:
    ledger.put({"A": "one"})
    before = database_snapshot(runtime)
    for owner in (False, True):
        response = ledger.get("/secrets/versions", owner=owner, **params)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert error["message"].startswith(f"{field}:")
        assert error["fields"][0]["key"] == field
    assert database_snapshot(runtime) == before


def test_versions_of_an_unknown_or_deleted_resource_are_a_404(
    ledger: Ledger, partner: Partner
) -> None:
    ledger.put({"A": "one"})
    assert (
        partner.client.delete(partner.resource_path("db1"), headers=partner.auth()).status_code
        == 204
    )
    for owner in (False, True):
        response = ledger.get("/secrets/versions", owner=owner, limit="0")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    missing = partner.client.get(
        partner.resource_path("nope") + "/secrets/versions", headers=partner.auth()
    )
    assert missing.status_code == 404


def test_versions_refuse_tokens_that_do_not_reach_the_resource(
    ledger: Ledger, partner: Partner
) -> None:
    ledger.put({"A": "one"})
    other = seed_partner(partner.client, "other")
    client = partner.client
    partner_path = ledger.partner_path() + "/secrets/versions"
    owner_path = ledger.owner_path() + "/secrets/versions"
    assert client.get(partner_path).status_code == 401
    assert client.get(owner_path, headers={"Authorization": "Bearer kt_nope"}).status_code == 401
    refused = [
        client.get(partner_path, headers=other.auth()),  # another installation's token
        client.get(partner_path, headers=ledger.workspace.headers),  # a user token
        client.get(owner_path, headers=other.auth(other.user_token)),  # another team
        client.get(owner_path, headers=partner.auth()),  # an integration token
        client.get(owner_path, params={"teamId": other.team_id}, headers=ledger.workspace.headers),
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(403, "forbidden")] * 5
