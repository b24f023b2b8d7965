"""Invitations: accepted from allowed people within their budget and room cap, declined
otherwise; joins that fail for a while are retried in the background (bot/joins.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nio import AsyncClient, InviteMemberEvent, JoinError

from bot import joins, kv, ratelimit
from bot.clock import Clock
from bot.dispatch import Dispatcher
from bot.dm_lifecycle import DmLifecycle
from bot.metrics import Metrics
from bot.parking import Parking
from bot.store import Store
from config import Settings

log = logging.getLogger(__name__)

JOINING = "joining:"  # kv: room -> [inviter, is_direct] while its join is being retried


@dataclass
class Invites:
    client: AsyncClient
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    metrics: Metrics
    clock: Clock
    parking: Parking
    dms: DmLifecycle
    kick: Callable[[], None] | None = None  # wakes the outbox
    # room -> (its inviter, the join under way with its retries)
    _joins: dict[str, tuple[str, asyncio.Task[None]]] = field(default_factory=dict)

    def stop(self) -> None:
        for _inviter, task in list(self._joins.values()):
            task.cancel()

    async def handle(self, room_id: str, state: list[Any]) -> None:
        invite = next(
            (
                e
                for e in state
                if isinstance(e, InviteMemberEvent)
                and e.state_key == self.client.user_id
                and e.membership == "invite"
            ),
            None,
        )
        if invite is None:
            return
        if not await self._answer(room_id, invite):
            # Declined, joined or refused: a join kept from an earlier process is settled.
            await kv.delete(self.store, JOINING + room_id)

    async def _answer(self, room_id: str, invite: InviteMemberEvent) -> bool:
        """Decline or join; True while a join is being retried in the background."""
        inviter = invite.sender
        if not self.settings.is_allowed(inviter):
            self.metrics.refused.labels("invite_not_allowed").inc()
            log.info("declining invite to %s from a sender not allowed in", room_id)
            await self.client.room_leave(room_id)
            return False
        # Joins still being retried count against the cap like rooms joined: otherwise a
        # person whose rooms' server answers slowly could queue any number of them.
        pending = sum(
            1 for room, (who, _task) in self._joins.items() if who == inviter and room != room_id
        )
        async with self.store.write() as db:  # one budget and a cap of rooms per person
            why = await ratelimit.refuse_invite(
                self.dispatcher.limiter,
                db,
                self.settings,
                inviter,
                room_id,
                self.clock.now(),
                pending=pending,
            )
        if why is not None:
            self.metrics.refused.labels(f"invite_over_{why}").inc()
            log.info("declining invite to %s: the inviter is over the %s limit", room_id, why)
            await self.client.room_leave(room_id)
            if self.kick is not None:
                self.kick()
            return False
        if room_id in self._joins:  # a join (and its retries) is under way already
            return True
        direct = bool((invite.content or {}).get("is_direct"))
        resp = await joins.join_once(self.client, room_id)
        if joins.transient(resp):  # retried in the background (bot/joins.py)
            # Kept in the store until settled: a restart resumes from the saved sync token
            # (bot/room_list.py), whose syncs do not show this invitation again.
            await kv.put(self.store, JOINING + room_id, json.dumps([inviter, direct]))
            self._join_in_background(room_id, inviter, direct)
            return True
        await self._joined(room_id, inviter, direct, resp)
        return False

    async def resume(self) -> None:
        """Joins still being retried when the last process stopped: retried again."""
        for room_id, value in await kv.under(self.store, JOINING):
            try:
                inviter, direct = json.loads(value)
            except (ValueError, TypeError):
                await kv.delete(self.store, JOINING + room_id)
                continue
            if not self.settings.is_allowed(str(inviter)):  # no longer allowed in
                await kv.delete(self.store, JOINING + room_id)
                continue
            if room_id not in self._joins:
                self._join_in_background(room_id, str(inviter), bool(direct))

    def _join_in_background(self, room_id: str, inviter: str, direct: bool) -> None:
        task = asyncio.create_task(self._join_later(room_id, inviter, direct))
        self._joins[room_id] = (inviter, task)
        task.add_done_callback(lambda _t: self._settled(room_id))

    def _settled(self, room_id: str) -> None:
        self._joins.pop(room_id, None)

    async def _join_later(self, room_id: str, inviter: str, direct: bool) -> None:
        async with self.parking.guard("join", event_id=f"invite:{room_id}", room_id=room_id):
            resp = await joins.join_with_retry(self.client, room_id)
            if not joins.transient(resp):  # joined or refused: nothing left to retry
                await kv.delete(self.store, JOINING + room_id)
            await self._joined(room_id, inviter, direct, resp)

    async def _joined(self, room_id: str, inviter: str, direct: bool, resp: object) -> None:
        """After the join: count the room against the inviter; note a possible DM."""
        if resp is None or isinstance(resp, JoinError):
            reason = resp.status_code if resp is not None else "no answer"
            log.warning("could not join %s: %s", room_id, reason)
            return
        log.info("joined %s on an invite", room_id)
        async with self.store.write() as db:
            await ratelimit.note_joined_for(db, room_id, inviter)
        if direct:
            await self.dms.candidate(room_id, inviter)
