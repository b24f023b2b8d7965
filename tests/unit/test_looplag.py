"""The event-loop lag sampler (bot/looplag.py): a stretch of work that does not yield shows
as lag at least as long, in attache_event_loop_lag_seconds on /metrics."""

from __future__ import annotations

import asyncio
import time

from bot.looplag import LoopLag
from bot.metrics import Metrics


async def test_work_that_blocks_the_loop_is_seen_as_lag_and_exported() -> None:
    metrics = Metrics()
    sampler = LoopLag(metrics.loop_lag, interval=0.01)
    task = asyncio.create_task(sampler.run())
    await asyncio.sleep(0)  # the sampler is asleep, its timer due in 10 ms
    time.sleep(0.2)  # 200 ms on the loop without yielding (a handler computing)
    while sampler.samples == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    # A lower bound only: a loaded machine makes the lag longer, never shorter.
    assert sampler.worst >= 0.2 - 0.01
    value = metrics.registry.get_sample_value
    over = value("attache_event_loop_lag_seconds_count") - value(
        "attache_event_loop_lag_seconds_bucket", {"le": "0.1"}
    )
    assert over >= 1  # one sample above 100 ms
    assert b"attache_event_loop_lag_seconds_bucket" in metrics.render()
