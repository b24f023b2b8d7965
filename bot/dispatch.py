"""Runs commands and jobs exactly once: effect, replies and the event ID in one transaction.

Incoming events queue per room (order kept within a room, rooms run concurrently); the
handler itself runs inside the store's single write transaction, which is short because
handlers do no network I/O: replies go to the outbox and are sent afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable

import aiosqlite

from bot import edits, ledger
from bot.clock import Clock
from bot.limits import length_refusal
from bot.logs import correlation
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.parking import Parking, describe, is_fenced
from bot.ratelimit import RateLimiter, over_limit_text
from bot.store import Store
from commands.ambiguity import question
from commands.context import Context, Incoming, Job, parse_utc, utc_iso
from commands.directory.examples import examples_for
from commands.errors import UserError
from commands.i18n import _, language
from commands.people import load_person, reader_language, render_people
from commands.registry import Registry, roles_refusal
from config import Settings

log = logging.getLogger(__name__)

PROCESS_ATTEMPTS = 3  # a store error on one event: tried this often, then parked


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
        self.limiter = RateLimiter(settings.rate_limit_burst, settings.rate_limit_per_minute, clock)
        self._queues: dict[str, asyncio.Queue[Incoming]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.parking = Parking(store, metrics, clock)

    # -- queueing ----------------------------------------------------------------------

    def wants(self, incoming: Incoming) -> bool:
        """Commands always; other messages only when a domain listens for them."""
        if incoming.reaction_key is not None:
            return bool(self.registry.listeners.get("reaction"))
        if incoming.replaces is not None:
            return True  # an edit of what the bot handled is answered (sync checks the sender)
        if self.registry.is_command(incoming.body):
            return True
        if incoming.thread_root and self.registry.listeners.get("thread_reply"):
            return True
        return bool(incoming.reply_to and self.registry.listeners.get("reply"))

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
        """The store failed (not the handler, whose errors `_run` answers): tried again
        twice (a database failover), then parked, and the room's next event goes on."""
        for attempt in range(PROCESS_ATTEMPTS):
            try:
                await self.process(incoming)
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
                await self.parking.park_command(
                    incoming, exc, secrets.token_hex(4), self.settings.language
                )

    async def drain(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- one event ---------------------------------------------------------------------

    async def process(self, incoming: Incoming) -> str:
        """Handle one event exactly once; returns the outcome (also a metric label)."""
        started = time.perf_counter()
        corr = secrets.token_hex(4)
        token = correlation.set(corr)
        try:
            async with self.store.write() as db:
                if await _already_handled(db, incoming.event_id):
                    return "duplicate"
                if await _replayed(db, incoming, utc_iso(self.clock.now())):
                    self.metrics.refused.labels("replay").inc()
                    return "replay"
                person = await load_person(db, incoming.sender, self.settings)
                ctx = Context(
                    db=db,
                    settings=self.settings,
                    registry=self.registry,
                    now=self.clock.now(),
                    person=person,
                    incoming=incoming,
                    correlation_id=corr,
                )
                # What the handler renders reads in the sender's language, or in the room's
                # when it has one (a post's or summit's lang=: a room's message is entirely
                # in the room's language); what it renders for someone else is wrapped in
                # that person's (commands/i18n.py).
                here = await reader_language(db, person.language, room_id=incoming.room_id)
                with language(here):
                    replaces, thread_root = incoming.replaces, incoming.thread_root
                    if not self._within_rate(ctx, incoming):
                        # Before edits are looked at: an edit costs what a command costs.
                        name, outcome, replaces = None, "rate_limited", None
                    elif replaces is not None:
                        name, outcome, replaces, thread_root = await self._run_edit(ctx, incoming)
                    elif await edits.superseded(db, incoming.event_id):
                        name, outcome = None, "superseded"  # its edit was handled first
                    else:
                        name, outcome = await self._run(ctx, incoming)
                await render_people(db, ctx.outbox)
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

    def _within_rate(self, ctx: Context, incoming: Incoming) -> bool:
        """One token of the person's budget (bot/ratelimit.py); over it, they are told once.

        Every event that reaches the dispatcher pays: commands, edits, replies, thread
        replies, reactions."""
        if self.limiter.allow(incoming.sender):
            return True
        if self.limiter.first_refusal(incoming.sender):
            # A reaction is not a message to answer: answer the message it was put on; an
            # edit's answer goes to the message the person sees (the one edited).
            target = incoming.reaction_target if incoming.reaction_key else incoming.replaces
            ctx.reply(over_limit_text(self.settings), **({"reply_to": target} if target else {}))
        return False

    async def _run_edit(
        self, ctx: Context, incoming: Incoming
    ) -> tuple[str | None, str, str, str | None]:
        """An edit: run its new text only if nothing of its chain took effect yet.

        Returns (command, outcome, the chain's original, its thread). Answers go to the
        original (what the person sees in Element), in its thread.
        """
        assert incoming.replaces is not None
        chain = await edits.load_chain(ctx.db, incoming.replaces)
        root = chain.root if chain else incoming.replaces
        thread = chain.thread_root if chain else None
        if chain is not None and chain.sender != incoming.sender:
            return None, "edit_ignored", root, thread  # Element ignores such edits too
        applied = [e for e, _cmd in chain.applied] if chain else []
        if applied and not await edits.changed_anything(ctx.db, applied):
            applied = []  # a read-only command (!agenda 7 → 14): answer the new text
        if chain is not None and applied:
            made = await edits.objects_made_by(ctx.db, applied)
            ctx.reply(edits.not_applied_text(self.registry, chain, made, incoming.body))
            name, outcome = chain.applied[-1][1], "edit_not_applied"
        elif self.registry.is_command(incoming.body):
            name, outcome = await self._run(ctx, incoming)
        else:
            return None, "ignored", root, thread
        for msg in ctx.outbox:
            if msg.reply_to == incoming.event_id:
                msg.reply_to = root
                if msg.room_id == incoming.room_id and msg.thread_root is None:
                    msg.thread_root = thread
        return name, outcome, root, thread

    async def _run(self, ctx: Context, incoming: Incoming) -> tuple[str | None, str]:
        is_command = incoming.reaction_key is None and self.registry.is_command(incoming.body)
        name: str | None = None
        # One check for every event that can change state (commands, thread replies,
        # replies, reactions): the same length and rate limits, before any parsing.
        refusal = length_refusal(incoming, self.settings, self.registry, ctx.now)
        if refusal is not None:
            ctx.reply(await examples_for(ctx.db, incoming.sender, refusal))
            return None, "too_long"
        await ctx.db.execute("SAVEPOINT handler")
        try:
            if is_command:
                named = self.registry.named(incoming.body)
                if named is not None and named.roles is not None:
                    if not (ctx.person and ctx.person.has_role(*named.roles)):
                        name = named.name  # refused for the role before any usage error
                        raise UserError(roles_refusal(f"{ctx.prefix}{name}", named.roles))
                invocation = self.registry.parse(incoming.body, ctx.now)
                name = invocation.spec.name
                roles = invocation.spec.roles
                if roles is not None and not (ctx.person and ctx.person.has_role(*roles)):
                    raise UserError(roles_refusal(f"{ctx.prefix}{name}", roles))
                await invocation.spec.call(ctx, invocation.args)
            else:
                kind = (
                    "reaction"
                    if incoming.reaction_key is not None
                    else "thread_reply"
                    if incoming.thread_root
                    else "reply"
                )
                name = f"<{kind}>"
                handled = False
                for listener in self.registry.listeners.get(kind, []):
                    if await listener(ctx, incoming):
                        handled = True
                        break
                if not handled:
                    await ctx.db.execute("RELEASE handler")
                    return name, "ignored"
            await ctx.db.execute("RELEASE handler")
            return name, "ok"
        except UserError as exc:
            await _rollback(ctx)
            asked = question(exc, incoming.body if is_command else None)
            ctx.reply(await examples_for(ctx.db, incoming.sender, asked))
            return name, "user_error"
        except Exception:
            await _rollback(ctx)
            log.exception("internal error in %s (ref %s)", name, ctx.correlation_id)
            ctx.reply(
                _(
                    "Something went wrong on my side (ref {ref}). Nothing was changed. Try "
                    "again, or give the ref to an operator.",
                    ref=ctx.correlation_id,
                )
            )
            return name, "error"

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
                    await _rollback(ctx, "job")
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


async def _rollback(ctx: Context, savepoint: str = "handler") -> None:
    """Undo the handler's writes and forget what it queued: a refused command changes nothing."""
    await ctx.db.execute(f"ROLLBACK TO {savepoint}")
    await ctx.db.execute(f"RELEASE {savepoint}")
    ctx.outbox.clear()
    ctx.scheduled.clear()
    ctx.unscheduled.clear()
