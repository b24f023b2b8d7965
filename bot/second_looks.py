"""Sender checks that wait on the homeserver, run off the sync loop.

A verdict the server's lag may explain is looked at again for a few seconds
(bot/crypto/key_refresh.py). Awaited in the sync loop, those seconds held every other
person's commands; here each such check runs as a task of its own, so the loop goes on
with everyone else. One person's checks stay in order: while one of theirs waits, their
later events queue behind it (and are judged on what it found).

While any check is pending the loop does not save its sync position (bot/sync.py): a
crash then replays those events rather than losing them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class SecondLooks:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}  # each sender's newest check

    def waiting(self, sender: str) -> bool:
        """Whether a check of this sender's is pending (their next events queue behind it)."""
        task = self._tails.get(sender)
        return task is not None and not task.done()

    @property
    def pending(self) -> bool:
        return any(not task.done() for task in self._tails.values())

    def run(self, sender: str, check: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `check` after this sender's pending ones, off the caller's loop iteration."""
        before = self._tails.get(sender)
        task = asyncio.create_task(self._after(before, check), name=f"second-look {sender}")
        self._tails[sender] = task
        task.add_done_callback(lambda done: self._done(sender, done))

    async def _after(
        self, before: asyncio.Task[None] | None, check: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        await check()

    def _done(self, sender: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(sender) is task:
            del self._tails[sender]
        if not task.cancelled() and task.exception() is not None:
            # The check parks its own failures (bot/parking.py); this is a last resort.
            log.error("a deferred sender check failed: %s", type(task.exception()).__name__)

    def stop(self) -> None:
        """Shutting down: what is pending is replayed from the unsaved sync position."""
        for task in self._tails.values():
            task.cancel()
