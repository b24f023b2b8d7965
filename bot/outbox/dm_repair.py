"""A usable DM with a person, checked before every send to them: the known one while it
still is one, else a fresh one; someone the bot must not or cannot write to is
Undeliverable (and, when that will not change by itself, remembered as unreachable)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot.clock import Clock
from bot.dm_rooms import DM_PERSON_GONE
from bot.recipients import Recipients
from bot.send_error import SendError
from bot.store import Store
from commands import delivery
from commands.context import utc_iso

log = logging.getLogger(__name__)


class DmTransport(Protocol):
    async def dm_room(self, user_id: str) -> str: ...
    async def dm_problem(self, room_id: str, user_id: str) -> str | None: ...
    async def has_devices(self, user_id: str) -> bool: ...


class Undeliverable(Exception):
    """This person cannot be reached now; the message fails and its sender is told."""


class DmRepair:
    def __init__(
        self,
        store: Store,
        transport: DmTransport,
        clock: Clock,
        recipients: Recipients,
        is_allowed: Callable[[str], bool] | None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.recipients = recipients
        # The allow-list, applied to every DM recipient (None only in tests of retries).
        self.is_allowed = is_allowed

    async def dm_room(self, row_id: int, user_id: str) -> str:
        """A usable DM with this person: the known one if it still is, else a fresh one.

        Usable means encrypted, holding only the bot and the person, who is joined or
        invited (transport.dm_problem). Raises Undeliverable for someone the bot must not
        or cannot write to.
        """
        if self.is_allowed is not None and not self.is_allowed(user_id):
            raise Undeliverable(delivery.NOT_ALLOWED)
        async with self.store.reader.execute(
            "SELECT reason FROM unreachable_people WHERE user_id = ?", (user_id,)
        ) as cur:
            unreachable = await cur.fetchone()
        if unreachable is not None:
            raise Undeliverable(str(unreachable[0]))
        async with self.store.reader.execute(
            "SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,)
        ) as cur:
            found = await cur.fetchone()
        if found is not None:
            problem = await self.transport.dm_problem(found[0], user_id)
            if problem is None:
                problem = await self._server_dm_problem(found[0], user_id)
            if problem is None:
                return str(found[0])
            log.info(
                "outbox: the DM for row %d is not usable (%s); making a new one", row_id, problem
            )
            async with self.store.write() as db:
                await db.execute(
                    "DELETE FROM dm_rooms WHERE user_id = ? AND room_id = ?", (user_id, found[0])
                )
        if not await self.transport.has_devices(user_id):
            raise Undeliverable(delivery.NO_DEVICES)  # not marked: they may log in again
        try:
            room_id = await self.transport.dm_room(user_id)
        except SendError as exc:
            if not exc.permanent:
                raise
            await self.mark_unreachable(user_id, delivery.NO_ACCOUNT)
            raise Undeliverable(delivery.NO_ACCOUNT) from exc
        if await self.transport.dm_problem(room_id, user_id) == DM_PERSON_GONE:
            # They rejected the invitation while the bot waited for them to join.
            await self.mark_unreachable(user_id, delivery.REJECTED)
            raise Undeliverable(delivery.REJECTED)
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
                (user_id, room_id),
            )
        return str(room_id)

    async def mark_unreachable(self, user_id: str, reason: str) -> None:
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO unreachable_people (user_id, reason, since) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason",
                (user_id, reason, utc_iso(self.clock.now())),
            )

    async def _server_dm_problem(self, room_id: str, user_id: str) -> str | None:
        """Why the server's members make this room no DM with this person (None: it is)."""
        try:
            if await self.recipients.is_dm(room_id, user_id):
                return None
        except SendError as exc:
            if not exc.permanent:
                raise
            return "its members cannot be read"  # e.g. the bot left it: a new DM
        return "someone else is in it, or they are not (as the server has it)"
