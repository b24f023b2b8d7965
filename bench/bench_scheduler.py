"""Scheduler benchmark: rebuild time with 10,000 pending reminders, and firing lateness.

Not a test: it prints a table (and writes JSON with --json FILE). It uses the real Store,
Dispatcher, Scheduler (APScheduler) and the system clock; messages go to the outbox table
and are not sent (there is no homeserver), which is the bot's cost up to the send.

  python bench/bench_scheduler.py [--pending 10000] [--burst 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import SystemClock
from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.scheduler import Scheduler
from bot.store import Store
from commands import build_registry
from commands.context import utc_iso
from commands.schedule.model import LEAD_JOB
from config import Settings

ROOM = "!bench:test"
USER = "@bench:test"


def settings(data_dir: Path) -> Settings:
    return Settings(
        homeserver="http://127.0.0.1:1",
        user_id="@bot:test",
        password="unused-password",
        pickle_key="bench-pickle-key-0123456789",
        data_dir=data_dir,
        allowed_servers=["test"],
    )


async def seed(store: Store, dues: list[datetime]) -> None:
    """One reminder (R-n) per due time, with its job, as `!remind` would store them."""
    now = utc_iso(datetime.now(UTC))
    async with store.write() as db:
        for number, due in enumerate(dues, start=1):
            at = utc_iso(due)
            await db.execute(
                "INSERT INTO schedule_items (kind, number, title, start_at, timezone, "
                "lead_seconds, room_id, creator, next_at, created_at, updated_at) "
                "VALUES ('R', ?, ?, ?, 'Europe/Paris', '0', ?, ?, ?, ?, ?)",
                (number, f"reminder {number}", at, ROOM, USER, at, now, now),
            )
            await db.execute(
                "INSERT INTO jobs (kind, ref, due_at, payload, created_at) VALUES (?,?,?,?,?)",
                (LEAD_JOB, f"R-{number}@{at}", at, json.dumps({"occ": at, "lead": 0}), now),
            )


def parts(tmp: Path, name: str) -> tuple[Store, Scheduler]:
    conf = settings(tmp / name)
    store = Store(tmp / name / "bench.db")
    clock = SystemClock()
    metrics = Metrics()
    dispatcher = Dispatcher(conf, store, build_registry(), clock, metrics)
    return store, Scheduler(store, dispatcher, clock, metrics)


async def rebuild(tmp: Path, name: str, dues: list[datetime]) -> dict[str, Any]:
    store, scheduler = parts(tmp, name)
    await store.open()
    await seed(store, dues)
    await store.close()
    # A fresh process: open the store, then rebuild the index (what start-up does).
    store, scheduler = parts(tmp, name)
    started = time.perf_counter()
    await store.open()
    opened = time.perf_counter()
    indexed = await scheduler.start()
    done = time.perf_counter()
    scheduler.shutdown()
    await store.close()
    return {
        "case": name,
        "pending": len(dues),
        "indexed": indexed,
        "open_s": opened - started,
        "start_s": done - opened,
    }


async def lateness(tmp: Path, name: str, dues: list[datetime]) -> dict[str, Any]:
    store, scheduler = parts(tmp, name)
    await store.open()
    await seed(store, dues)
    await scheduler.start()
    deadline = max(dues) + timedelta(seconds=120)
    while datetime.now(UTC) < deadline:
        async with store.reader.execute("SELECT COUNT(*) FROM jobs WHERE state = 'pending'") as cur:
            row = await cur.fetchone()
        if row is not None and row[0] == 0:
            break
        await asyncio.sleep(0.2)
    async with store.reader.execute(
        "SELECT late_seconds, state FROM jobs ORDER BY late_seconds"
    ) as cur:
        rows = await cur.fetchall()
    async with store.reader.execute("SELECT COUNT(*) FROM outbox") as cur:
        queued = (await cur.fetchone() or [0])[0]
    scheduler.shutdown()
    await store.close()
    late = sorted(float(r[0]) for r in rows if r[1] == "done")
    q = statistics.quantiles(late, n=100) if len(late) > 1 else late * 99
    return {
        "case": name,
        "jobs": len(dues),
        "fired": len(late),
        "messages": queued,
        "p50_s": q[49],
        "p99_s": q[98],
        "max_s": late[-1] if late else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        spread = [
            now + timedelta(days=1, seconds=i * 30 * 86400 / args.pending)
            for i in range(args.pending)
        ]
        near = [
            now + timedelta(minutes=30, seconds=i * 3600 / args.pending)
            for i in range(args.pending)
        ]
        rebuilds = [
            await rebuild(tmp, "spread over 30 days", spread),
            await rebuild(tmp, "all due within the 2 h horizon", near),
        ]
        lates = []
        for case, width in (("same instant", 0.0), ("spread over one minute", 60.0)):
            at = datetime.now(UTC) + timedelta(seconds=8)  # after seeding and start-up
            dues = [at + timedelta(seconds=width * i / args.burst) for i in range(args.burst)]
            lates.append(await lateness(tmp, case, dues))
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    print(f"\n{'rebuild case':34} {'pending':>8} {'indexed':>8} {'open s':>8} {'start s':>8}")
    for r in rebuilds:
        print(
            f"{r['case']:34} {r['pending']:8d} {r['indexed']:8d} "
            f"{r['open_s']:8.3f} {r['start_s']:8.3f}"
        )
    print(f"\n{'lateness case':34} {'jobs':>6} {'fired':>6} {'p50 s':>8} {'p99 s':>8} {'max s':>8}")
    for r in lates:
        print(
            f"{r['case']:34} {r['jobs']:6d} {r['fired']:6d} "
            f"{r['p50_s']:8.3f} {r['p99_s']:8.3f} {r['max_s']:8.3f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"rebuild": rebuilds, "lateness": lates}, indent=2), encoding="utf-8"
        )


if __name__ == "__main__":
    asyncio.run(main())
