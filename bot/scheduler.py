"""The scheduler service: APScheduler as an index of the store's pending jobs.

The store is the truth. At start every pending job due within the horizon is indexed, and
the horizon is refilled periodically, so start-up stays fast with many future jobs. A job
due while the bot was down fires at start (misfire grace: unlimited), marked late by its
handler; `Dispatcher.run_job` fires a job only if it is still pending, in the transaction
that records it done, so no job fires twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.store import Store
from commands.context import parse_utc, utc_iso

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        clock: Clock,
        metrics: Metrics,
        on_fired: Callable[[], None] = lambda: None,
        horizon: timedelta = timedelta(hours=2),
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.metrics = metrics
        self.on_fired = on_fired
        self.horizon = horizon
        self._counting = False
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                # Never drop a late job (the bot was down, or the loop was busy): fire it,
                # once. Coalescing folds repeated misses of the refill into one run.
                "misfire_grace_time": None,
                "coalesce": True,
                "max_instances": 1,
            },
        )

    async def start(self) -> int:
        self.aps.start()
        count = await self.refill()
        self.aps.add_job(
            self.refill, "interval", seconds=self.horizon.total_seconds() / 4, id="refill"
        )
        return count

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    async def refill(self) -> int:
        """Index every pending job due before now + horizon (late ones included)."""
        limit = utc_iso(self.clock.now() + self.horizon)
        async with self.store.reader.execute(
            "SELECT id, due_at FROM jobs WHERE state = 'pending' AND due_at <= ? ORDER BY due_at",
            (limit,),
        ) as cur:
            rows = list(await cur.fetchall())
        for row in rows:
            self._add(int(row[0]), parse_utc(row[1]))
        await self._count()
        return len(rows)

    async def index(self, job_ids: Iterable[int]) -> None:
        """Called after a transaction that scheduled jobs has committed."""
        ids = list(job_ids)
        if not ids:
            return
        limit = self.clock.now() + self.horizon
        marks = ",".join("?" * len(ids))
        async with self.store.reader.execute(
            f"SELECT id, due_at FROM jobs WHERE state = 'pending' AND id IN ({marks})", ids
        ) as cur:
            for row in await cur.fetchall():
                due = parse_utc(row[1])
                if due <= limit:
                    self._add(int(row[0]), due)
        await self._count()

    def drop(self, job_ids: Iterable[int]) -> None:
        for job_id in job_ids:
            try:
                self.aps.remove_job(f"job:{job_id}")
            except JobLookupError:
                pass

    def _add(self, job_id: int, due: datetime) -> None:
        self.aps.add_job(
            self._fire,
            "date",
            run_date=due,
            id=f"job:{job_id}",
            args=[job_id, due],
            replace_existing=True,
        )

    async def _fire(self, job_id: int, due: datetime | None = None) -> None:
        if due is not None:  # late: the bot was down, or busy (alert: reminders firing late)
            self.metrics.job_delay.observe(max((self.clock.now() - due).total_seconds(), 0))
        try:
            await self.dispatcher.run_job(job_id)
        except Exception:
            log.exception("job %d could not be recorded; it stays pending", job_id)
        self.on_fired()
        if not self._counting:
            # One count for a burst of jobs, not one per job: 1,000 reminders due in the
            # same minute should spend the store's time on firing, not on the gauge.
            self._counting = True
            try:
                await asyncio.sleep(0.5)
                await self._count()
            finally:
                self._counting = False

    async def _count(self) -> None:
        async with self.store.reader.execute(
            "SELECT COUNT(*) FROM jobs WHERE state = 'pending'"
        ) as cur:
            row = await cur.fetchone()
        self.metrics.pending_jobs.set(int(row[0]) if row else 0)
