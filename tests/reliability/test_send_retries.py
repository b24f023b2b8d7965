"""The outbox against a homeserver that rate-limits: retry_after honoured, retries bounded,
a metric and a log line when it gives up. In process, with a scripted transport."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from pathlib import Path
from typing import Any

from bot.matrix import SendError
from bot.outbox import Outbox
from tests.harness.fakes import BotCore


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


async def test_gives_up_after_bounded_retries_with_metric_and_log(tmp_path: Path, caplog) -> None:
    limited = SendError("rate limited", retry_after=0.01)
    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        core, _, transport = await _deliver(tmp_path, [limited] * 50, retries=3)
    try:
        assert len(transport.calls) == 4  # the first try and 3 retries, then no more
        assert [tuple(r) for r in await core.query("SELECT state, error FROM outbox")] == [
            ("failed", "rate limited")
        ]
        assert core.metrics.send_giveups._value.get() == 1
        assert any("gave up on row 1" in r.getMessage() for r in caplog.records)
    finally:
        await core.close()
