"""Repository queries that take id lists must work past a statement's bind-parameter limit.

PostgreSQL binds at most 65,535 parameters per statement; a resource connected to more projects
than that must still be updatable (found by the benchmark: a name-adding PUT would fail).
"""

from __future__ import annotations

from keyturn.app import Runtime

MANY = 70_000


def test_id_list_queries_accept_more_ids_than_one_statement_binds(runtime: Runtime) -> None:
    ids = [f"prj_{n:07d}" for n in range(MANY)]
    with runtime.store.write() as uow:
        uow.projects.lock(ids)
        assert uow.env_vars.keys(ids) == []
        assert uow.connections.of_projects(ids) == []
        assert uow.secrets.current_names_and_prefixes(ids) == {}
        assert uow.secrets.current_of(dict.fromkeys(ids, "icfg_x")) == {}
        assert uow.deployments.of_projects(ids, target=None, limit=5) == []
        assert uow.deployments.count_of_projects(ids, target=None) == 0
