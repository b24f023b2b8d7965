"""Runs commands and jobs exactly once: effect, replies and the event ID in one transaction.

The event ledger (`handled_events`) is checked and written in the same store transaction
as the handler's effect and its replies, a replayed Megolm message is claimed once
(`megolm_origins`), and a job is marked done with its effect. Events queue per room
(bot/room_queues.py); the handler runs through bot/invoke.py inside the store's single
write transaction, which is short because handlers do no network I/O: replies go to the
outbox and are sent afterwards.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable

import aiosqlite

from bot import edits, ledger
from bot.clock import Clock
from bot.invoke import Invoker, rollback
from bot.logs import correlation
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.parking import Parking
from bot.ratelimit import RateLimiter
from bot.room_queues import RoomQueues
from bot.store import Store
from commands.context import Context, Incoming, Job, parse_utc, utc_iso
from commands.errors import UserError
from commands.i18n import language
from commands.lookup import Registry
from commands.people import load_person, render_people
from commands.readers import reader_language
from commands.verifier import Verifier
from config import Settings

log = logging.getLogger(__name__)

# What a handler's run leaves: its context (replies, jobs), the command's name, the
# outcome, and the edit chain and thread it answers.
_Handled = tuple[Context, str | None, str, str | None, str | None]


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        clock: Clock,
        metrics: Metrics,
        on_committed: Callable[[Context], None] = lambda ctx: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.clock = clock
        self.metrics = metrics
        self.on_committed = on_committed
        self.verifier: Verifier | None = None  # set by the runtime (bot/verification/)
        self.limiter = RateLimiter(settings.rate_limit_burst, settings.rate_limit_per_minute, clock)
        self.parking = Parking(store, metrics, clock)
        self.invoker = Invoker(settings, registry, self.limiter)
        # Looked up at each event, not bound once: Dispatcher.process is the one entry.
        self.queues = RoomQueues(
            lambda incoming: self.process(incoming), self.parking, settings.language
        )

    # -- queueing ----------------------------------------------------------------------

    def wants(self, incoming: Incoming) -> bool:
        """Commands always; other messages only when a domain listens for them."""
        if incoming.reaction_key is not None:
            return bool(self.registry.listeners.get("reaction"))
        if incoming.redacts is not None:
            return bool(self.registry.listeners.get("redaction"))
        if incoming.replaces is not None:
            return True  # an edit of what the bot handled is answered (sync checks the sender)
        if self.registry.is_command(incoming.body):
            return True
        if incoming.thread_root and self.registry.listeners.get("thread_reply"):
            return True
        return bool(incoming.reply_to and self.registry.listeners.get("reply"))

    def submit(self, incoming: Incoming) -> None:
        self.queues.submit(incoming)

    async def drain(self, timeout: float) -> bool:
        """True once every submitted event is recorded; False after `timeout` seconds."""
        return await self.queues.drain(timeout)

    # -- one event ---------------------------------------------------------------------

    async def process(self, incoming: Incoming) -> str:
        """Handle one event exactly once; returns the outcome (also a metric label).

        A command that only reads (`reads_only`) runs on a read-only snapshot first, so
        its reading and rendering hold no write lock and no other room's command waits for
        them (issue 25: `!agenda` over 10,000 items); the write transaction then only
        checks the ledger and records the event with its answer, exactly once as for any
        command (a duplicate rendered twice is recorded and answered once)."""
        started = time.perf_counter()
        corr = secrets.token_hex(4)
        token = correlation.set(corr)
        try:
            handled: _Handled | None = None
            if self._reads_only(incoming):
                async with self.store.snapshot() as view:
                    if await _already_handled(view, incoming.event_id):
                        return "duplicate"
                    if not await _claimed(view, incoming):  # a replay: refused below
                        handled = await self._handle(view, incoming, corr)
            async with self.store.write() as db:
                if await _already_handled(db, incoming.event_id):
                    return "duplicate"
                if await _replayed(db, incoming, utc_iso(self.clock.now())):
                    self.metrics.refused.labels("replay").inc()
                    return "replay"
                if handled is None:
                    handled = await self._handle(db, incoming, corr)
                ctx, name, outcome, replaces, thread_root = handled
                await enqueue(db, ctx.outbox, utc_iso(ctx.now))
                await db.execute(
                    "INSERT INTO handled_events (event_id, room_id, sender, command, outcome, "
                    "correlation_id, handled_at, replaces, thread_root) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        incoming.event_id,
                        incoming.room_id,
                        incoming.sender,
                        name,
                        outcome,
                        corr,
                        utc_iso(ctx.now),
                        replaces,
                        thread_root,
                    ),
                )
            self.metrics.commands.labels(name or "-", outcome).inc()
            self.metrics.command_seconds.labels(name or "-").observe(time.perf_counter() - started)
            log.info("handled %s command=%s outcome=%s", incoming.event_id, name, outcome)
            self.on_committed(ctx)
            return outcome
        finally:
            correlation.reset(token)

    def _reads_only(self, incoming: Incoming) -> bool:
        """A command declared `reads_only` (not an edit, a reaction or a redaction)."""
        if incoming.replaces is not None or incoming.reaction_key is not None:
            return False
        if incoming.redacts is not None or not self.registry.is_command(incoming.body):
            return False
        try:
            spec = self.registry.named(incoming.body)
        except UserError:
            return False  # its refusal is made where every refusal is (invoke.py)
        return spec is not None and spec.reads_only

    async def _handle(self, db: aiosqlite.Connection, incoming: Incoming, corr: str) -> _Handled:
        """The handler's run on `db` (the write transaction, or a read-only snapshot):
        the context, the command's name and outcome, and the edit chain it answers."""
        person = await load_person(db, incoming.sender, self.settings)
        ctx = Context(
            db=db,
            settings=self.settings,
            registry=self.registry,
            now=self.clock.now(),
            person=person,
            incoming=incoming,
            correlation_id=corr,
            verifier=self.verifier,
        )
        # What the handler renders reads in the sender's language, or in the room's when
        # it has one (a post's or summit's lang=: a room's message is entirely in the
        # room's language); what it renders for someone else is wrapped in that person's
        # (commands/i18n.py).
        here = await reader_language(db, person.language, room_id=incoming.room_id)
        with language(here):
            replaces, thread_root = incoming.replaces, incoming.thread_root
            if not self.invoker.within_rate(ctx, incoming):
                # Before edits are looked at: an edit costs what a command costs.
                name, outcome, replaces = None, "rate_limited", None
            elif replaces is not None:
                name, outcome, replaces, thread_root = await self.invoker.run_edit(ctx, incoming)
            elif await edits.superseded(db, incoming.event_id):
                name, outcome = None, "superseded"  # its edit was handled first
            else:
                name, outcome = await self.invoker.run(ctx, incoming)
        await render_people(db, ctx.outbox)
        return ctx, name, outcome, replaces, thread_root

    # -- scheduled jobs ----------------------------------------------------------------

    async def run_job(self, job_id: int) -> str:
        """Fire one pending job exactly once: its effect, messages and 'done' commit together."""
        corr = secrets.token_hex(4)
        token = correlation.set(corr)
        try:
            async with self.store.write() as db:
                async with db.execute(
                    "SELECT * FROM jobs WHERE id = ? AND state = 'pending'", (job_id,)
                ) as cur:
                    row = await cur.fetchone()
                if row is None:
                    return "gone"
                now = self.clock.now()
                due = parse_utc(row["due_at"])
                job = Job(
                    id=job_id,
                    kind=row["kind"],
                    ref=row["ref"],
                    due_at=due,
                    payload=json.loads(row["payload"]),
                    late_seconds=max(0.0, (now - due).total_seconds()),
                )
                ctx = Context(
                    db=db,
                    settings=self.settings,
                    registry=self.registry,
                    now=now,
                    correlation_id=corr,
                )
                handler = self.registry.jobs.get(job.kind)
                state = "done"
                await db.execute("SAVEPOINT job")
                try:
                    if handler is None:
                        raise LookupError(f"no handler for job kind {job.kind}")
                    await handler(ctx, job)
                    await db.execute("RELEASE job")
                except Exception:
                    await rollback(ctx, "job")
                    log.exception("job %d (%s) failed (ref %s)", job_id, job.kind, corr)
                    state = "failed"
                await render_people(db, ctx.outbox)
                # Its messages carry the job's ledger tag (bot/ledger.py); a job the
                # homeserver shows fired before a restore runs again for its effect only.
                origin = ledger.job_origin(job_id, job.kind, job.ref, row["due_at"])
                if await _fired_before_restore(db, job_id):
                    log.info(
                        "job %d fired before the restore: its messages are not repeated", job_id
                    )
                    ctx.outbox.clear()
                for msg in ctx.outbox:
                    msg.extra[ledger.FIELD] = origin
                await enqueue(db, ctx.outbox, utc_iso(now))
                await db.execute(
                    "UPDATE jobs SET state = ?, fired_at = ?, late_seconds = ? WHERE id = ?",
                    (state, utc_iso(now), job.late_seconds, job_id),
                )
            self.on_committed(ctx)
            return state
        finally:
            correlation.reset(token)


async def _fired_before_restore(db: aiosqlite.Connection, job_id: int) -> bool:
    """Set by bot/recovery.py for a job whose messages the homeserver already has."""
    cur = await db.execute(
        "DELETE FROM kv WHERE key = ? RETURNING key", (f"restore:fired:{job_id}",)
    )
    found = await cur.fetchone() is not None
    await cur.close()
    return found


async def _claimed(db: aiosqlite.Connection, incoming: Incoming) -> bool:
    """This event's Megolm triple is already taken (a replay; _replayed refuses it)."""
    if incoming.megolm is None:
        return False
    rows = await db.execute_fetchall(
        "SELECT 1 FROM megolm_origins WHERE sender_key = ? AND session_id = ? "
        "AND message_index = ?",
        incoming.megolm,
    )
    return bool(list(rows))


async def _already_handled(db: aiosqlite.Connection, event_id: str) -> bool:
    # One round trip to the database thread, not three (execute, fetch, close).
    rows = await db.execute_fetchall("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,))
    return bool(list(rows))


async def _replayed(db: aiosqlite.Connection, incoming: Incoming, now: str) -> bool:
    """Claim this event's Megolm triple; True (refused, logged, in the ledger) if taken.

    The claim commits with the effect, so a ciphertext served again under a new event ID
    (by the homeserver, or a client re-sending it) acts at most once, across restarts.
    """
    if incoming.megolm is None:  # not from Megolm (unit tests, jobs): nothing to claim
        return False
    sender_key, session_id, index = incoming.megolm
    async with db.execute(
        "SELECT event_id FROM megolm_origins WHERE sender_key = ? AND session_id = ? "
        "AND message_index = ?",
        (sender_key, session_id, index),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        await db.execute(
            "INSERT INTO megolm_origins (sender_key, session_id, message_index, event_id, "
            "room_id, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sender_key, session_id, index, incoming.event_id, incoming.room_id, now),
        )
        return False
    log.warning(
        "refused %s from %s: a replay of %s (same Megolm session and message index)",
        incoming.event_id,
        incoming.sender,
        row[0],
    )
    await db.execute(
        "INSERT INTO handled_events (event_id, room_id, sender, command, outcome, "
        "correlation_id, handled_at) VALUES (?, ?, ?, NULL, 'replay', ?, ?)",
        (incoming.event_id, incoming.room_id, incoming.sender, correlation.get(), now),
    )
    return True
