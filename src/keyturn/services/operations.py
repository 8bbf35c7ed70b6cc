"""Operational checks."""

from __future__ import annotations

from keyturn.storage.unit_of_work import Store


def database_answers(store: Store) -> bool:
    return store.ping()
