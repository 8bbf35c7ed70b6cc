"""What every use case is handed: storage, time, ids, the authenticator and the readiness check.

Services take a `ServiceContext` as their first parameter, so that what varies between a server,
a test and the emulator (the clock above all) is chosen once, at the composition root.
`clock` and `ids` are the store's own, so a timestamp a repository writes and one a service
computes come from the same clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.services.auth import Authenticator
from keyturn.services.operations import Readiness
from keyturn.storage.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    authenticator: Authenticator
    readiness: Readiness

    @property
    def clock(self) -> Clock:
        return self.store.clock

    @property
    def ids(self) -> IdSource:
        return self.store.ids
