"""Which pinned master key counts for a person, and whether a verification holds for it:
the one rule the store API (commands/verified.py) and releasability (commands/markings)
both apply. Pure: no store, no settings object beyond what `from_settings` copies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pins:
    """The operator's pins (trusted_identities) and whether only they count (strict)."""

    configured: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> Pins:
        return cls(dict(settings.trusted_identities), settings.trust_mode == "strict")

    def pin(self, user_id: str, stored: str | None) -> str | None:
        """The key the bot trusts for this person (as bot/crypto/identities.py's `_pin`):
        the configured one, else the store's (`stored`), and in strict mode only the first."""
        configured = self.configured.get(user_id)
        if configured is not None:
            return configured
        return None if self.strict else stored

    def holds(
        self, user_id: str, *, stored: str | None, pending: str | None, verified: str | None
    ) -> bool:
        """Whether a verification of the key `verified` counts now: it is the pinned key,
        and no changed key is waiting for it (a changed identity is not verified)."""
        pin = self.pin(user_id, stored)
        if pin is None or verified != pin:
            return False
        return pending is None or stored != pin
