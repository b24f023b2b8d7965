"""The sync loop: filtered long-poll, gap filling, invites, and what reaches the dispatcher.

The sync token is saved only after every event of that sync is recorded or queued, so a
crash replays events rather than losing them; the dispatcher's event ledger makes the
replay harmless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    RoomGetEventResponse,
    RoomMemberEvent,
    RoomMessagesError,
    RoomMessagesResponse,
    SyncError,
    SyncResponse,
)
from nio.events import Event

from bot import joins, ratelimit
from bot.clock import Clock
from bot.crypto import replay
from bot.dispatch import Dispatcher
from bot.edits import load_chain
from bot.matrix import SendError, server_members
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.own_words import command_text, pill_names
from bot.parking import Parking
from bot.store import Store
from commands import delivery
from commands.context import Incoming, OutMessage, utc_iso
from commands.i18n import N_, _, language
from commands.outbox_row import Queued
from commands.people import reader_language
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
BACKFILL_PAGES = 20
# Short enough that the bot is back within seconds of the homeserver (one cheap request
# every few seconds while it is down); a long cap made recovery wait up to 30 s.
SYNC_BACKOFF_CAP = 5.0
UNENCRYPTED_REFUSAL = N_(
    "I only work in end-to-end encrypted rooms, so I will not act on anything in the "
    "unencrypted room {room} (and I never write there). Use this encrypted chat instead, "
    "or enable encryption in that room."
)
UNDECRYPTABLE = N_(
    "I could not decrypt a message you sent, so I did not act on it. Make sure your session "
    "is verified (Element: Settings → Sessions), then send it again."
)


class TrustPolicy(Protocol):
    """Decides whether a decrypted event's sending device may command the bot."""

    async def check_sender(self, event: Event, room_id: str) -> Any:
        """None if trusted; otherwise a Refusal(reason, device_id, values), explained once
        (its reason an English template, rendered in the sender's language)."""
        ...

    def forget(self, user_ids: list[str]) -> None:
        """Their keys changed on the server: judge them afresh next time."""
        ...


@dataclass
class PendingDecryption:
    event: MegolmEvent
    room_id: str
    since: float
    requested: bool = False


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
    _pending: dict[str, PendingDecryption] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _poll: asyncio.Task[Any] | None = None
    # When each (room, person, device) was last told why it is refused (monotonic seconds).
    _refusals_told: dict[tuple[str, str, str | None], float] = field(default_factory=dict)
    _room_flags: dict[str, int] = field(default_factory=dict)  # room -> encrypted, as stored
    _joins: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # room -> join under way
    parking: Parking = field(init=False)

    def __post_init__(self) -> None:
        self.parking = Parking(self.store, self.metrics, self.clock)

    def stop(self) -> None:
        self._stop.set()
        for task in list(self._joins.values()):
            task.cancel()
        # A long-poll in flight has nothing to finish: nothing of it was recorded yet.
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()

    async def run(self) -> None:
        token = await self._kv("sync_token")
        first = token is None
        # nio keeps no room list on disk: the first sync of every process asks for full
        # state, or rooms quiet since the saved token stay unknown and sends to them fail.
        full_state = True
        failures = 0
        while not self._stop.is_set():
            try:
                resp = await self._sync_once(token, first, full_state)
            except asyncio.CancelledError:
                if self._stop.is_set():
                    return
                raise
            except Exception as exc:
                resp = exc
            if not isinstance(resp, SyncResponse):
                failures += 1
                delay = min(SYNC_BACKOFF_CAP, 0.5 * 2 ** min(failures, 6))
                log.warning("sync failed (%s); retrying in %.1fs", _reason(resp), delay)
                await self._sleep(delay)
                continue
            if failures:
                log.info("sync recovered after %d failures", failures)
                if self.on_recovered is not None:
                    self.on_recovered()
            failures = 0
            marks = await self._handle(resp, first)
            if full_state:  # first sync of this process: the client knows its rooms now
                await self._reload_pending()
            full_state = False
            await self._after_sync()
            token, first = resp.next_batch, False
            # The token must not run ahead of the ledger, or a crash would skip commands:
            # save it (with the per-room marks) only once the dispatcher has recorded all.
            if await self.dispatcher.drain(timeout=120):
                await self._save_position(token, marks)
            else:
                log.warning("dispatch is slow; sync position not saved this round")
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
        if client.should_query_keys:
            tasks.append(client.keys_query())
        if client.should_claim_keys:
            tasks.append(client.keys_claim(client.get_users_for_key_claiming()))
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("key maintenance failed: %s", type(result).__name__)
        await self._retry_decryption()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    # -- one sync response ---------------------------------------------------------------

    async def _handle(self, resp: SyncResponse, first: bool) -> dict[str, str]:
        """Route every event; returns the newest event per room (where the next gap stops)."""
        marks: dict[str, str] = {}
        changed = list(resp.device_list.changed) + list(resp.device_list.left)
        if changed and self.trust is not None:
            self.trust.forget(changed)
        for room_id, info in resp.rooms.invite.items():
            async with self.parking.guard("invite", event_id=f"invite:{room_id}", room_id=room_id):
                await self._invite(room_id, info.invite_state)
        async with self.parking.guard("dm_candidates"):
            await self._settle_dm_candidates()
        async with self.parking.guard("rooms"):
            await self._note_rooms(resp)
        async with self.parking.guard("names"):
            await self._remember_names(
                [e for i in resp.rooms.join.values() for e in [*i.state, *i.timeline.events]]
            )
        for room_id, info in resp.rooms.join.items():
            await self._memberships(room_id, list(info.state) + list(info.timeline.events))
            events = list(info.timeline.events)
            if events:
                newest = events[-1]
                marks[room_id] = json.dumps(
                    {"event_id": newest.event_id, "ts": newest.server_timestamp}
                )
            if first:
                continue  # history from before the bot's first start is not addressed to it
            if info.timeline.limited:
                events = await self._backfill(room_id, info.timeline.prev_batch) + events
            for event in events:
                # One bad event must not stop the loop: it is parked (bot/parking.py).
                async with self.parking.guard(
                    "route",
                    event_id=event.event_id,
                    room_id=room_id,
                    sender=getattr(event, "sender", None),
                ):
                    await self._route(room_id, event)
        for room_id in resp.rooms.leave:
            if room_id not in resp.rooms.join:  # gone: forget it in memory (bot/roomgc.py)
                self._refusals_told = {
                    k: at for k, at in self._refusals_told.items() if k[0] != room_id
                }
                if self.on_left is not None:
                    self.on_left(room_id)
        return marks

    async def _invite(self, room_id: str, state: list[Any]) -> None:
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
        inviter = invite.sender
        if not self.settings.is_allowed(inviter):
            self.metrics.refused.labels("invite_not_allowed").inc()
            log.info("declining invite to %s from a sender not allowed in", room_id)
            await self.client.room_leave(room_id)
            return
        async with self.store.write() as db:  # one budget and a cap of rooms per person
            why = await ratelimit.refuse_invite(
                self.dispatcher.limiter, db, self.settings, inviter, room_id, self.clock.now()
            )
        if why is not None:
            self.metrics.refused.labels(f"invite_over_{why}").inc()
            log.info("declining invite to %s: the inviter is over the %s limit", room_id, why)
            await self.client.room_leave(room_id)
            if self.kick is not None:
                self.kick()
            return
        if room_id in self._joins:  # a join (and its retries) is under way already
            return
        resp = await joins.join_once(self.client, room_id)
        if joins.transient(resp):  # retried in the background (bot/joins.py)
            task = asyncio.create_task(self._join_later(room_id, inviter, invite))
            self._joins[room_id] = task
            task.add_done_callback(lambda _t: self._joins.pop(room_id, None))
            return
        await self._joined(room_id, inviter, invite, resp)

    async def _join_later(self, room_id: str, inviter: str, invite: InviteMemberEvent) -> None:
        async with self.parking.guard("join", event_id=f"invite:{room_id}", room_id=room_id):
            resp = await joins.join_with_retry(self.client, room_id)
            await self._joined(room_id, inviter, invite, resp)

    async def _joined(
        self, room_id: str, inviter: str, invite: InviteMemberEvent, resp: object
    ) -> None:
        """After the join: count the room against the inviter; note a possible DM."""
        if resp is None or isinstance(resp, JoinError):
            reason = resp.status_code if resp is not None else "no answer"
            log.warning("could not join %s: %s", room_id, reason)
            return
        log.info("joined %s on an invite", room_id)
        async with self.store.write() as db:
            await ratelimit.note_joined_for(db, room_id, inviter)
        if (invite.content or {}).get("is_direct"):
            # Perhaps the person's own DM with the bot: it becomes the room the bot
            # writes to them in only once its state shows it encrypted and private
            # (_settle_dm_candidates), never on the say-so of an invite.
            async with self.store.write() as db:
                await db.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (f"dm_candidate:{room_id}", inviter),
                )
                # They came back: the bot may write to them again.
                await db.execute("DELETE FROM unreachable_people WHERE user_id = ?", (inviter,))

    async def _note_rooms(self, resp: SyncResponse) -> None:
        """Keep the store's list of the bot's rooms and their encryption current, so a
        command can refuse an unencrypted post or summit room when it is set."""
        joined = [
            (r, int(bool(room.encrypted)), utc_iso(self.clock.now()))
            for r in resp.rooms.join
            if (room := self.client.rooms.get(r)) is not None
            and self._room_flags.get(r) != int(bool(room.encrypted))
        ]
        left = [(r,) for r in resp.rooms.leave]
        if not joined and not left:
            return
        self._room_flags.update({r: flag for r, flag, _at in joined})
        for (r,) in left:
            self._room_flags.pop(r, None)
        async with self.store.write() as db:
            await db.executemany(
                "INSERT INTO bot_rooms (room_id, encrypted, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (room_id) DO UPDATE SET encrypted = excluded.encrypted, "
                "updated_at = excluded.updated_at",
                joined,
            )
            await db.executemany("DELETE FROM bot_rooms WHERE room_id = ?", left)
            await ratelimit.forget_rooms(db, [r for (r,) in left])

    async def _settle_dm_candidates(self) -> None:
        """A joined DM invite becomes the person's DM if it is encrypted and holds only
        the bot and them; an unencrypted or shared one never does (and is never written to)."""
        async with self.store.reader.execute(
            "SELECT key, value FROM kv WHERE key LIKE 'dm_candidate:%'"
        ) as cur:
            rows = await cur.fetchall()
        for key, user_id in rows:
            room_id = key.removeprefix("dm_candidate:")
            room = self.client.rooms.get(room_id)
            if room is None:
                if room_id not in self.client.invited_rooms:
                    await self._del_kv(key)
                continue
            # The server's members, not nio's lazily loaded ones: someone invited before
            # the bot joined makes it a room, never a DM (bot/recipients.py); after a remote
            # (partial-state) join the first syncs list only the bot.
            try:  # bounded: a partial-state room waits on the remote server
                others = await asyncio.wait_for(
                    server_members(self.client, room_id), joins.STATE_TIMEOUT
                )
            except TimeoutError:
                continue  # asked again after the next sync
            except SendError as exc:
                if not exc.permanent:
                    continue
                others = None  # unreadable: not a DM (fail closed)
            usable = bool(room.encrypted) and others == [user_id]
            async with self.store.write() as db:
                await db.execute("DELETE FROM kv WHERE key = ?", (key,))
                if usable:  # the person's newest DM with the bot is where it writes to them
                    await db.execute(
                        "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
                        "ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
                        (user_id, room_id),
                    )
            if not usable:
                self.metrics.refused.labels("dm_not_private_or_encrypted").inc()
                log.warning("a DM invite to %s is not encrypted and private; not a DM", room_id)

    async def _memberships(self, room_id: str, events: list[Any]) -> None:
        """Notice from sync (not from a failed send) that a person left or rejected a DM.

        A left DM still accepts the bot's sends, so waiting for failure would mark messages
        sent that nobody reads. The DM is forgotten (the next message makes a new one); a
        rejected invitation makes the person unreachable until they contact the bot; what
        was sent there unread is failed and reported to whoever it was sent for.
        """
        for event in events:
            if isinstance(event, RoomMemberEvent) and self.on_members is not None:
                self.on_members(room_id)
            if isinstance(event, RoomMemberEvent) and event.membership in ("join", "invite"):
                await self._no_longer_a_dm(room_id, event.state_key)
            if (
                not isinstance(event, RoomMemberEvent)
                or event.membership not in ("leave", "ban")
                or event.state_key == self.client.user_id
            ):
                continue
            async with self.parking.guard(
                "membership", event_id=event.event_id, room_id=room_id, sender=event.sender
            ):
                await self._person_left(
                    room_id, event.state_key, event.prev_membership, event.server_timestamp
                )

    async def _no_longer_a_dm(self, room_id: str, user_id: str) -> None:
        """Someone other than its person joined or was invited into a DM: it is a room now
        (commands read it as one); what was queued for its person goes to a new DM
        (bot/recipients.py decides that at send time)."""
        if user_id == self.client.user_id:
            return
        async with self.store.write() as db:
            cur = await db.execute(
                "DELETE FROM dm_rooms WHERE room_id = ? AND user_id != ? RETURNING user_id",
                (room_id, user_id),
            )
            was_dm = await cur.fetchone() is not None
            await cur.close()
        if was_dm:
            log.info("someone else joined or was invited into a DM; it is a room now")
            self.metrics.refused.labels("dm_shared").inc()

    async def _person_left(self, room_id: str, user_id: str, prev: str | None, ts_ms: int) -> None:
        rejected = prev == "invite"
        reason = delivery.REJECTED if rejected else delivery.LEFT
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            cur = await db.execute(
                "DELETE FROM dm_rooms WHERE user_id = ? AND room_id = ? RETURNING room_id",
                (user_id, room_id),
            )
            was_dm = await cur.fetchone() is not None
            await cur.close()
            if not was_dm:
                return
            await delivery.dm_abandoned(db, user_id, room_id)
            if rejected:
                await db.execute(
                    "INSERT INTO unreachable_people (user_id, reason, since) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason",
                    (user_id, reason, now),
                )
            # Never joined: nothing there was read. Left: what was sent after they left.
            left_at = utc_iso(datetime.fromtimestamp(ts_ms / 1000, UTC))
            async with db.execute(
                "SELECT id, content FROM outbox WHERE user_id = ? AND room_id = ? "
                "AND state = 'sent' AND (? OR sent_at >= ?)",
                (user_id, room_id, rejected, left_at),
            ) as cur2:
                unread = await cur2.fetchall()
            notices: list[OutMessage] = []
            for row_id, content in unread:
                origin = Queued.loads(content).origin
                await db.execute(
                    "UPDATE outbox SET state = 'failed', error = ? WHERE id = ?",
                    (f"undeliverable: {reason}", row_id),
                )
                # The notice is for the person it was sent for: in their language.
                sender = (origin or {}).get("user_id")
                with language(await reader_language(db, self.settings.language, user_id=sender)):
                    notices += await delivery.undeliverable(db, origin, user_id, reason, now)
            await enqueue(db, notices, now)
        log.info("a person %s their DM; it is forgotten", "rejected" if rejected else "left")
        self.metrics.refused.labels("dm_left").inc()
        # Nobody is left to read it; leaving also makes any late send fail loudly.
        try:
            await self.client.room_leave(room_id)
        except Exception as exc:
            log.warning("could not leave an abandoned DM: %s", type(exc).__name__)
        if self.kick is not None:
            self.kick()

    async def _remember_names(self, events: list[Any]) -> None:
        """Display names from the member events sync already brings, kept in the store:
        handlers name people as Element does without any network I/O of their own."""
        names: dict[str, str] = {}
        for event in events:
            if not isinstance(event, RoomMemberEvent) or event.membership != "join":
                continue
            name = (event.content or {}).get("displayname")
            if isinstance(name, str) and name.strip() and event.state_key:
                names[event.state_key] = name.strip()[:256]
        if not names:
            return
        async with self.store.write() as db:
            await db.executemany(
                "INSERT INTO profile_names (user_id, display_name, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, "
                "updated_at = excluded.updated_at "
                "WHERE profile_names.display_name != excluded.display_name",
                [(u, n, utc_iso(self.clock.now())) for u, n in names.items()],
            )

    async def _backfill(self, room_id: str, prev_batch: str | None) -> list[Event]:
        """Page back over a `limited` gap to the last event seen, so no command is skipped."""
        mark = await self._kv(f"room_mark:{room_id}")
        last = json.loads(mark) if mark else None
        if last is None or prev_batch is None:
            return []
        older: list[Event] = []
        token: str | None = prev_batch
        for _page in range(BACKFILL_PAGES):
            resp = await self.client.room_messages(room_id, start=token, limit=100)
            if isinstance(resp, RoomMessagesError) or not isinstance(resp, RoomMessagesResponse):
                log.warning("backfill of %s failed: %s", room_id, _reason(resp))
                break
            for event in resp.chunk:  # newest first
                if event.event_id == last["event_id"] or (event.server_timestamp < last["ts"]):
                    log.info("backfilled %d events in %s", len(older), room_id)
                    return list(reversed(older))
                older.append(event)
            if not resp.chunk or resp.end is None:
                break
            token = resp.end
        log.warning("backfill of %s stopped after %d events", room_id, len(older))
        return list(reversed(older))

    # -- one event -----------------------------------------------------------------------

    async def _route(self, room_id: str, event: Event) -> None:
        sender = getattr(event, "sender", None)
        if sender is None or sender == self.client.user_id:
            return
        if not self.settings.is_allowed(sender):
            self.metrics.refused.labels("sender_not_allowed").inc()
            return
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        if isinstance(event, MegolmEvent):
            if event.event_id in self.answered:
                return
            if event.event_id not in self._pending:
                # Each costs key requests to the sender's devices and a notice: one token.
                if not self.dispatcher.limiter.allow(sender):
                    await self._over_limit(room_id, sender, event.event_id)
                    return
                self._pending[event.event_id] = PendingDecryption(
                    event, room_id, self.clock.monotonic()
                )
                # Remembered in the store: the sync token moves on, and a restart before
                # the room key arrives must not make the bot forget the message.
                await self._set_kv(f"undecrypted:{event.event_id}", room_id)
            return
        source = event.source if isinstance(getattr(event, "source", None), dict) else {}
        if source.get("type") not in ("m.room.message", "m.reaction"):
            return
        if not room.encrypted:
            await self._refuse_unencrypted(room_id, event)
            return
        if not getattr(event, "decrypted", False):
            # A plaintext event in an encrypted room: anyone on the server could forge it.
            self.metrics.refused.labels("plaintext_in_encrypted_room").inc()
            return
        # Pills count only where their text names the linked user (bot/pills.py).
        names = await pill_names(self.store.reader, room, source.get("content") or {})
        incoming = _incoming(room_id, event, source, self.settings.command_prefix, names)
        if incoming is None or not self.dispatcher.wants(incoming):
            return
        incoming = dataclasses.replace(incoming, megolm=replay.origin(self.client, event))
        if incoming.megolm is None:  # cannot be checked for replay: never acted on
            self.metrics.refused.labels("no_megolm_origin").inc()
            log.warning("refused %s: its Megolm message index is unknown", event.event_id)
            return
        if incoming.replaces is not None and not await self._edit_counts(incoming):
            return
        if self.trust is not None:
            refusal = await self.trust.check_sender(event, room_id)
            if refusal is not None:
                self.metrics.refused.labels("untrusted_device").inc()
                log.info("refused %s: sending device not trusted", event.event_id)
                await self._tell_refused(
                    room_id,
                    sender,
                    event.event_id,
                    refusal.reason,
                    refusal.device_id,
                    getattr(refusal, "values", None),
                )
                return
        self.dispatcher.submit(incoming)

    async def _edit_counts(self, incoming: Incoming) -> bool:
        """Only the original sender's edits count (Element shows no other), and only edits
        of what the bot handled or of an unhandled message now edited into a command."""
        assert incoming.replaces is not None
        if await load_chain(self.store.reader, incoming.replaces) is not None:
            return True  # the dispatcher checks the sender against its ledger
        if not self.dispatcher.registry.is_command(incoming.body):
            return False  # an edit of ordinary chat
        if not self.dispatcher.limiter.allow(incoming.sender):
            return True  # no lookup for them now; the dispatcher refuses it and tells them
        resp = await self.client.room_get_event(incoming.room_id, incoming.replaces)
        original = getattr(resp, "event", None)
        return getattr(original, "sender", None) == incoming.sender

    async def _over_limit(self, room_id: str, sender: str, event_id: str) -> None:
        """An event over the person's rate limit (bot/ratelimit.py): ignored, told once."""
        self.metrics.refused.labels("rate_limited").inc()
        if not self.dispatcher.limiter.first_refusal(sender):
            return
        async with self.store.write() as db:
            await ratelimit.tell(
                db,
                self.settings,
                sender,
                lambda: ratelimit.over_limit_text(self.settings),
                self.clock.now(),
                room_id=room_id,
                reply_to=event_id,
            )
        if self.kick is not None:
            self.kick()

    async def _refuse_unencrypted(self, room_id: str, event: Event) -> None:
        body = getattr(event, "body", "") or ""
        if not body.startswith(self.settings.command_prefix):
            return
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO refused_rooms (room_id, reason, at) VALUES (?, 'unencrypted', ?) "
                "ON CONFLICT DO NOTHING RETURNING room_id",
                (room_id, utc_iso(self.clock.now())),
            )
            first_time = await cur.fetchone() is not None
            await cur.close()
            if first_time:
                # Told in the person's encrypted DM: the bot never writes into a plain room.
                sender_language = await reader_language(
                    db, self.settings.language, user_id=event.sender
                )
                with language(sender_language):
                    text = _(UNENCRYPTED_REFUSAL, room=room_id)
                await enqueue(
                    db,
                    [OutMessage(body=text, user_id=event.sender)],
                    utc_iso(self.clock.now()),
                )
        self.metrics.refused.labels("unencrypted_room").inc()
        if first_time and self.kick is not None:
            self.kick()

    async def _tell_refused(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        reason: str,
        device: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """One explanation per person, device and room per quiet period (a session still
        unverified an hour later is told again), readable by the refused device.

        `reason` is an English template (N_), rendered with `values` in the sender's
        language: the explanation is for them, whichever room it lands in."""
        key, now = (room_id, sender, device), self.clock.monotonic()
        told = self._refusals_told.get(key)
        if told is not None and now - told < self.settings.refusal_repeat_after:
            return
        self._refusals_told[key] = now
        reveal = (sender, device) if device else None
        async with self.store.write() as db:
            with language(await reader_language(db, self.settings.language, user_id=sender)):
                text = _(reason, **(values or {}))
            await enqueue(
                db,
                [OutMessage(body=text, room_id=room_id, reply_to=event_id, reveal_to=reveal)],
                utc_iso(self.clock.now()),
            )
        if self.kick is not None:
            self.kick()

    async def _retry_decryption(self) -> None:
        """Room keys can arrive after the message; retry, ask for them, count the losses."""
        now = self.clock.monotonic()
        for event_id, pending in list(self._pending.items()):
            try:
                decrypted = self.client.decrypt_event(pending.event)
            except Exception:
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent):
                del self._pending[event_id]
                await self._route(pending.room_id, decrypted)
                await self._del_kv(f"undecrypted:{event_id}")
                continue
            if not pending.requested and now - pending.since > 5:
                pending.requested = True
                try:
                    await self.client.request_room_key(pending.event)
                except Exception as exc:
                    log.debug("room key request failed: %s", type(exc).__name__)
            if now - pending.since > self.settings.undecryptable_give_up:
                del self._pending[event_id]
                await self._del_kv(f"undecrypted:{event_id}")
                self.metrics.decryption_failures.inc()
                log.warning("could not decrypt %s in %s", event_id, pending.room_id)
                await self._tell_refused(
                    pending.room_id,
                    pending.event.sender,
                    event_id,
                    UNDECRYPTABLE,
                )

    async def _reload_pending(self) -> None:
        """Messages still undecrypted when the last process stopped: fetch and retry them."""
        async with self.store.reader.execute(
            "SELECT key, value FROM kv WHERE key LIKE 'undecrypted:%'"
        ) as cur:
            rows = await cur.fetchall()
        for key, room_id in rows:
            event_id = key.removeprefix("undecrypted:")
            resp = await self.client.room_get_event(room_id, event_id)
            event = getattr(resp, "event", None)
            if not isinstance(resp, RoomGetEventResponse) or event is None:
                log.warning("cannot fetch undecrypted %s again; dropping it", event_id)
                await self._del_kv(key)
                continue
            log.info("retrying %s, undecrypted at the last stop", event_id)
            if isinstance(event, MegolmEvent):
                self._pending[event_id] = PendingDecryption(event, room_id, self.clock.monotonic())
            else:
                await self._del_kv(key)
                await self._route(room_id, event)

    # -- kv ------------------------------------------------------------------------------

    async def _set_kv(self, key: str, value: str) -> None:
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def _del_kv(self, key: str) -> None:
        async with self.store.write() as db:
            await db.execute("DELETE FROM kv WHERE key = ?", (key,))

    async def _kv(self, key: str) -> str | None:
        async with self.store.reader.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def _save_position(self, token: str, marks: dict[str, str]) -> None:
        items = [("sync_token", token)] + [(f"room_mark:{r}", m) for r, m in marks.items()]
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


def _incoming(
    room_id: str,
    event: Event,
    source: dict[str, Any],
    prefix: str = "!",
    names: Mapping[str, set[str]] | None = None,
) -> Incoming | None:
    content = source.get("content") or {}
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.replace":
        return _edit(room_id, event, source, prefix, names)
    ts = int(source.get("origin_server_ts") or 0)
    if source.get("type") == "m.reaction":
        if relates.get("rel_type") != "m.annotation":
            return None
        return Incoming(
            event_id=event.event_id,
            room_id=room_id,
            sender=event.sender,
            timestamp_ms=ts,
            reaction_key=str(relates.get("key", "")),
            reaction_target=relates.get("event_id"),
        )
    if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
        return None
    body = command_text(content, prefix, names)  # only the sender's own words
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
    if thread_root and relates.get("is_falling_back"):
        reply_to = None
    return Incoming(
        event_id=event.event_id,
        room_id=room_id,
        sender=event.sender,
        body=body,
        timestamp_ms=ts,
        thread_root=thread_root,
        reply_to=reply_to,
    )


def _edit(
    room_id: str,
    event: Event,
    source: dict[str, Any],
    prefix: str,
    names: Mapping[str, set[str]] | None = None,
) -> Incoming | None:
    """Element's edit: the new text is in m.new_content; the dispatcher decides what it means."""
    content = source.get("content") or {}
    new = content.get("m.new_content")
    original = (content.get("m.relates_to") or {}).get("event_id")
    if not isinstance(new, dict) or not isinstance(original, str):
        return None
    if new.get("msgtype") != "m.text" or not isinstance(new.get("body"), str):
        return None
    body = command_text(new, prefix, names)
    return Incoming(
        event_id=event.event_id,
        room_id=room_id,
        sender=event.sender,
        body=body,
        timestamp_ms=int(source.get("origin_server_ts") or 0),
        replaces=original,
    )


def _reason(resp: object) -> str:
    if isinstance(resp, Exception):
        return type(resp).__name__
    return str(getattr(resp, "status_code", None) or type(resp).__name__)
