"""The outbox against a homeserver that rate-limits: retry_after honoured, retries bounded,
a metric and a log line when it gives up. In process, with a scripted transport."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from pathlib import Path
from typing import Any

from bot.outbox.sending import Outbox
from bot.send_error import SendError
from tests.harness.fakes import BotCore, FakeClock, FakeTransport


class Scripted:
    """Answers each send with the next scripted result: a SendError, or success."""

    def __init__(self, script: list[SendError | None]) -> None:
        self.script = script
        self.calls: list[tuple[float, str]] = []

    async def send(
        self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to: Any = None
    ) -> str:
        self.calls.append((time.monotonic(), txn_id))
        result = self.script.pop(0) if self.script else None
        if result is not None:
            raise result
        return f"$sent{len(self.calls)}"

    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        raise AssertionError("no uploads here")

    async def dm_room(self, user_id: str) -> str:
        raise AssertionError("no DMs here")


async def _deliver(
    tmp: Path, script: list[SendError | None], retries: int
) -> tuple[BotCore, Outbox, Scripted]:
    core = await BotCore(tmp).open()
    await core.say("@alice:test", "!ping")
    transport = Scripted(script)
    outbox = Outbox(core.store, transport, core.clock, core.metrics, max_retries=retries)
    task = asyncio.create_task(outbox.run())
    try:
        for _ in range(200):
            if not await core.query("SELECT 1 FROM outbox WHERE state = 'pending'"):
                break
            await asyncio.sleep(0.02)
    finally:
        await outbox.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return core, outbox, transport


async def test_rate_limited_send_waits_retry_after_then_succeeds(tmp_path: Path) -> None:
    limited = SendError("rate limited", retry_after=0.2)
    core, _, transport = await _deliver(tmp_path, [limited, limited, None], retries=5)
    try:
        assert [row[0] for row in await core.query("SELECT state FROM outbox")] == ["sent"]
        times = [t for t, _ in transport.calls]
        assert len(times) == 3
        assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))
        # every attempt carries the same transaction ID, so the server deduplicates resends
        assert {txn for _, txn in transport.calls} == {"attache.1"}
        assert core.metrics.send_retries._value.get() == 2
    finally:
        await core.close()


class BusyHomeserver(FakeTransport):
    """Answers 429 (Retry-After 10 ms) to the first `busy` sends, each one taking the fake
    clock `step` seconds further, as a long rate limit would; then accepts everything."""

    def __init__(self, clock: FakeClock, busy: int, step: float) -> None:
        super().__init__()
        self.clock, self.busy, self.step = clock, busy, step
        self.refused = 0

    async def send(
        self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to: Any = None
    ) -> str:
        if self.refused < self.busy:
            self.refused += 1
            self.clock.advance(seconds=self.step)
            raise SendError("rate limited", retry_after=0.01)
        return await super().send(room_id, content, txn_id, reveal_to)


async def test_answers_past_their_deadline_are_not_sent_and_their_senders_are_told(
    tmp_path: Path, caplog
) -> None:
    """A burst of `!ping` under a long rate limit: what is no longer worth sending fails,
    each sender hears of it once (in their language, as a reply to their command), the
    admins once, and every failure is counted; nothing is dropped silently."""
    clock = FakeClock()
    core = await BotCore(tmp_path, clock).open()
    try:
        await core.say("@anna:test", "!lang de", room_id="!anna:test")
        await core.new_messages()
        async with core.store.write() as db:  # that answer went out already
            await db.execute("UPDATE outbox SET state = 'sent'")
        pings = {
            who: [
                (await core.say(who, "!ping", room_id=f"!{who[1:5]}:test"))[0].reply_to
                for _ in range(3)
            ]
            for who in ("@anna:test", "@bert:test")
        }
        homeserver = BusyHomeserver(clock, busy=4, step=25.0)  # 100 s of 429s
        with caplog.at_level(logging.ERROR, logger="bot.send_failures"):
            await core.drain_outbox(homeserver)
        states = dict(
            (r[0], r[1])
            for r in await core.query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        )
        notices = {
            room: c
            for room, c in homeserver.sent
            if "in time" in c["body"] or "rechtzeitig" in c["body"]
        }
        answers = [c for _room, c in homeserver.sent if c["body"] == "pong"]
        # Every ping was answered or its sender told; the told ones were never sent.
        assert len(answers) + states["failed"] == 6
        assert set(notices) == {"!anna:test", "!bert:test"}
        assert "rechtzeitig" in notices["!anna:test"]["body"]  # Anna reads German
        assert "limiting how fast I can send" in notices["!bert:test"]["body"]
        for room, who in (("!anna:test", "@anna:test"), ("!bert:test", "@bert:test")):
            reply_to = notices[room]["m.relates_to"]["m.in_reply_to"]["event_id"]
            assert reply_to in pings[who]
            assert notices[room]["m.mentions"] == {"user_ids": [who]}
        to_admin = [c for room, c in homeserver.sent if room == homeserver.dms.get("@admin:test")]
        assert len(to_admin) == 1 and "override_ratelimit" in to_admin[0]["body"]
        expired = core.metrics.send_giveups.labels("reply", "expired")._value.get()
        assert expired == states["failed"] > 0
        assert core.metrics.send_rate_limited._value.get() == 4
        assert any("gave up on row" in r.getMessage() for r in caplog.records)
    finally:
        await core.close()


async def test_a_reminder_held_up_by_a_rate_limit_is_sent_late_and_says_so(
    tmp_path: Path,
) -> None:
    """Ten minutes of 429s: a reminder is still worth sending (a pong would not be)."""
    clock = FakeClock()
    core = await BotCore(tmp_path, clock).open()
    try:
        await core.say("@anna:test", "!remind in 5m -- call Paris", room_id="!anna:test")
        async with core.store.write() as db:
            await db.execute("UPDATE outbox SET state = 'sent'")
        await core.dm_with("@anna:test", "!dm-@anna:test")
        clock.advance(minutes=5)
        fired = await core.fire_due()
        assert [m.body for m in fired if "Reminder" in m.body], fired
        homeserver = BusyHomeserver(clock, busy=6, step=100.0)
        homeserver.dms["@anna:test"] = "!dm-@anna:test"
        await core.drain_outbox(homeserver)
        bodies = [c["body"] for _room, c in homeserver.sent]
        assert len(bodies) == 1, bodies
        assert bodies[0].startswith("(Delivered late:") and "call Paris" in bodies[0]
        assert [r[0] for r in await core.query("SELECT state FROM outbox")] == ["sent", "sent"]
        assert core.metrics.send_giveups.labels("scheduled", "expired")._value.get() == 0
    finally:
        await core.close()


async def test_a_refused_message_fails_at_once_and_is_reported(tmp_path: Path) -> None:
    limited = SendError("send failed (M_FORBIDDEN)", permanent=True)
    core, _, transport = await _deliver(tmp_path, [limited], retries=3)
    try:
        assert len(transport.calls) == 2  # the refused answer, then the notice about it
        rows = [tuple(r) for r in await core.query("SELECT state, error FROM outbox ORDER BY id")]
        assert rows == [("failed", "send failed (M_FORBIDDEN)"), ("sent", None)]
        assert core.metrics.send_giveups.labels("reply", "refused")._value.get() == 1
    finally:
        await core.close()
