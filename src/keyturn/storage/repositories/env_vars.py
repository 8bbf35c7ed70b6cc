"""The variables a project's users set themselves, each value sealed to its row.

Integration variables are never stored here: they are derived from connections when read.
Reads that need no value (conflict checks, upserts) do not decrypt any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, delete, insert, select, true, update

from keyturn.domain.clock import Clock
from keyturn.domain.environment import UserEnvVar
from keyturn.domain.envkeys import ENVIRONMENTS, in_standard_order
from keyturn.domain.ids import IdSource
from keyturn.storage.driver import DriverStatement
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import batches
from keyturn.storage.repositories.columns import environment_columns, environments_of
from keyturn.storage.tables import user_env_vars


def _in_target(target: str) -> Select[Any]:
    return (
        select(
            user_env_vars.c.id,
            user_env_vars.c.key,
            user_env_vars.c.type,
            user_env_vars.c.git_branch,
            user_env_vars.c.value_ciphertext,
        )
        .where(
            user_env_vars.c.project_id == bindparam("project_id"), user_env_vars.c[f"in_{target}"]
        )
        .order_by(user_env_vars.c.key, user_env_vars.c.created_at)
    )


# A project's variables in one target, as env pull reads them: built once per target, run on
# the driver's connection (storage/driver.py).
IN_TARGET: dict[str, DriverStatement] = {
    target: DriverStatement(_in_target(target)) for target in ENVIRONMENTS
}


class EnvVarRepository:
    def __init__(
        self, connection: Connection, keys: KeyRing, *, clock: Clock, ids: IdSource
    ) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids
        self._keys = keys

    def add(
        self,
        project_id: str,
        *,
        key: str,
        value: str,
        type_: str,
        targets: Sequence[str],
        git_branch: str | None,
        comment: str | None,
    ) -> UserEnvVar:
        now = self._clock.now_ms()
        var = UserEnvVar(
            id=self._ids.env_var_id(),
            project_id=project_id,
            key=key,
            value=value,
            type=type_,
            targets=in_standard_order(targets),
            git_branch=git_branch,
            comment=comment,
            created_at=now,
            updated_at=now,
        )
        self._connection.execute(insert(user_env_vars).values(**self._values(var)))
        return var

    def replace(self, var: UserEnvVar) -> None:
        """Store `var` (same id) with its new key, value, type, targets, branch and comment."""
        values = self._values(var)
        del values["id"], values["created_at"]
        self._connection.execute(
            update(user_env_vars).where(user_env_vars.c.id == var.id).values(**values)
        )

    def delete(self, var_id: str) -> None:
        self._connection.execute(delete(user_env_vars).where(user_env_vars.c.id == var_id))

    def get(self, project_id: str, var_id: str) -> UserEnvVar | None:
        row = self._connection.execute(
            select(user_env_vars).where(
                user_env_vars.c.project_id == project_id, user_env_vars.c.id == var_id
            )
        ).first()
        return self._user_var(row) if row else None

    def of_project(self, project_id: str) -> list[UserEnvVar]:
        rows = self._connection.execute(
            select(user_env_vars)
            .where(user_env_vars.c.project_id == project_id)
            .order_by(user_env_vars.c.key, user_env_vars.c.created_at)
        ).all()
        return [self._user_var(row) for row in rows]

    def in_target(self, project_id: str, target: str) -> list[tuple[str, str, str, str | None]]:
        """(key, value, type, git branch) of the project's variables in `target`, in the
        order `of_project` lists them; only these are decrypted."""
        rows = IN_TARGET[target].rows(self._connection, {"project_id": project_id})
        open_sealed = self._keys.open
        return [
            (
                key,
                open_sealed(sealed, associated_data=user_var_identity(project_id, var_id)),
                kind,
                git_branch,
            )
            for var_id, key, kind, git_branch, sealed in rows
        ]

    def keys(
        self, project_ids: Iterable[str], only_keys: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, tuple[str, ...], str | None]]:
        """(id, project, key, targets, git branch) of these projects' variables, without
        decrypting; with `only_keys`, of the variables with those keys alone."""
        key_filter = (
            user_env_vars.c.key.in_(sorted(set(only_keys))) if only_keys is not None else true()
        )
        rows = [
            row
            for batch in batches(project_ids)
            for row in self._connection.execute(
                select(
                    user_env_vars.c.id,
                    user_env_vars.c.project_id,
                    user_env_vars.c.key,
                    user_env_vars.c.git_branch,
                    user_env_vars.c.in_production,
                    user_env_vars.c.in_preview,
                    user_env_vars.c.in_development,
                )
                .where(user_env_vars.c.project_id.in_(batch), key_filter)
                .order_by(user_env_vars.c.key, user_env_vars.c.created_at)
            )
        ]
        return [
            (row.id, row.project_id, row.key, environments_of(row), row.git_branch) for row in rows
        ]

    def _values(self, var: UserEnvVar) -> dict[str, Any]:
        return {
            "id": var.id,
            "project_id": var.project_id,
            "key": var.key,
            "type": var.type,
            "git_branch": var.git_branch,
            "comment": var.comment,
            "value_ciphertext": self._keys.seal(
                var.value, associated_data=user_var_identity(var.project_id, var.id)
            ),
            "created_at": var.created_at,
            "updated_at": var.updated_at,
            **environment_columns(var.targets),
        }

    def _user_var(self, row: Row[Any]) -> UserEnvVar:
        return UserEnvVar(
            id=row.id,
            project_id=row.project_id,
            key=row.key,
            value=self._keys.open(
                row.value_ciphertext, associated_data=user_var_identity(row.project_id, row.id)
            ),
            type=row.type,
            targets=environments_of(row),
            git_branch=row.git_branch,
            comment=row.comment,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def user_var_identity(project_id: str, var_id: str) -> str:
    """Associated data of a user env value (also used by sealed_columns.py to re-seal it)."""
    return f"user-env/{project_id}/{var_id}"
