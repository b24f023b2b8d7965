"""The sync loop: filtered long-poll, one response at a time, and the saved position.

Each response is handed to the loop's collaborators: invitations (bot/invites.py), the
bot's rooms, names and members (bot/membership.py, bot/dm_lifecycle.py), gaps filled
(bot/backfill.py), and every event through the gate to the dispatcher (bot/gate.py).

The sync token is saved only after every event of that sync is recorded or queued, so a
crash replays events rather than losing them; the dispatcher's event ledger makes the
replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from nio import AsyncClient, SyncError, SyncResponse

from bot import kv, room_list
from bot.backfill import backfill, failure, mark
from bot.clock import Clock
from bot.dispatch import Dispatcher
from bot.dm_lifecycle import DmLifecycle
from bot.gate import Gate, TrustPolicy
from bot.invites import Invites
from bot.membership import Membership
from bot.metrics import Metrics
from bot.parking import Parking
from bot.refusals import Refusals
from bot.store import Store
from bot.undecrypted import Undecrypted
from config import Settings

log = logging.getLogger(__name__)

SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 100},
        "state": {"lazy_load_members": True},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# Short enough that the bot is back within seconds of the homeserver (one cheap request
# every few seconds while it is down); a long cap made recovery wait up to 30 s.
SYNC_BACKOFF_CAP = 5.0


@dataclass
class SyncLoop:
    client: AsyncClient
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    metrics: Metrics
    clock: Clock
    trust: TrustPolicy | None = None
    on_synced: Any = None  # callable() after each completed sync (health)
    kick: Any = None  # callable() that wakes the outbox
    on_recovered: Any = None  # callable() once sync works again after failures
    on_left: Any = None  # callable(room_id) when the bot is no longer in a room (roomgc)
    # Commands the homeserver shows were answered before a restore (bot/recovery.py): not
    # run again, and not reported as unreadable when the fresh device cannot decrypt them.
    answered: set[str] = field(default_factory=set)
    on_members: Any = None  # callable(room_id) when a room's membership changed (recipients)
    verifier: Any = None  # bot/verification/runtime.Verifications (to-device and DM events)
    full_state_first: bool = False  # ask for full state at the first sync (after a restore)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _poll: asyncio.Task[Any] | None = None
    _key_query: asyncio.Task[None] | None = None  # nio's device tracking, off the loop
    parking: Parking = field(init=False)
    refusals: Refusals = field(init=False)
    undecrypted: Undecrypted = field(init=False)
    gate: Gate = field(init=False)
    dms: DmLifecycle = field(init=False)
    membership: Membership = field(init=False)
    invites: Invites = field(init=False)

    def __post_init__(self) -> None:
        client, settings, store, metrics, clock = (
            self.client,
            self.settings,
            self.store,
            self.metrics,
            self.clock,
        )
        self.parking = Parking(store, metrics, clock)
        self.refusals = Refusals(store, settings, metrics, clock, self.kick)
        self.undecrypted = Undecrypted(
            client,
            settings,
            store,
            self.dispatcher,
            metrics,
            clock,
            self.refusals,
            self.answered,
            self.kick,
        )
        self.gate = Gate(
            client,
            settings,
            store,
            self.dispatcher,
            metrics,
            self.refusals,
            self.undecrypted,
            self.trust,
            self.verifier,
            self.parking,
        )
        self.dms = DmLifecycle(client, settings, store, metrics, clock, self.kick)
        self.membership = Membership(client, store, clock, self.parking, self.dms, self.on_members)
        self.invites = Invites(
            client,
            settings,
            store,
            self.dispatcher,
            metrics,
            clock,
            self.parking,
            self.dms,
            self.kick,
        )

    def stop(self) -> None:
        self._stop.set()
        self.invites.stop()
        self.gate.later.stop()
        # A long-poll in flight has nothing to finish: nothing of it was recorded yet.
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()
        if self._key_query is not None and not self._key_query.done():
            self._key_query.cancel()

    async def run(self) -> None:
        token = await kv.get(self.store, "sync_token")
        first = token is None
        # nio keeps no room list on disk: the rooms come from the store (bot/room_list.py)
        # when it holds them all, and the first sync resumes from the saved token; if not,
        # it asks for full state, or rooms quiet since the token would stay unknown.
        flags = None
        if not first and not self.full_state_first:
            flags = await room_list.restore(self.client, self.store)
        full_state = flags is None
        if flags is not None:
            self.membership.known_rooms(flags)
            log.info("resuming with %d rooms from the store", len(flags))
            await self.invites.resume()  # joins still being retried when it stopped
        catching_up = True  # the first sync of this process: no long-poll
        listed: str | None = None  # the room list's state, saved with the next token
        failures = 0
        while not self._stop.is_set():
            try:
                resp = await self._sync_once(token, first or catching_up, full_state)
            except asyncio.CancelledError:
                if self._stop.is_set():
                    return
                raise
            except Exception as exc:
                resp = exc
            if not isinstance(resp, SyncResponse):
                failures += 1
                delay = min(SYNC_BACKOFF_CAP, 0.5 * 2 ** min(failures, 6))
                log.warning("sync failed (%s); retrying in %.1fs", failure(resp), delay)
                await self._sleep(delay)
                continue
            if failures:
                log.info("sync recovered after %d failures", failures)
                if self.on_recovered is not None:
                    self.on_recovered()
            failures = 0
            marks, rooms_noted = await self._handle(resp, first, full_state)
            if catching_up:  # first sync of this process: the client knows its rooms now
                await self.undecrypted.reload(self.gate.route)
            # The stored room list is complete from a full-state sync on, until a write of
            # it fails (then the next process asks for full state again): kept until saved.
            if not rooms_noted:
                listed = room_list.INCOMPLETE
            elif full_state and listed != room_list.INCOMPLETE:
                listed = room_list.COMPLETE
            full_state = catching_up = False
            await self._after_sync()
            token, first = resp.next_batch, False
            # The token must not run ahead of the ledger, or a crash would skip commands:
            # save it (with the per-room marks) only once the dispatcher has recorded all,
            # and no sender check is still pending off the loop (bot/second_looks.py).
            checking = self.gate.later.pending  # before the drain: it covers what they submit
            if not await self.dispatcher.drain(timeout=120):
                log.warning("dispatch is slow; sync position not saved this round")
            elif not checking and not self.gate.later.pending:
                await self._save_position(token, marks, listed)
                listed = None if listed == room_list.COMPLETE else listed
            if self.on_synced is not None:
                self.on_synced()

    async def _sync_once(
        self, token: str | None, first: bool, full_state: bool = False
    ) -> SyncResponse | SyncError:
        timeout = 0 if first or full_state else self.settings.sync_timeout_ms
        send_task = asyncio.create_task(self.client.send_to_device_messages())
        self._poll = asyncio.create_task(
            self.client.sync(
                timeout=timeout, sync_filter=SYNC_FILTER, since=token, full_state=full_state
            )
        )
        try:
            return await self._poll
        finally:
            self._poll = None
            await asyncio.gather(send_task, return_exceptions=True)

    async def _after_sync(self) -> None:
        """Keep the device's keys and sessions current, as nio's sync_forever would."""
        client = self.client
        tasks = []
        if client.should_upload_keys:
            tasks.append(client.keys_upload())
        if client.should_query_keys and (self._key_query is None or self._key_query.done()):
            # Off the loop: a query naming a slow or hung server (bounded there,
            # bot/federation_calls.py) holds up nobody's commands; a send waits only for a
            # query about its own room's members (bot/transport.py).
            self._key_query = asyncio.create_task(self._query_keys(), name="keys-query")
        if client.should_claim_keys:
            tasks.append(client.keys_claim(client.get_users_for_key_claiming()))
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("key maintenance failed: %s", type(result).__name__)
        await self.undecrypted.retry(self.gate.route)

    async def _query_keys(self) -> None:
        try:
            await self.client.keys_query()
        except Exception as exc:  # the next sync that finds someone outdated asks again
            log.warning("key maintenance failed: %s", type(exc).__name__)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    # -- one sync response ---------------------------------------------------------------

    async def _handle(
        self, resp: SyncResponse, first: bool, full_state: bool = False
    ) -> tuple[dict[str, str], bool]:
        """Route every event; returns the newest event per room (where the next gap stops),
        and whether the store's room list took this sync's joins and leaves."""
        marks: dict[str, str] = {}
        rooms_noted = False
        changed = list(resp.device_list.changed) + list(resp.device_list.left)
        if changed and self.trust is not None:
            self.trust.forget(changed)
        if self.verifier is not None:
            for event in resp.to_device_events:
                source = getattr(event, "source", None)
                if isinstance(source, dict):
                    async with self.parking.guard("verification"):
                        await self.verifier.on_to_device(source)
        for room_id, info in resp.rooms.invite.items():
            async with self.parking.guard("invite", event_id=f"invite:{room_id}", room_id=room_id):
                await self.invites.handle(room_id, info.invite_state)
        async with self.parking.guard("dm_candidates"):
            await self.dms.settle_candidates()
        async with self.parking.guard("rooms"):
            await self.membership.note_rooms(resp, full_state=full_state)
            rooms_noted = True
        async with self.parking.guard("names"):
            await self.membership.remember_names(
                [e for i in resp.rooms.join.values() for e in [*i.state, *i.timeline.events]]
            )
        for room_id, info in resp.rooms.join.items():
            await self.membership.changed(room_id, list(info.state) + list(info.timeline.events))
            events = list(info.timeline.events)
            if events:
                marks[room_id] = mark(events[-1])
            if first:
                continue  # history from before the bot's first start is not addressed to it
            if info.timeline.limited:
                older = await backfill(self.client, self.store, room_id, info.timeline.prev_batch)
                events = older + events
            for event in events:
                # One bad event must not stop the loop: it is parked (bot/parking.py).
                async with self.parking.guard(
                    "route",
                    event_id=event.event_id,
                    room_id=room_id,
                    sender=getattr(event, "sender", None),
                ):
                    await self.gate.route(room_id, event)
        for room_id in resp.rooms.leave:
            if room_id not in resp.rooms.join:  # gone: forget it in memory (bot/roomgc.py)
                self.refusals.forget_room(room_id)
                if self.on_left is not None:
                    self.on_left(room_id)
        return marks, rooms_noted

    # -- position ------------------------------------------------------------------------

    async def _save_position(
        self, token: str, marks: dict[str, str], listed: str | None = None
    ) -> None:
        """The token, the rooms' marks and the room list's state, all at once."""
        items = [("sync_token", token)] + [(f"room_mark:{r}", m) for r, m in marks.items()]
        if listed is not None:
            items.append((room_list.KEY, listed))
        if len(items) <= 400:  # one statement, atomic on its own: one database trip, not 3
            rows = ", ".join(["(?, ?)"] * len(items))
            await self.store.write_one(
                f"INSERT INTO kv (key, value) VALUES {rows} "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [v for item in items for v in item],
            )
            return
        async with self.store.write() as db:
            await db.executemany(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                items,
            )
