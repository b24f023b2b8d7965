"""Poison events: one event that cannot be handled never stops the bot.

A store or runtime error on one event (a membership change, a routed message, a command
whose transaction cannot commit) is logged without the event's content, counted
(`attache_parked_events_total{stage}`) and the event parked in `parked_events` with where
and why it failed; the loop that met it goes on with the next event.

The reason is the exception's class, its SQLSTATE when it has one, and the line that
raised: never its message, which for a database error can quote a parameter (a body).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.store import Store
from commands.context import Incoming, OutMessage, utc_iso
from commands.i18n import _, language
from commands.readers import reader_language

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[1]


def describe(exc: BaseException) -> str:
    """`DataError [22023] at bot/dm_lifecycle.py:121 in person_left`: what and where, no values."""
    what = type(exc).__name__
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and state:
        what += f" [{state}]"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if _is_ours(f.filename)]
    if not (ours or frames):
        return what
    frame = (ours or frames)[-1]
    return f"{what} at {_short(frame.filename)}:{frame.lineno} in {frame.name}"


def _is_ours(filename: str) -> bool:
    """A frame of this project's code (not a library's, even one compiled from a relative
    path such as asyncpg's `asyncpg/protocol/prepared_stmt.pyx`)."""
    path = Path(filename)
    if not path.is_absolute():
        return False
    path = path.resolve()
    if not path.is_relative_to(_ROOT) or ".venv" in path.parts:
        return False
    return path.relative_to(_ROOT).parts[0] in ("bot", "commands", "config", "tests")


def _short(filename: str) -> str:
    path = Path(filename)
    if path.is_absolute() and path.resolve().is_relative_to(_ROOT):
        return str(path.resolve().relative_to(_ROOT))
    return path.name


def is_fenced(exc: BaseException) -> bool:
    """This instance lost the lease: the event belongs to the one that holds it now."""
    return type(exc).__name__ == "FencedOff"


class Parking:
    """Parks events whose handling failed; shared by the sync loop and the dispatcher."""

    def __init__(self, store: Store, metrics: Metrics, clock: Clock) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock

    async def park(
        self,
        stage: str,
        exc: BaseException,
        *,
        event_id: str | None = None,
        room_id: str | None = None,
        sender: str | None = None,
    ) -> str:
        """Log, count and (for an event) record one failure; returns its reason.

        An event met twice (in a sync's state and its timeline, or replayed after a
        restart) is parked and counted once."""
        reason = describe(exc)
        fresh = True
        if event_id is not None:
            try:
                async with self.store.write() as db:
                    cur = await db.execute(
                        "INSERT INTO parked_events (event_id, stage, room_id, sender, reason, "
                        "parked_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
                        "RETURNING event_id",
                        (event_id, stage, room_id, sender, reason, utc_iso(self.clock.now())),
                    )
                    fresh = await cur.fetchone() is not None
                    await cur.close()
            except Exception as again:  # the store itself is down: the log line is all we have
                log.error("could not record parked %s: %s", event_id, describe(again))
        if not fresh:
            return reason
        self.metrics.parked_events.labels(stage).inc()
        log.error(
            "parked %s in %s at stage %s: %s",
            event_id or "(no event)",
            room_id or "-",
            stage,
            reason,
        )
        return reason

    async def park_command(
        self, incoming: Incoming, exc: BaseException, ref: str, lang: str
    ) -> None:
        """A command whose transaction cannot commit: parked, in the ledger as `parked` (a
        replay or restart does not try it again), and its sender told, with a ref."""
        reason = describe(exc)
        now = utc_iso(self.clock.now())
        try:
            async with self.store.write() as db:
                with language(await reader_language(db, lang, user_id=incoming.sender)):
                    text = _(
                        "Something went wrong on my side (ref {ref}). Nothing was changed. Try "
                        "again, or give the ref to an operator.",
                        ref=ref,
                    )
                await enqueue(
                    db,
                    [
                        OutMessage(
                            body=text,
                            room_id=incoming.room_id,
                            reply_to=incoming.event_id,
                            thread_root=incoming.thread_root,
                        )
                    ],
                    now,
                )
                await db.execute(
                    "INSERT INTO handled_events (event_id, room_id, sender, command, outcome, "
                    "correlation_id, handled_at) VALUES (?, ?, ?, NULL, 'parked', ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (incoming.event_id, incoming.room_id, incoming.sender, ref, now),
                )
        except Exception as again:
            log.error("could not tell the sender of %s: %s", incoming.event_id, describe(again))
        await self.park(
            "dispatch",
            exc,
            event_id=incoming.event_id,
            room_id=incoming.room_id,
            sender=incoming.sender,
        )
        log.info("parked %s: %s", incoming.event_id, reason)

    @asynccontextmanager
    async def guard(
        self,
        stage: str,
        *,
        event_id: str | None = None,
        room_id: str | None = None,
        sender: str | None = None,
    ) -> AsyncIterator[None]:
        """Run one event's step; an error in it parks the event instead of propagating."""
        try:
            yield
        except Exception as exc:
            if is_fenced(exc):
                log.info("not handling %s: this instance no longer holds the lease", event_id)
                return
            await self.park(stage, exc, event_id=event_id, room_id=room_id, sender=sender)
