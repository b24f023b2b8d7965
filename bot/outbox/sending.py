"""Sends what handlers wrote to the outbox: in order per room, concurrently across rooms.

Each row is sent with transaction ID `attache.<row id>`: if the bot dies after the server
accepted a message but before the row was marked sent, the resend after restart is
deduplicated by the homeserver, so every reply arrives exactly once. What is decided at
send time, before each attempt, is asked of the collaborators beside this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import aiosqlite

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.content import Content
from bot.outbox.dm_repair import DmRepair, Undeliverable
from bot.outbox.late_notes import LateNotes
from bot.outbox.notices import Notices
from bot.outbox.readers import Readers
from bot.outbox.releasability import Releasability
from bot.recipients import ObjectMissing, Recipients
from bot.send_error import SendError
from bot.send_failures import SendFailures
from bot.send_policy import EXPIRED, REFUSED, RateGate, SendPolicy, kind_of
from bot.store import Store
from commands.context import utc_iso
from commands.i18n import language
from commands.markings import Policy
from commands.markings import routing as marked
from commands.outbox_row import Queued

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
        self.readers = Readers(store, default_language, default_timezone)
        self.release = Releasability(
            store, clock, metrics, self.recipients, self.readers, is_allowed, self.kick
        )
        self.dms = DmRepair(store, transport, clock, self.recipients, is_allowed)
        self.content = Content(store, transport)
        self.late_notes = LateNotes(clock, self.readers)
        self.notices = Notices(store, clock, metrics, self.readers, admins, self.kick)
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
        with language(await self.readers.language_of(user_id=row["user_id"], room_id=room_id)):
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
                # in the room now (bot/recipients.py, bot/outbox/releasability.py).
                marking = await self.recipients.marking(meta)
                if row["user_id"]:
                    if await self.release.withheld_from(row_id, row["user_id"], meta, marking):
                        return
                    # A DM is checked before every send (the person may have left it, or
                    # someone joined it): it goes to a room of just them, or not at all.
                    room_id = await self.dms.dm_room(row_id, row["user_id"])
                    # That may have waited for them to join: their coverage, again, now.
                    marking = await self.recipients.marking(meta)
                    if await self.release.withheld_from(row_id, row["user_id"], meta, marking):
                        return
                else:
                    decided = await self.release.in_room(row_id, room_id, meta, marking, attachment)
                    if decided is None:
                        return
                    meta, marking, attachment = decided
                content = await self.content.build(meta, attachment, room_id)
                self.release.only_allowed_mentions(content)
                await self.late_notes.note_if_late(
                    content, meta, row["created_at"], row["user_id"], room_id
                )
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
                await self.notices.undeliverable(row_id, row["user_id"], meta.origin, str(exc))
                return
            except ObjectMissing as exc:
                await self.release.withhold_missing(row_id, meta, str(exc))
                return
            except SendError as exc:
                if exc.unsafe:
                    await self.notices.refuse_unsafe(row_id, room_id, str(exc), meta.origin)
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
