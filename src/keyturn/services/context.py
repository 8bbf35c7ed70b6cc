"""What every use case is handed: storage, time, ids, the authenticator, the readiness check,
and the outgoing ports (the partner's API) with the settings of the rotation lifecycle.

Services take a `ServiceContext` as their first parameter, so that what varies between a server,
a test and the emulator (the clock above all) is chosen once, at the composition root.
`clock` and `ids` are the store's own, so a timestamp a repository writes and one a service
computes come from the same clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.outbound.signing import ParsedKeys
from keyturn.services.auth import Authenticator
from keyturn.services.operations import Readiness
from keyturn.services.ports import PartnerApi
from keyturn.storage.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    authenticator: Authenticator
    readiness: Readiness
    partner_api: PartnerApi
    # How long a rotation request may stay pending (KEYTURN_ROTATION_TIMEOUT_H).
    rotation_timeout_ms: int
    # The `iss` of partner tokens (KEYTURN_OIDC_ISSUER); None: the request's base URL.
    oidc_issuer: str | None = None
    parsed_keys: ParsedKeys = field(default_factory=ParsedKeys)

    @property
    def clock(self) -> Clock:
        return self.store.clock

    @property
    def ids(self) -> IdSource:
        return self.store.ids
