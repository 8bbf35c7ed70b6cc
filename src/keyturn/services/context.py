"""What every use case is handed: the store, the authenticator and the readiness check."""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.services.auth import Authenticator
from keyturn.services.operations import Readiness
from keyturn.storage.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    authenticator: Authenticator
    readiness: Readiness
