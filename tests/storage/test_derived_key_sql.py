"""The SQL form of the key rule (used by the name-adding conflict check) equals the Python one.

`ConnectionRepository.first_taken_key` derives other connections' keys in the database; if its
expression drifted from `derive_env_key`, a PUT would miss a conflict or invent one.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, literal, select

from keyturn.app import Runtime
from keyturn.domain.envkeys import derive_env_key
from keyturn.storage.repositories.connections import derived_key_sql

names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.from_regex(r"NEXT_PUBLIC_[A-Za-z0-9_]{0,8}", fullmatch=True),
    st.sampled_from(["NEXT_PUBLIC_", "NEXT_PUBLIC", "_", "next_public_x"]),
)
prefixes = st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}_?", fullmatch=True))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=names, secret_prefix=prefixes, connection_prefix=prefixes)
def test_sql_key_equals_the_domain_key(
    runtime: Runtime, name: str, secret_prefix: str | None, connection_prefix: str | None
) -> None:
    expression = derived_key_sql(
        literal(name, String), literal(secret_prefix, String), literal(connection_prefix, String)
    )
    with runtime.store.engine.connect() as connection:
        derived = connection.execute(select(expression)).scalar_one()
    assert derived == derive_env_key(name, secret_prefix, connection_prefix)
