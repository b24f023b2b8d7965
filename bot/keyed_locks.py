"""Locks by name (a person, a room), taken several at a time in one order, and dropped
when nobody holds or waits for them: one slow holder never blocks the others' names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}  # holders and waiters of each lock

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold the lock of each key; sorted, so two holders of overlapping sets never
        wait on each other in a circle."""
        names = sorted(set(keys))
        for name in names:
            self._users[name] = self._users.get(name, 0) + 1
        try:
            async with AsyncExitStack() as stack:
                for name in names:
                    await stack.enter_async_context(self._locks.setdefault(name, asyncio.Lock()))
                yield
        finally:
            for name in names:
                self._users[name] -= 1
                if not self._users[name]:
                    del self._users[name], self._locks[name]
