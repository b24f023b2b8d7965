"""How late the event loop runs what is due: a small task sleeps `interval` seconds again and
again and records by how much each wake-up overshoots (attache_event_loop_lag_seconds).

Everything the bot does runs on one loop: a handler that computes for 200 ms inside its
write transaction delays every other room's command, the sync and the outbox by as much.
This is the measure of that (issue 25: nothing on the loop longer than 20 ms); the
benchmarks read the same sampler with a shorter interval (bench/scale.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import Histogram

INTERVAL = 0.5  # seconds between samples in production: cheap, and often enough


class LoopLag:
    def __init__(
        self,
        histogram: Histogram | None = None,
        interval: float = INTERVAL,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.histogram = histogram
        self.interval = interval
        self.monotonic = monotonic
        self.worst = 0.0  # the largest lag seen since the last reset()
        self.samples = 0

    def reset(self) -> None:
        self.worst, self.samples = 0.0, 0

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            started = self.monotonic()
            await asyncio.sleep(self.interval)
            self.observe(self.monotonic() - started - self.interval)

    def observe(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.samples += 1
        self.worst = max(self.worst, lag)
        if self.histogram is not None:
            self.histogram.observe(lag)
