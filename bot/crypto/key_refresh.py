"""A bounded second look at someone's keys before refusing them for a state that passes.

Right after the bot first shares a room with a person on another server, its own homeserver
re-syncs that person's device list and, for a moment, answers /keys/query without their
cross-signing keys (../shared/FIELD-NOTES.md). A verdict taken from that answer ("no
cross-signing identity", "unknown session") is not final: re-query a few times over a few
seconds before refusing. The wait is bounded and taken at most once per person per
REQUERY_EVERY, so a person who really has no identity waits seconds, not minutes, for
their refusal (off the sync loop: bot/second_looks.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pauses before each re-query (seconds): about 3 s in all.
REQUERY_DELAYS = (0.25, 0.5, 1.0, 1.5)
REQUERY_EVERY = 600.0


class Requery:
    """Re-run a key check, bounded, while its verdict is one a lagging server explains."""

    def __init__(
        self,
        delays: tuple[float, ...] = REQUERY_DELAYS,
        every: float = REQUERY_EVERY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delays = delays
        self.every = every
        self._sleep = sleep
        self._monotonic = monotonic
        self._last: dict[str, float] = {}

    def due(self, user_id: str) -> bool:
        """Whether a transient verdict on this person would be looked at again now."""
        last = self._last.get(user_id)
        return last is None or self._monotonic() - last >= self.every

    async def settle(
        self,
        user_id: str,
        verdict: T,
        transient: Callable[[T], bool],
        again: Callable[[], Awaitable[T]],
    ) -> T:
        """``verdict`` if final; else re-check (``again``) after each delay until it is."""
        if not transient(verdict):
            return verdict
        if not self.due(user_id):
            return verdict
        now = self._monotonic()
        self._last = {u: t for u, t in self._last.items() if now - t < self.every}
        self._last[user_id] = now
        for tries, delay in enumerate(self.delays, 1):
            await self._sleep(delay)
            verdict = await again()
            if not transient(verdict):
                log.info("keys of %s settled after %d re-queries", user_id, tries)
                self._last.pop(user_id, None)  # a later lag deserves another look
                return verdict
        log.info("keys of %s still incomplete after %d re-queries", user_id, len(self.delays))
        return verdict
