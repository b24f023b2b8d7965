"""Start-up: process start to first completed sync (/healthz), with a store of 50 rooms; RSS.

    PYTHONPATH=. python bench/startup.py [--rooms 50] [--restarts 5] [--json FILE]

One local Synapse (temp dir). The bot's first start (new device: login, key upload,
cross-signing bootstrap) is timed once; then a person opens --rooms encrypted rooms with
it and has one `!ping` answered in each (so each room has Megolm sessions both ways),
and the bot is restarted --restarts times on that data dir. The clock runs from spawning
the process to the first /healthz whose sync check passes (polled every 20 ms).
VmRSS is read right then and again 5 s later.

Then room churn on the last running bot (--churn-batches batches of --rooms rooms, as DMs
come and go in real life): in each batch the person opens --rooms new encrypted rooms,
has --churn-commands `!ping`s answered in each and leaves; the server admin deletes the
room (the bot is removed and sees the leave), then purges it. VmRSS after each batch: a
per-room leak shows as growth from one batch to the next.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.parse
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


async def churn(
    synapse: Any, alice: TestClient, bot: BotProcess, rooms: int, commands: int
) -> float:
    """Open rooms, run commands in each, leave and purge them; the bot's RSS afterwards."""
    opened = []
    for _ in range(rooms):
        room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
        for _ in range(commands):
            await round_trip(alice, room, "!ping")
        opened.append(room)
    for room in opened:
        await alice.client.room_leave(room)
    # The server admin deletes the rooms: first without purging (Synapse removes the bot,
    # and its next sync shows the leave), then purged. Purging at once deletes the events
    # that sync would need to show the leave (Synapse's sync then fails for the bot).
    for purge in (False, True):
        for room in opened:
            # Synapse on SQLite sometimes fails a purge (a foreign-key error in its own
            # log); the bot is out of the room either way, so the bench goes on.
            synapse.request(
                "DELETE",
                f"/_synapse/admin/v1/rooms/{urllib.parse.quote(room)}",
                {"purge": purge},
                token=synapse.admin_token,
            )
        if not purge:
            await asyncio.sleep(3)
    await asyncio.sleep(5)  # the bot's next syncs carry the leaves
    assert bot.proc is not None
    return rss_mb(bot.proc.pid)


async def measure(
    tmp: Path, rooms: int, restarts: int, churn_batches: int = 0, churn_commands: int = 10
) -> dict[str, Any]:
    facts: dict[str, Any] = {"machine_start": machine(), "rooms": rooms}
    synapse = start_synapse(tmp / "synapse")
    bot = alice = None
    try:
        a_user = new_user(synapse, "alice")
        bot = BotProcess(
            synapse,
            tmp / "bot",
            allowed_users=[a_user["user_id"]],
            log_level="INFO",
            # One person sends every command of the churn: the per-person limit is not measured.
            settings={"rate_limit_burst": 10_000, "rate_limit_per_minute": 100_000},
        )
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
        if churn_batches:
            assert bot.proc is not None
            facts["churn"] = {"rooms": rooms, "commands_per_room": churn_commands}
            facts["churn"]["rss_mb"] = [rss_mb(bot.proc.pid)]
            for _ in range(churn_batches):
                rss = await churn(synapse, alice, bot, rooms, churn_commands)
                facts["churn"]["rss_mb"].append(rss)
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
    churn = f.get("churn")
    if churn:
        for i, rss in enumerate(churn["rss_mb"]):
            what = (
                "before room churn"
                if i == 0
                else (
                    f"after batch {i}: {churn['rooms']} rooms x {churn['commands_per_room']} "
                    "!ping, left and purged"
                )
            )
            rows.append([what, "", "", rss])
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
    parser.add_argument("--churn-batches", type=int, default=2, help="0: no room churn")
    parser.add_argument("--churn-commands", type=int, default=10)
    args = parser.parse_args()
    run_and_report(
        "bench-start-",
        args,
        lambda tmp: measure(
            tmp, args.rooms, args.restarts, args.churn_batches, args.churn_commands
        ),
        report,
    )


if __name__ == "__main__":
    main()
