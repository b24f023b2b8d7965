"""Cost as the network grows (issue 25): the real bot on a real Synapse, at growing sizes.

    PYTHONPATH=. python bench/scale.py [--sizes 10,30] [--items-per-room 10]
        [--replies 500] [--commands 5] [--after 100] [--json FILE]

At each size N (rooms), cumulative: rooms are added until the bot is in N of them (a
plain inviter creates encrypted rooms through the client API and invites the bot, which
joins as it would any invitation; nobody talks in them); then the bot is stopped and what
a network accumulates is written into its store (bench/accumulated.py: N x
--items-per-room schedule items, action items and liaison requests, and one request with
--replies thread replies of 32,000 characters), and it is started again: the time from
spawning to its first healthy /healthz and its RSS then. In the admin's encrypted DM,
each of `!ping`, `!agenda`, `!requests`, `!actions list`, `!show` of the longest
request and `!ics agenda 366` (a file) is sent --commands times: the round trip (send ->
answer received) and the bot's CPU for it (/proc/<pid>/stat, so sync and sending are
included): median round trip, mean CPU (10 ms ticks). Then --after more `!ping`s, and the
RSS again. The slopes of RSS per room and per item come from the
sizes measured. The issue's full figure is --sizes 10,100,1000 (about an hour here).
"""

from __future__ import annotations

import asyncio
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bench.accumulated import Load, grow
from bench.common import (
    base_args,
    cpu_ms,
    machine,
    network_bot,
    new_user,
    round_trip,
    rss_mb,
    run_and_report,
    start_synapse,
    table,
)
from bench.startup import timed_start
from commands.context import utc_iso
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient

COMMANDS = (
    "!ping",
    "!agenda 30",
    "!requests",
    "!actions list",
    "!show LR-{long}",
    "!ics agenda 366",
)
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm":
              "m.megolm.v1.aes-sha2"}}  # fmt: skip


def start(bot: BotProcess, timeout: float = 120) -> tuple[float, float, float]:
    """timed_start, once more if the bot exited before it was healthy (as its supervisor
    would restart it): on this shared machine a connect to Synapse has failed with
    EADDRINUSE, which ended a 1,000-room run after its rooms were made."""
    try:
        return timed_start(bot, timeout)
    except RuntimeError as exc:
        print(f"the bot exited before it was healthy; starting it again ({exc!s:.200})")
        return timed_start(bot, timeout)


def _joined(synapse: Any, user_id: str) -> set[str]:
    status, body = synapse.request(
        "GET", f"/_synapse/admin/v1/users/{user_id}/joined_rooms", token=synapse.admin_token
    )
    return set(body.get("joined_rooms", [])) if status == 200 else set()


async def add_rooms(
    synapse: Any, inviter: dict[str, str], bot_id: str, count: int, *, admin_join: bool
) -> None:
    """`count` more encrypted rooms with the bot in them: invited (the bot joins as it
    would any invitation, one at a time), or, with `admin_join`, public rooms the server
    admin joins the bot to while it is stopped (Synapse's admin API: far faster, and the
    bot then finds them in its first sync, as after a restart)."""
    created: list[str] = []
    at_once = asyncio.Semaphore(4)  # Synapse creates rooms one at a time per user anyway

    async def create(number: int) -> None:
        spec: dict[str, Any] = {"name": f"post {number}", "initial_state": [ENCRYPTION]}
        spec.update({"preset": "public_chat"} if admin_join else {"invite": [bot_id]})
        async with at_once:
            status, body = await asyncio.to_thread(
                synapse.request,
                "POST",
                "/_matrix/client/v3/createRoom",
                spec,
                token=inviter["access_token"],
            )
            if status == 200 and admin_join:
                status, body = await asyncio.to_thread(
                    synapse.request,
                    "POST",
                    f"/_synapse/admin/v1/join/{body['room_id']}",
                    {"user_id": bot_id},
                    token=synapse.admin_token,
                )
        if status != 200:
            raise RuntimeError(f"createRoom/join: {status} {body}")
        created.append(body["room_id"])

    await asyncio.gather(*(create(number) for number in range(count)))
    deadline = time.monotonic() + 60 + count
    while not set(created) <= await asyncio.to_thread(_joined, synapse, bot_id):
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not join every room")
        await asyncio.sleep(0.5)


async def add_items(db_path: Path, load: Load, now_iso: str) -> int:
    """Write `load` into the stopped bot's store; the longest request's number."""
    async with aiosqlite.connect(db_path) as db:
        async with db.execute("SELECT COUNT(*) FROM summits") as cur:
            row = await cur.fetchone()
        if row is None or row[0] == 0:
            await db.execute(
                "INSERT INTO summits (name, room_id, timezone, created_by, created_at) "
                "VALUES ('Summit', '!summit:bench', 'Europe/Paris', ?, ?)",
                (load.creator, now_iso),
            )
        long_request = await grow(db, datetime.fromisoformat(now_iso), load)
        await db.commit()
    return long_request


def py_spy(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """A sampling profile of the bot while one command is sent (--py-spy DIR): py-spy
    attached to the running process, every thread, idle samples left out; stopped by
    SIGINT, it writes what it collected (a collapsed-stack file, for flame graphs)."""
    if out is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "--rate", "500", "--threads"]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


async def measure_commands(
    alice: TestClient,
    room: str,
    pid: int,
    long_request: int,
    repeat: int,
    profiles: Path | None = None,
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for template in COMMANDS:
        text = template.format(long=long_request)
        trips, cpus = [], []
        slug = re.sub(r"[^a-z0-9]+", "-", template.split("{")[0]).strip("-")
        spy = py_spy(pid, profiles / f"{slug}.txt" if profiles else None)
        await asyncio.sleep(1.0 if spy else 0)  # attached before the first command
        for _ in range(repeat):
            await asyncio.sleep(0.3)  # let the previous answer's sending settle
            cpu0 = cpu_ms(pid)
            trips.append(await round_trip(alice, room, text, timeout=120))
            await asyncio.sleep(0.3)
            cpus.append(cpu_ms(pid) - cpu0)
        stop_spy(spy)
        name = template.split(" ")[0] if "show" in template else template
        out[name] = {
            "round_trip_ms": round(statistics.median(trips), 1),
            # The mean: /proc counts CPU in 10 ms ticks, a median of few would be 0 or 10.
            "cpu_ms": round(statistics.fmean(cpus), 1),
        }
    return out


async def measure(tmp: Path, args: Any) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    facts: dict[str, Any] = {"machine_start": machine(), "sizes": [], "args": vars(args)}
    synapse = start_synapse(tmp / "synapse")
    bot = alice = None
    try:
        a_user = new_user(synapse, "alice")
        inviter = new_user(synapse, "inviter")
        bot = network_bot(synapse, tmp / "bot", a_user, inviter)
        await asyncio.to_thread(start, bot)
        alice = await TestClient.create(synapse, a_user, tmp / "alice")
        room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
        await round_trip(alice, room, "!ping")
        in_rooms = 1
        items = 0
        long_request = 0
        people = (a_user["user_id"], inviter["user_id"])
        for size in sizes:
            if args.admin_join:
                await bot.astop()
            more = max(0, size - in_rooms)
            await add_rooms(synapse, inviter, bot.user_id, more, admin_join=args.admin_join)
            in_rooms = max(in_rooms, size)
            if not args.admin_join:
                await bot.astop()
            want = size * args.items_per_room
            load = Load(want - items, want - items, want - items, args.replies, people,
                        a_user["user_id"])  # fmt: skip
            long_request = await add_items(
                bot.data_dir / "attache.db", load, utc_iso(datetime.now(UTC).replace(microsecond=0))
            )
            items = want
            # Catching up with rooms joined while it was stopped is one sync with their whole
            # state: two such runs side by side at load 20 took over 120 s for 1,000 rooms.
            took, rss, rss_later = await asyncio.to_thread(
                start, bot, 900 if args.admin_join else 120
            )
            catch_up = None
            if args.admin_join:
                # That start caught up with rooms joined while it was stopped (their whole
                # state in one sync); a restart, as in production, is the next one.
                catch_up = round(took, 2)
                await round_trip(alice, room, "!ping", timeout=120)
                await bot.astop()
                took, rss, rss_later = await asyncio.to_thread(start, bot)
            assert bot.proc is not None
            pid = bot.proc.pid
            await round_trip(alice, room, "!ping", timeout=120)
            profiles = None
            if args.py_spy:
                profiles = Path(args.py_spy) / f"{size}-rooms"
                profiles.mkdir(parents=True, exist_ok=True)
            commands = await measure_commands(
                alice, room, pid, long_request, args.commands, profiles
            )
            lag_before = loop_holds(await asyncio.to_thread(bot.metrics))
            for _ in range(args.after):
                await round_trip(alice, room, "!ping", timeout=120)
            lag_after = loop_holds(await asyncio.to_thread(bot.metrics))
            facts["sizes"].append(
                {
                    "rooms": size,
                    "items_each_kind": items,
                    "start_to_healthy_s": round(took, 2),
                    "first_start_after_admin_joins_s": catch_up,
                    "rss_start_mb": rss,
                    "rss_start_5s_mb": rss_later,
                    "rss_after_mb": rss_mb(pid),
                    "commands": commands,
                    # Event-loop holds (attache_event_loop_lag_seconds) since the start:
                    # through the commands, and through the --after pings.
                    "loop_holds_commands": lag_before,
                    "loop_holds_total": lag_after,
                    "store_mb": round((bot.data_dir / "attache.db").stat().st_size / 2**20, 1),
                }
            )
        facts["machine_end"] = machine()
        return facts
    finally:
        if alice is not None:
            await alice.close()
        if bot is not None:
            bot.close()
        synapse.close()


def loop_holds(metrics: str) -> dict[str, float]:
    """Samples of the loop-lag histogram: all, over 20 ms, over 50 ms, and the largest
    bucket reached (the bot's /metrics, bot/looplag.py)."""
    buckets: dict[float, float] = {}
    for line in metrics.splitlines():
        if line.startswith("attache_event_loop_lag_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
    total = buckets.get(float("inf"), 0.0)
    reached = [b for b, n in sorted(buckets.items()) if n < total]
    return {
        "samples": total,
        "over_20ms": total - buckets.get(0.02, total),
        "over_50ms": total - buckets.get(0.05, total),
        "worst_bucket_above_s": max(reached) if reached else 0.0,
    }


def report(f: dict[str, Any]) -> str:
    sizes = f["sizes"]
    rows: list[list[Any]] = []
    for s in sizes:
        rows.append(
            [
                f"{s['rooms']} rooms, {s['items_each_kind']} of each",
                f"{s['start_to_healthy_s']}"
                + (
                    f" (catching up: {s['first_start_after_admin_joins_s']})"
                    if s.get("first_start_after_admin_joins_s") is not None
                    else ""
                ),
                s["rss_start_5s_mb"],
                s["rss_after_mb"],
                *(f"{c['cpu_ms']} / {c['round_trip_ms']}" for c in s["commands"].values()),
            ]
        )
    for s in sizes:
        lag = s["loop_holds_total"]
        rows[sizes.index(s)].append(
            f"{int(lag['over_20ms'])} of {int(lag['samples'])} "
            f"(worst > {lag['worst_bucket_above_s'] * 1000:g} ms)"
        )
    heads = ["size", "start -> healthy s", "RSS MiB at start", "RSS after commands"]
    heads += [f"{name} CPU / RT ms" for name in sizes[0]["commands"]] if sizes else []
    heads += ["loop holds > 20 ms"]
    m0, m1 = f["machine_start"], f["machine_end"]
    out = table(
        f"Scale, {m0['date']}, {m0['cores']} cores, Python {m0['python']}, "
        f"load {m0['load_avg']} -> {m1['load_avg']}",
        heads,
        rows,
    )
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        per_room = (b["rss_start_5s_mb"] - a["rss_start_5s_mb"]) * 1024 / (b["rooms"] - a["rooms"])
        per_item = (
            (b["rss_start_5s_mb"] - a["rss_start_5s_mb"])
            * 1024
            / max(1, 3 * (b["items_each_kind"] - a["items_each_kind"]))
        )
        out += (
            f"\nRSS slope from {a['rooms']} to {b['rooms']} rooms: {per_room:.1f} KiB per room "
            f"(or {per_item:.2f} KiB per item, items grow with rooms: the two are not separated)"
        )
    return out


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--sizes", default="10,30", help="rooms at each step, e.g. 10,100,1000")
    parser.add_argument("--items-per-room", type=int, default=10)
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--commands", type=int, default=10, help="times each command is sent")
    parser.add_argument("--after", type=int, default=100, help="!pings before RSS again")
    parser.add_argument(
        "--admin-join",
        action="store_true",
        help="join the bot to new rooms through the admin API while it is stopped",
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="profile the bot with py-spy while each command is sent (DIR/<size>-rooms/)",
    )
    args = parser.parse_args()
    run_and_report("bench-scale-", args, lambda tmp: measure(tmp, args), report)


if __name__ == "__main__":
    main()
