"""What every use case is handed: the store and the authenticator, built by the app."""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.services.auth import Authenticator
from keyturn.storage.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    authenticator: Authenticator
