"""Sends what handlers wrote to the outbox: in order per room, concurrently across rooms.

Each row is sent with transaction ID `attache.<row id>`: if the bot dies after the server
accepted a message but before the row was marked sent, the resend after restart is
deduplicated by the homeserver, so every reply arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from typing import Any, Protocol

import aiosqlite

from bot.clock import Clock
from bot.matrix import SendError
from bot.metrics import Metrics
from bot.store import Store
from commands.context import OutMessage, parse_utc, utc_iso

log = logging.getLogger(__name__)

BACKOFF_CAP = 30.0


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


async def enqueue(db: aiosqlite.Connection, messages: list[OutMessage], now_iso: str) -> None:
    """Write messages in the caller's transaction (with the effect that produced them)."""
    for msg in messages:
        row = msg.to_row()
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


class Outbox:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        clock: Clock,
        metrics: Metrics,
        max_retries: int = 8,
        give_up_after: float = 900.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        self.max_retries = max_retries
        self.give_up_after = give_up_after
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
        """Pending rows per target (room, or 'user:' + person): one query, one round trip."""
        rows = await self.store.reader.execute_fetchall(
            "SELECT COALESCE(room_id, 'user:' || user_id), COUNT(*) FROM outbox "
            "WHERE state = 'pending' GROUP BY 1"
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
                f"{'AND room_id IS NULL' if column == 'user_id' else ''} ORDER BY id LIMIT 1",
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
        meta = json.loads(row["content"])
        attempts = 0
        started = self.clock.monotonic()
        while not self._stopping:
            try:
                room_id = row["room_id"] or await self._dm_room(row_id, row["user_id"])
                content = await self._content(meta, row["attachment"])
                self._note_if_late(content, meta, row["created_at"])
                reveal = tuple(meta["reveal_to"]) if meta.get("reveal_to") else None
                try:
                    event_id = await self.transport.send(
                        room_id,
                        content,
                        f"attache.{row_id}",
                        reveal,  # type: ignore[arg-type]
                    )
                except SendError:
                    raise
                except Exception as exc:
                    # A bug or surprise below us must not kill this room's worker (its
                    # messages would wait until restart): retry it like a network error.
                    log.exception("outbox: unexpected error sending row %d", row_id)
                    raise SendError(type(exc).__name__) from exc
            except SendError as exc:
                attempts += 1
                waited = self.clock.monotonic() - started
                if (
                    exc.permanent
                    or (exc.rate_limited and attempts > self.max_retries)
                    or (waited > self.give_up_after)
                ):
                    await self._mark_failed(row_id, str(exc))
                    return
                delay = exc.retry_after if exc.retry_after else min(BACKOFF_CAP, 0.5 * 2**attempts)
                self.metrics.send_retries.inc()
                log.warning("outbox: row %d not sent (%s), retry in %.1fs", row_id, exc, delay)
                if exc.rate_limited:
                    await asyncio.sleep(delay)
                else:
                    resumed = self._resume
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(resumed.wait(), delay)
                continue
            await self._mark_sent(row_id, room_id, event_id)
            return

    async def _dm_room(self, row_id: int, user_id: str) -> str:
        async with self.store.reader.execute(
            "SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,)
        ) as cur:
            found = await cur.fetchone()
        room_id = found[0] if found else await self.transport.dm_room(user_id)
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (user_id, room_id),
            )
            await db.execute(
                "UPDATE outbox SET room_id = ? WHERE user_id = ? AND room_id IS NULL "
                "AND state = 'pending'",
                (room_id, user_id),
            )
        return str(room_id)

    async def _content(self, meta: dict[str, Any], attachment: bytes | None) -> dict[str, Any]:
        content = dict(meta["content"])
        reply_to, root = meta.get("reply_to"), meta.get("thread_root")
        if meta.get("thread_key") and not root:
            root = await self._event_for_key(meta["thread_key"])
        if root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": reply_to is None,
                "m.in_reply_to": {"event_id": reply_to or root},
            }
        elif reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if attachment is not None:
            info = meta["attachment"]
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

    def _note_if_late(self, content: dict[str, Any], meta: dict[str, Any], queued: str) -> None:
        limit = meta.get("late_note_after")
        if limit is None:
            return
        queued_at = parse_utc(queued)
        if (self.clock.now() - queued_at).total_seconds() <= limit:
            return
        note = (
            f"(Delivered late: the homeserver was unreachable. "
            f"This was due {queued_at:%Y-%m-%d %H:%M} UTC.)"
        )
        content["body"] = f"{note}\n{content['body']}"
        if "formatted_body" in content:
            content["formatted_body"] = (
                f"<em>{html.escape(note)}</em><br>{content['formatted_body']}"
            )

    async def _event_for_key(self, key: str) -> str | None:
        async with self.store.reader.execute(
            "SELECT event_id FROM outbox WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row and row[0] else None

    async def _mark_sent(self, row_id: int, room_id: str, event_id: str) -> None:
        # The plaintext is dropped once delivered: the store keeps only what objects need.
        await self.store.write_one(  # one statement: one database trip, not three
            "UPDATE outbox SET state = 'sent', room_id = ?, event_id = ?, sent_at = ?, "
            "content = '{}', attachment = NULL WHERE id = ?",
            (room_id, event_id, utc_iso(self.clock.now()), row_id),
        )
        self.metrics.messages_sent.inc()

    async def _mark_failed(self, row_id: int, reason: str) -> None:
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ? WHERE id = ?", (reason, row_id)
            )
        self.metrics.send_giveups.inc()
        log.error("outbox: gave up on row %d: %s", row_id, reason)
