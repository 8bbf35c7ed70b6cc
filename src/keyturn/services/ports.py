"""The outgoing calls services make, as the interfaces they are handed through the context.

The implementations live in `keyturn.outbound` and are chosen by the composition root.
"""

from __future__ import annotations

from typing import Protocol

from keyturn.domain.rotations import PartnerReply
from keyturn.outbound.partner import RotationCall


class PartnerApi(Protocol):
    """A partner's API: `outbound.partner.HttpPartnerClient` over HTTP."""

    def request_rotation(self, call: RotationCall) -> PartnerReply:
        """The partner's answer to a rotation request, after the client's own retries."""
        ...
