"""Property: any sequence of full and partial updates leaves the resource's secret set equal to
a plain-dict model of it, with versions 1, 2, 3 ... and no version for a no-op request."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyturn.app import Runtime
from tests.conftest import Partner

NAMES = ["DATABASE_URL", "PGHOST", "PGUSER", "NEXT_PUBLIC_KEY", "_TOKEN"]
VALUES = ["", "a", "b", "postgres://u:p@h/db", "ünïcode ✓", "x" * 70]
PREFIXES = [None, "ACME", "NEON2_"]
ENVIRONMENTS = ["production", "preview", "development"]

secret_items = st.builds(
    lambda name, value, prefix, overrides: {
        "name": name,
        "value": value,
        **({"prefix": prefix} if prefix is not None else {}),
        **({"environmentOverrides": overrides} if overrides else {}),
    },
    st.sampled_from(NAMES),
    st.sampled_from(VALUES),
    st.sampled_from(PREFIXES),
    st.dictionaries(st.sampled_from(ENVIRONMENTS), st.sampled_from(VALUES), max_size=3),
)
requests = st.builds(
    lambda secrets, partial: {
        "secrets": secrets,
        **({"partial": partial} if partial is not None else {}),
    },
    st.lists(secret_items, max_size=5, unique_by=lambda item: item["name"]),
    st.sampled_from([True, False, None]),
)

resource_numbers = itertools.count()


def _model_entry(item: dict[str, Any]) -> tuple[str, str | None, dict[str, str]]:
    return (item["value"], item.get("prefix"), item.get("environmentOverrides", {}))


def _stored(runtime: Runtime, partner: Partner, resource_id: str) -> dict[str, Any]:
    with runtime.store.read() as uow:
        resource = uow.resources.live(partner.installation_id, resource_id)
        assert resource is not None
        return {
            name: (secret.value, secret.prefix, dict(secret.environment_overrides))
            for name, secret in uow.secrets.current(resource).items()
        }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(requests, min_size=1, max_size=8))
def test_updates_match_a_dict_model(
    sequence: list[dict[str, Any]], partner: Partner, runtime: Runtime, client: TestClient
) -> None:
    resource_id = f"prop{next(resource_numbers)}"  # a fresh resource for every example
    partner.import_resource(resource_id)
    model: dict[str, tuple[str, str | None, dict[str, str]]] = {}
    version = 0
    for request in sequence:
        sent = {item["name"]: _model_entry(item) for item in request["secrets"]}
        updated = {**model, **sent} if request.get("partial") else sent
        if updated != model:
            version += 1
        model = updated

        status, body = partner.put_secrets(request, resource_id)
        assert (status, body) == (201, {})
        resource = partner.get_resource(resource_id)
        assert resource["secretNames"] == sorted(model)
        assert resource["secretsVersion"] == version
        assert _stored(runtime, partner, resource_id) == model
