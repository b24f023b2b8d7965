"""Action items at scale: 100,000 items in the store; insert rate and filtered-page latency.

    PYTHONPATH=. python bench/bench_actions.py [--items 100000] [--runs 300] [--json FILE]

Inserts go through the domain function (`insert_item`: the item and its history line),
first one write transaction per item (what a command costs), then in batches to fill the
store. Queries are `query_items` (the page and its total) on the reader connection, and the
whole `!actions list` command through the real dispatcher (parse, permission, query,
render, outbox row, handled-event row, commit). Targets: p99 <= 20 ms per filtered page,
>= 2,000 inserts/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from commands.actions.listing import query_items
from commands.actions.store import insert_item
from commands.markings.model.policy import Policy
from commands.time import Due
from tests.harness.fakes import BotCore, FakeClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STATUSES = ["open"] * 4 + ["in_progress"] * 2 + ["done"] * 3 + ["cancelled"]
SUMMITS = 20
PEOPLE = [f"@p{i}:test" for i in range(150)]
POSTS = [f"POST-{i}" for i in range(50)]
SEC = "@sec:test"
ROOM = "!summit1:test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def setup(core: BotCore) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO people (user_id, roles, updated_at) VALUES (?, 'secretariat', ?)",
            (SEC, NOW.isoformat()),
        )
        for code in POSTS:
            await db.execute(
                "INSERT INTO posts (code, name, created_at) VALUES (?, '', ?)",
                (code, NOW.isoformat()),
            )
            for j in range(3):
                await db.execute(
                    "INSERT INTO post_members (post, user_id) VALUES (?, ?)",
                    (code, PEOPLE[(hash(code) + j) % len(PEOPLE)]),
                )
        for i in range(1, SUMMITS + 1):
            await db.execute(
                "INSERT INTO summits (name, room_id, timezone, created_by, created_at) "
                "VALUES (?, ?, 'Europe/Paris', ?, ?)",
                (f"Summit {i}", f"!summit{i}:test", SEC, NOW.isoformat()),
            )


def random_item(rng: random.Random) -> tuple[int, str, str, Due, str]:
    owner = rng.choice(PEOPLE + POSTS)
    kind = "post" if owner.startswith("POST") else "person"
    due = Due(NOW + timedelta(hours=rng.randint(-24 * 180, 24 * 180)), "Europe/Paris", False)
    return rng.randint(1, SUMMITS), kind, owner, due, rng.choice(STATUSES)


async def insert(core: BotCore, rng: random.Random, count: int, batch: int) -> float:
    """Insert `count` items, `batch` per write transaction; returns items per second."""
    policy = Policy.from_settings(core.settings)
    started = time.perf_counter()
    done = 0
    while done < count:
        n = min(batch, count - done)
        async with core.store.write() as db:
            for _ in range(n):
                summit, kind, owner, due, status = random_item(rng)
                number = await insert_item(
                    db,
                    summit,
                    f"task {done}",
                    kind,
                    owner,
                    due,
                    SEC,
                    NOW,
                    f"$bench{done}",
                    policy=policy,
                )
                if status != "open" and batch > 1:  # per-item runs time the insert alone
                    await db.execute(
                        "UPDATE action_items SET status = ? WHERE id = ?", (status, number)
                    )
                done += 1
    return count / (time.perf_counter() - started)


async def timed(runs: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(5):
        await fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rng = random.Random(7)
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} py{platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": args.items,
    }
    with tempfile.TemporaryDirectory() as tmp:
        # No rate limit: the fake clock stands still, and the limiter is not what is measured.
        core = await BotCore(Path(tmp), FakeClock(NOW), rate_limit_burst=10**9).open()
        try:
            await setup(core)
            single = min(2_000, args.items)
            results["insert_per_txn_per_s"] = await insert(core, rng, single, 1)
            results["insert_batched_per_s"] = await insert(core, rng, args.items - single, 1_000)
            # Once more at full size (indexes deeper), one transaction per item.
            results["insert_per_txn_full_per_s"] = await insert(core, rng, single, 1)
            async with core.store.write() as db:  # keep the store at exactly --items
                await db.execute(
                    "DELETE FROM history WHERE object GLOB 'A-*' "
                    "AND CAST(substr(object, 3) AS INTEGER) > ?",
                    (args.items,),
                )
                await db.execute("DELETE FROM action_items WHERE id > ?", (args.items,))
            reader = core.store.reader
            size = core.settings.actions_page_size

            def page(**kw: Any) -> Callable[[], Awaitable[Any]]:
                base: dict[str, Any] = {
                    "now": NOW,
                    "summit_ids": None,
                    "owners": None,
                    "restrict_owners": None,
                    "statuses": ("open", "in_progress"),
                    "overdue": False,
                    "before": None,
                    "limit": size,
                    "offset": 0,
                }

                async def run() -> Any:
                    values = {k: (v() if callable(v) else v) for k, v in {**base, **kw}.items()}
                    return await query_items(reader, **values)

                return run

            summit = lambda: [rng.randint(1, SUMMITS)]  # noqa: E731
            person = lambda: [rng.choice(PEOPLE), rng.choice(POSTS)]  # noqa: E731
            cases: dict[str, Callable[[], Awaitable[Any]]] = {
                "summit, active": page(summit_ids=summit),
                "summit + owner": page(summit_ids=summit, owners=person),
                "summit, status=done": page(summit_ids=summit, statuses=("done",)),
                "summit, overdue": page(summit_ids=summit, overdue=True),
                "summit, before=+30d": page(summit_ids=summit, before=NOW + timedelta(days=30)),
                "owner, all summits": page(owners=person),
                "all, status=all, page 50": page(
                    statuses=("open", "in_progress", "done", "cancelled"), offset=49 * size
                ),
            }
            queries = {}
            for name, fn in cases.items():
                ms = await timed(args.runs, fn)
                queries[name] = {
                    "p50_ms": statistics.median(ms),
                    "p99_ms": pct(ms, 0.99),
                }
            total, _ = await page(summit_ids=[1])()
            results["items_per_summit_active"] = total

            async def list_command() -> None:
                s = rng.randint(1, SUMMITS)
                owner = rng.choice(PEOPLE)
                await core.say(SEC, f"!actions list S-{s} owner={owner}", room_id=ROOM)

            async def list_room() -> None:
                await core.say(SEC, "!actions list overdue", room_id=ROOM)

            for name, fn in (
                ("command: !actions list S-n owner=@x", list_command),
                ("command: !actions list overdue (room)", list_room),
            ):
                ms = await timed(args.runs, fn)
                queries[name] = {"p50_ms": statistics.median(ms), "p99_ms": pct(ms, 0.99)}
            results["queries"] = queries
            due = (NOW + timedelta(days=60)).date().isoformat()

            async def add_command() -> None:
                await core.say(
                    SEC, f"!actions add S-1 {rng.choice(PEOPLE)} due={due} -- bench", room_id=ROOM
                )

            ms = await timed(min(args.runs, 500), add_command)
            results["command_add"] = {"p50_ms": statistics.median(ms), "p99_ms": pct(ms, 0.99)}
        finally:
            await core.close()

    print(f"action items: {args.items:,} in the store ({results['machine']})")
    print(f"insert, one transaction each: {results['insert_per_txn_per_s']:,.0f} items/s")
    print(f"insert, 1,000 per transaction: {results['insert_batched_per_s']:,.0f} items/s")
    print(
        f"insert, one transaction each, store full: "
        f"{results['insert_per_txn_full_per_s']:,.0f} items/s"
    )
    add = results["command_add"]
    print(
        f"command !actions add (dispatcher, nudges planned, reply queued): "
        f"p50 {add['p50_ms']:.2f} ms, p99 {add['p99_ms']:.2f} ms"
    )
    print(f"{'query (one page of ' + str(size) + ' + total)':44} {'p50 ms':>8} {'p99 ms':>8}")
    for name, q in results["queries"].items():
        print(f"{name:44} {q['p50_ms']:8.2f} {q['p99_ms']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
