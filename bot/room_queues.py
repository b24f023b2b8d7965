"""One queue and one worker per room: order kept within a room, rooms run concurrently,
and an idle room's queue and worker let go (or every room ever seen stays in memory)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from bot.parking import Parking, describe, is_fenced
from commands.context import Incoming

log = logging.getLogger(__name__)

PROCESS_ATTEMPTS = 3  # a store error on one event: tried this often, then parked


class RoomQueues:
    def __init__(
        self, process: Callable[[Incoming], Awaitable[object]], parking: Parking, language: str
    ) -> None:
        self._process = process  # handles one event exactly once (Dispatcher.process)
        self.parking = parking
        self.language = language  # of a parked command's notice, when its reader's is unknown
        self._queues: dict[str, asyncio.Queue[Incoming]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, incoming: Incoming) -> None:
        # IDs only, never the body: the log-hygiene tests read the DEBUG log for bodies.
        log.debug("queued %s from %s in %s", incoming.event_id, incoming.sender, incoming.room_id)
        queue = self._queues.setdefault(incoming.room_id, asyncio.Queue())
        queue.put_nowait(incoming)
        self._inflight += 1
        self._idle.clear()
        worker = self._workers.get(incoming.room_id)
        if worker is None or worker.done():
            self._workers[incoming.room_id] = asyncio.create_task(
                self._room_worker(incoming.room_id)
            )

    async def _room_worker(self, room_id: str) -> None:
        queue = self._queues[room_id]
        while not queue.empty():
            incoming = queue.get_nowait()
            try:
                await self._process_or_park(incoming)
            finally:
                self._inflight -= 1
                if self._inflight == 0:
                    self._idle.set()
        # Idle: let the room's queue and worker go, or every room ever seen stays in memory.
        if self._workers.get(room_id) is asyncio.current_task():
            del self._workers[room_id]
            self._queues.pop(room_id, None)

    async def _process_or_park(self, incoming: Incoming) -> None:
        """The store failed (not the handler, whose errors bot/invoke.py answers): tried again
        twice (a database failover), then parked, and the room's next event goes on."""
        for attempt in range(PROCESS_ATTEMPTS):
            try:
                await self._process(incoming)
                return
            except Exception as exc:
                if is_fenced(exc):  # the instance that holds the lease handles it
                    log.info("dispatch: not recording %s: lease lost", incoming.event_id)
                    return
                if attempt + 1 < PROCESS_ATTEMPTS:
                    log.warning(
                        "dispatch: could not record %s (%s); trying again",
                        incoming.event_id,
                        describe(exc),
                    )
                    await asyncio.sleep(0.5 * 4**attempt)
                    continue
                await self.parking.park_command(incoming, exc, secrets.token_hex(4), self.language)

    async def drain(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
