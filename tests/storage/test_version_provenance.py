"""Each secrets version records what made it (CONTRACT.md 5.1 `source`)."""

from __future__ import annotations

from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.tables import secrets_versions
from tests.conftest import Partner


def _sources(runtime: Runtime) -> list[tuple[int, str, str | None]]:
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(
            select(
                secrets_versions.c.version,
                secrets_versions.c.source,
                secrets_versions.c.rotation_id,
            ).order_by(secrets_versions.c.version)
        ).all()
    return [(row.version, row.source, row.rotation_id) for row in rows]


def test_import_update_and_patch_each_record_their_source(
    runtime: Runtime, partner: Partner
) -> None:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "v1"}])
    assert partner.put_secrets({"secrets": [{"name": "URL", "value": "v2"}]})[0] == 201
    patched = partner.client.patch(
        partner.resource_path("db1"),
        json={"secrets": [{"name": "URL", "value": "v3"}]},
        headers=partner.auth(),
    )
    assert patched.status_code == 200
    # A no-op update makes no version, so it records nothing either.
    assert partner.put_secrets({"secrets": [{"name": "URL", "value": "v3"}]})[0] == 201

    assert _sources(runtime) == [(1, "import", None), (2, "update", None), (3, "patch", None)]
