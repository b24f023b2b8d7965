"""Start-up: process start to first completed sync (/healthz), with a store of 50 rooms; RSS.

    PYTHONPATH=. python bench/startup.py [--rooms 50] [--restarts 5] [--json FILE]

One local Synapse (temp dir). The bot's first start (new device: login, key upload,
cross-signing bootstrap) is timed once; then a person opens --rooms encrypted rooms with
it and has one `!ping` answered in each (so each room has Megolm sessions both ways),
and the bot is restarted --restarts times on that data dir. The clock runs from spawning
the process to the first /healthz whose sync check passes (polled every 20 ms).
VmRSS is read right then and again 5 s later.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import (
    base_args,
    machine,
    new_user,
    round_trip,
    rss_mb,
    run_and_report,
    start_synapse,
    table,
)
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient


def _sync_ok(bot: BotProcess) -> bool:
    return bool(((bot.health() or {}).get("checks", {}).get("sync") or {}).get("ok"))


def timed_start(bot: BotProcess, timeout: float = 120) -> tuple[float, float, float]:
    """(seconds to healthy, RSS MiB then, RSS MiB 5 s later)."""
    started = time.perf_counter()
    bot.starts += 1
    bot.proc = bot.spawn()
    while not _sync_ok(bot):
        if bot.proc.poll() is not None:
            raise RuntimeError(f"bot exited:\n{bot.log_tail()}")
        if time.perf_counter() - started > timeout:
            raise TimeoutError(bot.log_tail())
        time.sleep(0.02)
    took = time.perf_counter() - started
    rss = rss_mb(bot.proc.pid)
    time.sleep(5)
    return took, rss, rss_mb(bot.proc.pid)


async def measure(tmp: Path, rooms: int, restarts: int) -> dict[str, Any]:
    facts: dict[str, Any] = {"machine_start": machine(), "rooms": rooms}
    synapse = start_synapse(tmp / "synapse")
    bot = alice = None
    try:
        a_user = new_user(synapse, "alice")
        bot = BotProcess(synapse, tmp / "bot", allowed_users=[a_user["user_id"]], log_level="INFO")
        first = await asyncio.to_thread(timed_start, bot)
        facts["first_start"] = {"seconds": round(first[0], 2), "rss_mb": first[1:]}
        alice = await TestClient.create(synapse, a_user, tmp / "alice")
        for _ in range(rooms):
            room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
            await round_trip(alice, room, "!ping")
        runs = []
        for _ in range(restarts):
            await bot.astop()
            took, rss, rss_later = await asyncio.to_thread(timed_start, bot)
            runs.append({"seconds": round(took, 2), "rss_mb": rss, "rss_mb_5s": rss_later})
        # Still answering after the restarts (the figures are of a working bot).
        await round_trip(alice, room, "!ping")
        facts["restarts"] = runs
        facts["restart_median_s"] = round(statistics.median(r["seconds"] for r in runs), 2)
        facts["rss_median_mb"] = statistics.median(r["rss_mb_5s"] for r in runs)
        facts["store_mb"] = round(
            sum(p.stat().st_size for p in bot.data_dir.rglob("*") if p.is_file()) / 2**20, 1
        )
        facts["machine_end"] = machine()
        return facts
    finally:
        if alice is not None:
            await alice.close()
        if bot is not None:
            bot.close()
        synapse.close()


def report(f: dict[str, Any]) -> str:
    fs = f["first_start"]
    rows: list[list[Any]] = [["first start (new device, no rooms)", fs["seconds"], *fs["rss_mb"]]]
    for i, r in enumerate(f["restarts"], 1):
        rows.append([f"restart {i}, {f['rooms']} rooms", r["seconds"], r["rss_mb"], r["rss_mb_5s"]])
    rows.append(
        [f"restart, median ({f['rooms']} rooms)", f["restart_median_s"], "", f["rss_median_mb"]]
    )
    m0, m1 = f["machine_start"], f["machine_end"]
    return table(
        f"Start-up to first completed sync, {m0['date']}, {m0['cores']} cores, Python "
        f"{m0['python']}, load {m0['load_avg']} -> {m1['load_avg']}; data dir {f['store_mb']} MiB",
        ["start", "seconds to /healthz ok", "RSS MiB then", "RSS MiB +5 s"],
        rows,
    )  # fmt: skip


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--restarts", type=int, default=5)
    args = parser.parse_args()
    run_and_report(
        "bench-start-", args, lambda tmp: measure(tmp, args.rooms, args.restarts), report
    )


if __name__ == "__main__":
    main()
