"""Sends what handlers wrote to the outbox: in order per room, concurrently across rooms.

Each row is sent with transaction ID `attache.<row id>`: if the bot dies after the server
accepted a message but before the row was marked sent, the resend after restart is
deduplicated by the homeserver, so every reply arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import aiosqlite

from bot.clock import Clock
from bot.matrix import DM_PERSON_GONE, SendError
from bot.metrics import Metrics
from bot.recipients import ObjectMissing, Recipients, Verdict, with_note
from bot.send_failures import SendFailures
from bot.send_policy import EXPIRED, REFUSED, RateGate, SendPolicy, kind_of
from bot.store import Store
from commands import delivery
from commands.context import OutMessage, parse_utc, utc_iso
from commands.i18n import _, language
from commands.markings import Marking, Policy
from commands.markings import routing as marked
from commands.markings import store as marked_store
from commands.outbox_row import WIPED, Queued
from commands.people import languages_of, reader_language, zones_of
from commands.time import fmt

log = logging.getLogger(__name__)


class Transport(Protocol):
    async def send(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str,
        reveal_to: tuple[str, str] | None = None,
    ) -> str: ...
    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]: ...
    async def dm_room(self, user_id: str) -> str: ...
    async def dm_problem(self, room_id: str, user_id: str) -> str | None: ...
    async def has_devices(self, user_id: str) -> bool: ...
    async def room_members(self, room_id: str) -> list[str]: ...


class Undeliverable(Exception):
    """This person cannot be reached now; the message fails and its sender is told."""


async def enqueue(db: aiosqlite.Connection, messages: list[OutMessage], now_iso: str) -> None:
    """Write messages in the caller's transaction (with the effect that produced them).

    A message to a room that is someone's DM now was rendered for that person (their
    clearance, marked lines in full): the row says so (Queued.reader), and is sent into
    that room only while they are its only other member (bot/recipients.py)."""
    for msg in messages:
        row = msg.to_row()
        if row["room_id"] and not row["user_id"]:
            async with db.execute(
                "SELECT user_id FROM dm_rooms WHERE room_id = ?", (row["room_id"],)
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                meta = Queued.loads(row["content"])
                meta.reader = str(found[0])
                row["content"] = meta.dumps()
        await db.execute(
            "INSERT INTO outbox (room_id, user_id, content, attachment, key, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                row["room_id"],
                row["user_id"],
                row["content"],
                row["attachment"],
                row["key"],
                now_iso,
            ),
        )


async def each_in_their_language(
    db: aiosqlite.Connection,
    users: Iterable[str],
    default: str,
    build: Callable[[str], str],
) -> list[OutMessage]:
    """One DM to each person (admins' security notices), `build(user_id)` called inside
    that person's language."""
    people = list(dict.fromkeys(users))
    langs = await languages_of(db, people, default)
    out = []
    for user in people:
        with language(langs[user]):
            out.append(OutMessage(body=build(user), user_id=user))
    return out


class Outbox:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        clock: Clock,
        metrics: Metrics,
        max_retries: int = 8,
        give_up_after: float = 900.0,
        is_allowed: Callable[[str], bool] | None = None,
        admins: tuple[str, ...] = (),
        policy: Policy | None = None,
        default_language: str = "en",
        default_timezone: str = "UTC",
        send_policy: SendPolicy | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        self.max_retries = max_retries
        self.give_up_after = give_up_after
        # The allow-list, applied to every DM recipient and mention at send time: one rule
        # below every command (None only in tests of the retry logic).
        self.is_allowed = is_allowed
        self.admins = admins
        # Markings and releasability (commands/markings): without the deployment's policy,
        # only the default one (UNCLASSIFIED only), so a marked row reaches nobody.
        self.policy = policy or Policy()
        # Who in a room may read a row now (server membership, current markings).
        self.recipients = Recipients(store, transport, clock, self.policy)
        # For readers who set none (ATTACHE_LANGUAGE, ATTACHE_TIMEZONE): what is rendered at
        # send time (late notes, markings, notices) reads in its reader's language.
        self.default_language = default_language
        self.default_timezone = default_timezone
        # How long each kind of row is worth retrying, and what happens when it is not
        # (bot/send_policy.py, bot/send_failures.py); max_retries and give_up_after are
        # kept for callers but deadlines per kind replaced them.
        self.send_policy = send_policy or SendPolicy()
        self.gate = RateGate()
        self.failures = SendFailures(
            store,
            clock,
            metrics,
            self.send_policy,
            admins=admins,
            default_language=default_language,
        )
        self._wake = asyncio.Event()
        self._resume = asyncio.Event()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def kick(self) -> None:
        self._wake.set()

    def resume(self) -> None:
        """The homeserver is reachable again: retry failed sends now, not at their backoff.

        Rate-limited sends keep waiting: the server named their time (retry_after_ms).
        """
        self._resume.set()
        self._resume = asyncio.Event()
        self._wake.set()

    async def run(self) -> None:
        """Start a worker for every target with pending rows; wake on kick or every 5 s."""
        while not self._stopping:
            self._wake.clear()
            try:
                targets = await self._pending_targets()
            except Exception:
                log.exception("outbox: cannot read the store")
                targets = {}
            for target in targets:
                task = self._workers.get(target)
                if task is None or task.done():
                    self._workers[target] = asyncio.create_task(self._worker(target))
            self.metrics.outbox_pending.set(sum(targets.values()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=5)
            except TimeoutError:
                pass

    async def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending (shutdown); False if time ran out."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            self.kick()
            if await self._count_pending() == 0:
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _pending_targets(self) -> dict[str, int]:
        """Pending rows per target (a room, or 'user:' + person for a DM): one query."""
        rows = await self.store.reader.execute_fetchall(
            "SELECT CASE WHEN user_id IS NOT NULL THEN 'user:' || user_id ELSE room_id END, "
            "COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY 1"
        )
        return {r[0]: int(r[1]) for r in rows}

    async def _count_pending(self) -> int:
        rows = await self.store.reader.execute_fetchall(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"
        )
        row = next(iter(rows), None)
        return int(row[0]) if row else 0

    async def _worker(self, target: str) -> None:
        column, value = (
            ("user_id", target[5:]) if target.startswith("user:") else ("room_id", target)
        )
        while not self._stopping:
            rows = await self.store.reader.execute_fetchall(
                f"SELECT * FROM outbox WHERE state = 'pending' AND {column} = ? "
                f"{'AND user_id IS NULL' if column == 'room_id' else ''} ORDER BY id LIMIT 1",
                (value,),
            )
            row = next(iter(rows), None)
            if row is None:
                break
            await self._deliver(row)
        # Nothing left for this target: let the worker go (one per room ever seen otherwise).
        if self._workers.get(target) is asyncio.current_task():
            del self._workers[target]

    async def _deliver(self, row: aiosqlite.Row) -> None:
        row_id = int(row["id"])
        log.debug("delivering row %d to %s", row_id, row["room_id"] or row["user_id"])
        meta = Queued.loads(row["content"])
        room_id = row["room_id"]
        attachment = row["attachment"]
        # Everything rendered here for the row's reader (markings, the late note) reads in
        # their language; a notice to the person it was sent for is rendered in theirs.
        with language(await self._language_of(user_id=row["user_id"], room_id=room_id)):
            await self._attempts(row, row_id, meta, room_id, attachment)

    async def _attempts(
        self,
        row: aiosqlite.Row,
        row_id: int,
        meta: Queued,
        room_id: Any,  # the row's room (None for a DM: found before each attempt)
        attachment: bytes | None,
    ) -> None:
        """Send one row until it is sent, failed or withheld (retrying what may pass later)."""
        attempts = 0
        kind = kind_of(meta.kind)
        while not self._stopping:
            await self.gate.wait()  # the account's rate limit, for every room at once
            if self.send_policy.expired(kind, row["created_at"], self.clock.now()):
                await self._give_up(row, meta, EXPIRED, "not sent before its deadline")
                return
            try:
                # Decided now, for every row: the marking its objects have now, and who is
                # in the room now (bot/recipients.py).
                marking = await self.recipients.marking(meta)
                if row["user_id"]:
                    if await self._withheld_from(row_id, row["user_id"], meta, marking):
                        return
                    # A DM is checked before every send (the person may have left it, or
                    # someone joined it): it goes to a room of just them, or not at all.
                    room_id = await self._dm_room(row_id, row["user_id"])
                    # That may have waited for them to join: their coverage, again, now.
                    marking = await self.recipients.marking(meta)
                    if await self._withheld_from(row_id, row["user_id"], meta, marking):
                        return
                else:
                    verdict = await self.recipients.in_room(room_id, marking, meta.reader)
                    if verdict.action == "redirect":
                        await self._redirect(row_id, meta, str(verdict.reader))
                        return
                    if verdict.action == "withhold" and marking is not None:
                        person, reason = verdict.excluded[0]
                        await self._withhold_dm(row_id, person.user_id, meta, marking, reason)
                        return
                    if verdict.action == "split":
                        meta, marking = await self._marked_room(row_id, meta, verdict)
                        if marking is None:  # the room gets the notice, the file went by DM
                            attachment = None
                content = await self._content(meta, attachment, room_id)
                self._only_allowed_mentions(content)
                await self._note_if_late(content, meta, row["created_at"], row["user_id"], room_id)
                content = marked.with_banner(content, marking)  # first line, always
                try:
                    event_id = await self.transport.send(
                        room_id,
                        content,
                        f"attache.{row_id}",
                        meta.reveal_to,
                        **({"event_type": meta.event_type} if meta.event_type else {}),
                    )
                except SendError:
                    raise
                except Exception as exc:
                    # A bug or surprise below us must not kill this room's worker (its
                    # messages would wait until restart): retry it like a network error.
                    log.exception("outbox: unexpected error sending row %d", row_id)
                    raise SendError(type(exc).__name__) from exc
            except Undeliverable as exc:
                await self._undeliverable(row_id, row["user_id"], meta.origin, str(exc))
                return
            except ObjectMissing as exc:
                await self._withhold_missing(row_id, meta, str(exc))
                return
            except SendError as exc:
                if exc.unsafe:
                    await self._refuse_unsafe(row_id, room_id, str(exc), meta.origin)
                    return
                attempts += 1
                if exc.permanent:
                    await self._give_up(row, meta, REFUSED, str(exc))
                    return
                delay = self.send_policy.delay(attempts, exc.retry_after)
                if exc.rate_limited:
                    self.metrics.send_rate_limited.inc()
                    self.gate.hold(delay)
                if self.send_policy.expired(kind, row["created_at"], self.clock.now(), delay):
                    await self._give_up(row, meta, EXPIRED, str(exc))  # no use waiting
                    return
                self.metrics.send_retries.inc()
                log.warning("outbox: row %d not sent (%s), retry in %.1fs", row_id, exc, delay)
                if not exc.rate_limited:  # the gate holds rate-limited sends
                    resumed = self._resume
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(resumed.wait(), delay)
                continue
            await self._mark_sent(
                row_id,
                room_id,
                event_id,
                meta,
                meta.restart_thread if row["key"] is None else None,
            )
            return

    async def _language_of(self, *, user_id: str | None = None, room_id: str | None = None) -> str:
        """The language of a message's reader (see reader_language)."""
        return await reader_language(
            self.store.reader, self.default_language, user_id=user_id, room_id=room_id
        )

    async def _dm_room(self, row_id: int, user_id: str) -> str:
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

    async def _withhold_dm(
        self, row_id: int, user_id: str, meta: Queued, marking: Marking, reason: str
    ) -> None:
        """A marked DM for someone it does not cover: never sent, wiped, recorded, and the
        person it was sent for told by name."""
        now = utc_iso(self.clock.now())
        sender_language = await self._sender_language(meta.origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                ("withheld: not releasable to the recipient", WIPED, row_id),
            )
            people = await marked_store.subjects(db, [user_id])
            with language(sender_language):
                notices = await marked_store.withheld(
                    db, meta.origin, meta.about, marking, [(people[0], reason)], now
                )
            await enqueue(db, notices, now)
        self.metrics.marking_withheld.inc()
        log.warning("outbox: row %d withheld: its marking does not cover its recipient", row_id)
        if notices:
            self.kick()

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

    async def _withheld_from(
        self, row_id: int, user_id: str, meta: Queued, marking: Marking | None
    ) -> bool:
        """Withhold a DM row from a person its marking (as it is now) does not cover."""
        reason = await self.recipients.exclusion(marking, user_id)
        if marking is None or reason is None:
            return False
        await self._withhold_dm(row_id, user_id, meta, marking, reason)
        return True

    async def _redirect(self, row_id: int, meta: Queued, reader: str) -> None:
        """A row rendered for one person, for a room that is no longer their DM (someone
        else joined or was invited): nothing goes into the room; it goes to their DM
        instead (a fresh one if need be), saying why."""
        with language(await self._language_of(user_id=reader)):
            note = _("(You asked in a room where someone else is now, so I answer you here.)")
        moved = meta.replace(
            reply_to=None,
            thread_root=None,
            thread_key=None,
            restart_thread=None,
            reader=None,
            content=with_note({**meta.content, "m.mentions": {}}, note),
        )
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET user_id = ?, room_id = NULL, content = ? "
                "WHERE id = ? AND state = 'pending'",
                (reader, moved.dumps(), row_id),
            )
        log.info(
            "outbox: row %d was for one person, whose room is not a DM now: to their DM", row_id
        )
        self.kick()

    async def _withhold_missing(self, row_id: int, meta: Queued, missing: str) -> None:
        """A row about an object the store does not have: its marking is unknown, so it
        goes to nobody (fail closed), audited and counted."""
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                ("withheld: its object is not in the store", WIPED, row_id),
            )
            await db.execute(
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, 'bot', ?, ?, ?)",
                (now, "marking.withheld", meta.about, f"not sent to anyone: {missing} not found"),
            )
        self.metrics.marking_withheld.inc()
        log.warning("outbox: row %d withheld: the object it is about is not in the store", row_id)

    async def _marked_room(
        self, row_id: int, meta: Queued, decision: Verdict
    ) -> tuple[Queued, Marking | None]:
        """A room gets a marked message only if every member (joined or invited) is
        covered. Otherwise the row becomes a one-line notice (object and marking, no
        content), the covered members get the message by DM, and the sender is told who
        was left out and why. Returns what to send into the room."""
        assert decision.marking is not None
        marking = decision.marking
        now = utc_iso(self.clock.now())
        notice = OutMessage(
            body=marked.room_notice(meta.about, marking),
            reply_to=meta.reply_to,
            thread_root=meta.thread_root,
            thread_key=meta.thread_key,
        ).to_row()
        sender_language = await self._sender_language(meta.origin)
        # The DM copies: the same message without the room's thread (its root is elsewhere).
        copy = meta.replace(
            reply_to=None,
            thread_root=None,
            thread_key=None,
            restart_thread=None,
            content={**meta.content, "m.mentions": {}},
        )
        async with self.store.write() as db:
            # Read again under the write lock: a worker on a stale read must not split the
            # same row twice (the covered members would get it twice).
            async with db.execute("SELECT content FROM outbox WHERE id = ?", (row_id,)) as cur:
                current = await cur.fetchone()
            now_meta = Queued.loads(current[0] if current is not None else None)
            if not (now_meta.marking or now_meta.about or now_meta.holds):
                # already split (or sent): the notice, at most
                return (now_meta if now_meta.content else Queued.loads(notice["content"])), None
            # The content leaves the room's row in the same transaction as the DMs appear:
            # after a crash there is nothing marked left queued for the room.
            await db.execute(
                "UPDATE outbox SET content = ? WHERE id = ?", (notice["content"], row_id)
            )
            for person in decision.covered:
                await db.execute(
                    "INSERT INTO outbox (room_id, user_id, content, attachment, key, "
                    "created_at) SELECT NULL, ?, ?, attachment, NULL, ? FROM outbox "
                    "WHERE id = ?",
                    (person.user_id, copy.dumps(), now, row_id),
                )
            await db.execute("UPDATE outbox SET attachment = NULL WHERE id = ?", (row_id,))
            with language(sender_language):
                told = await marked_store.withheld(
                    db, meta.origin, meta.about, marking, list(decision.excluded), now
                )
            await enqueue(db, told, now)
        self.metrics.marking_withheld.inc(len(decision.excluded))
        log.info(
            "outbox: row %d is marked and %d member(s) of its room are not covered: notice "
            "to the room, %d DM(s)",
            row_id,
            len(decision.excluded),
            len(decision.covered),
        )
        self.kick()
        return Queued.loads(notice["content"]), None

    async def mark_unreachable(self, user_id: str, reason: str) -> None:
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO unreachable_people (user_id, reason, since) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason",
                (user_id, reason, utc_iso(self.clock.now())),
            )

    def _only_allowed_mentions(self, content: dict[str, Any]) -> None:
        """Nobody outside the allow-list is notified by a mention."""
        mentions = content.get("m.mentions")
        if self.is_allowed is None or not isinstance(mentions, dict):
            return
        if mentions.get("user_ids"):
            mentions["user_ids"] = [u for u in mentions["user_ids"] if self.is_allowed(u)]

    async def _undeliverable(
        self, row_id: int, user_id: str | None, origin: dict[str, Any] | None, reason: str
    ) -> None:
        """Fail the row and tell the person it was sent for, in their thread, by name."""
        now = utc_iso(self.clock.now())
        sender_language = await self._sender_language(origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                (f"undeliverable: {reason}", WIPED, row_id),
            )
            with language(sender_language):
                notices = await delivery.undeliverable(db, origin, user_id or "?", reason, now)
            await enqueue(db, notices, now)
        self.metrics.undeliverable.inc()
        log.warning("outbox: row %d cannot reach its person: %s", row_id, reason)
        if notices:
            self.kick()

    async def _refuse_unsafe(
        self,
        row_id: int,
        room_id: str | None,
        reason: str,
        origin: dict[str, Any] | None = None,
    ) -> None:
        """Never plaintext: fail the row, count it, tell the admins once per room (and the
        person it was sent for, if any)."""
        now = utc_iso(self.clock.now())
        sender_language = await self._sender_language(origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ? WHERE id = ?",
                (f"not sent: {reason}", row_id),
            )
            if origin and room_id:
                with language(sender_language):
                    told = await delivery.undeliverable(
                        db, origin, room_id, delivery.UNENCRYPTED_ROOM, now
                    )
                await enqueue(db, told, now)
            cur = await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                (f"told_unsafe:{room_id}", now),
            )
            first = await cur.fetchone() is not None
            await cur.close()
            if first:
                notices = await each_in_their_language(
                    db,
                    self.admins,
                    self.default_language,
                    lambda _admin: _(
                        "Security notice: I refused to send into room {room} because {reason}; "
                        "I never send anything unencrypted. Messages for that room are kept as "
                        "failed. Enable encryption there, or point the post or summit at an "
                        "encrypted room.",
                        room=room_id,
                        reason=_(reason),
                    ),
                )
                await enqueue(db, notices, now)
        self.metrics.unsafe_refused.inc()
        log.error("outbox: row %d not sent to %s: %s", row_id, room_id, reason)
        self.kick()

    async def _content(
        self, meta: Queued, attachment: bytes | None, room_id: str | None = None
    ) -> dict[str, Any]:
        content = dict(meta.content)
        reply_to, root = meta.reply_to, meta.thread_root
        if meta.thread_key and not root:
            root = await self._event_for_key(meta.thread_key, room_id)
            if root is None and await self._event_for_key(meta.thread_key):
                # The thread's root is in a DM the person left: this message starts the
                # thread again in the new DM (the key moves to it once it is sent).
                meta.restart_thread = meta.thread_key
        if root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": reply_to is None,
                "m.in_reply_to": {"event_id": reply_to or root},
            }
        elif reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if attachment is not None and meta.attachment is not None:
            info = meta.attachment
            file_obj = await self.transport.upload(attachment, info["mimetype"], info["filename"])
            content.update(
                msgtype="m.file",
                body=info["filename"],
                filename=info["filename"],
                file=file_obj,
                info={"mimetype": info["mimetype"], "size": len(attachment)},
            )
            content.pop("format", None)
            content.pop("formatted_body", None)
        return content

    async def _sender_language(self, origin: dict[str, Any] | None) -> str:
        """The language of the person a message was sent for (a notice about it is theirs)."""
        return await self._language_of(user_id=(origin or {}).get("user_id"))

    async def _note_if_late(
        self,
        content: dict[str, Any],
        meta: Queued,
        queued: str,
        user_id: str | None,
        room_id: str | None,
    ) -> None:
        """Say so on a message sent later than it was due (in the reader's language and
        zone: the caller set the language)."""
        limit = meta.late_note_after
        if limit is None:
            return
        queued_at = parse_utc(queued)
        if (self.clock.now() - queued_at).total_seconds() <= limit:
            return
        note = _(
            "(Delivered late: the homeserver was unreachable. This was due {due}.)",
            due=fmt(queued_at, await self._zone_of(user_id, room_id)),
        )
        content["body"] = f"{note}\n{content['body']}"
        if "formatted_body" in content:
            content["formatted_body"] = (
                f"<em>{html.escape(note)}</em><br>{content['formatted_body']}"
            )

    async def _zone_of(self, user_id: str | None, room_id: str | None) -> str:
        """The time zone of a message's reader: a DM's person's, else the default."""
        if user_id is None and room_id is not None:
            async with self.store.reader.execute(
                "SELECT user_id FROM dm_rooms WHERE room_id = ?", (room_id,)
            ) as cur:
                found = await cur.fetchone()
            user_id = str(found[0]) if found is not None else None
        if user_id is None:
            return self.default_timezone
        zones = await zones_of(self.store.reader, [user_id], self.default_timezone)
        return zones[user_id]

    async def _event_for_key(self, key: str, room_id: str | None = None) -> str | None:
        async with self.store.reader.execute(
            "SELECT event_id, room_id FROM outbox WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        if row is None or not row[0]:
            return None
        # A root in another room (a DM the person left) cannot carry this room's thread.
        if room_id is not None and row[1] and row[1] != room_id:
            return None
        return str(row[0])

    async def _mark_sent(
        self,
        row_id: int,
        room_id: str,
        event_id: str,
        meta: Queued,
        restart_key: str | None = None,
    ) -> None:
        # The plaintext is dropped once delivered: the store keeps only what objects need
        # (and, for a DM, whom to tell if the person turns out never to have received it).
        kept = meta.kept_after_send()
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'sent', room_id = ?, event_id = ?, sent_at = ?, "
                "content = ?, attachment = NULL WHERE id = ?",
                (room_id, event_id, utc_iso(self.clock.now()), kept, row_id),
            )
            if restart_key is not None:  # replies to this event now belong to that thread
                await db.execute("UPDATE outbox SET key = NULL WHERE key = ?", (restart_key,))
                await db.execute(
                    "UPDATE outbox SET key = ? WHERE id = ? AND key IS NULL", (restart_key, row_id)
                )
        self.metrics.messages_sent.inc()

    async def _give_up(self, row: aiosqlite.Row, meta: Queued, reason: str, error: str) -> None:
        """The row is failed and the people who must know are told (bot/send_failures.py)."""
        notices = await self.failures.give_up(
            row, meta, reason, error, rate_limited=self.gate.limited_recently()
        )
        if notices:
            self.kick()
