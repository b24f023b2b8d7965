"""What the verification commands may ask of the runtime's verifier (bot/verification/):
a port, so that `commands/` stays free of nio. The runtime sets `Context.verifier`."""

from __future__ import annotations

import enum
from typing import Protocol

KIND = "VF"  # the verification's typed ID (commands/ids.py): `VF-3`


class Decision(enum.Enum):
    """How an admin's confirm or reject was taken."""

    DONE = "done"
    UNKNOWN = "unknown"  # no such verification (or it is over)
    NOT_YET = "not_yet"  # the emoji are not known yet
    NOT_ASKED = "not_asked"  # this admin was not among those asked (not verified, or the subject)


class Verifier(Protocol):
    def pending_with(self, user_id: str) -> int | None:
        """The number of a verification with this person still running, if any."""
        ...

    def request(self, number: int, user_id: str, by: str) -> None:
        """Send this person a verification request in their DM (in the background; a DM is
        made if there is none)."""
        ...

    async def decide(self, number: int, admin: str, *, confirm: bool) -> Decision:
        """An admin compared the emoji with the person: same (confirm) or not."""
        ...
