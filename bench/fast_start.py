"""Start -> healthy at many rooms (issue 25), this checkout against another, on one network.

    PYTHONPATH=. python bench/fast_start.py [--rooms 1000] [--restarts 5]
        [--before DIR] [--json FILE]

One local Synapse. The bot answers an admin in an encrypted DM; then the server admin joins
it to --rooms encrypted rooms while it is stopped (bench/scale.py's add_rooms), and one
start catches up with them (their whole state in one sync). Then --restarts rounds: in
each, for each code (this checkout, and with --before the code in DIR, e.g. made with
`git archive main | tar -x -C DIR`), the bot is stopped, the admin sends `!ping` while it
is down, and the bot is started again on the same data dir and store: seconds from
spawning the process to its first healthy /healthz (and the part of it after the bot's
imports, from its log), and to the answer to that `!ping`, which must come exactly once.
The codes alternate within each round, so the machine's load, which drifts on a shared
machine, favours neither. Medians, and their ratio.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    base_args,
    cpu_ms,
    machine,
    network_bot,
    new_user,
    replied_to,
    round_trip,
    run_and_report,
    start_synapse,
)
from bench.scale import add_rooms
from bench.startup import _sync_ok
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient

RESUMED = "resuming with"  # bot/sync.py logs it when the rooms come from the store


def _spawn(bot: BotProcess, root: Path | None) -> subprocess.Popen[bytes]:
    """The bot's process, from this checkout or from the code in `root`."""
    if root is None:
        return bot.spawn()
    log = bot.log_path.open("ab")
    log.write(f"\n=== start {bot.starts} ({root}) ===\n".encode())
    log.flush()
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        env={**bot.env, "PYTHONPATH": str(root)},
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def until_healthy(bot: BotProcess, root: Path | None, timeout: float = 600) -> float:
    """Seconds from spawning to healthy; the process's CPU by then is in `bot.start_cpu_ms`."""
    started = time.perf_counter()
    bot.starts += 1
    bot.proc = _spawn(bot, root)
    while not _sync_ok(bot):
        if bot.proc.poll() is not None:
            raise RuntimeError(f"bot exited:\n{bot.log_tail()}")
        if time.perf_counter() - started > timeout:
            raise TimeoutError(bot.log_tail())
        time.sleep(0.02)
    took = time.perf_counter() - started
    bot.start_cpu_ms = cpu_ms(bot.proc.pid)  # type: ignore[attr-defined]
    return took


async def restart(alice: TestClient, room: str, bot: BotProcess, root: Path | None) -> dict:
    """Stop, a `!ping` while down, start: seconds to healthy and to its answer."""
    await bot.astop()
    event_id = await alice.send_text(room, "!ping")
    mark = bot.log_path.stat().st_size
    started = time.perf_counter()
    healthy = await asyncio.to_thread(until_healthy, bot, root)
    await alice.wait_for_message(room, lambda e: replied_to(e) == event_id, timeout=600)
    answered = time.perf_counter() - started
    await asyncio.sleep(3)  # a second answer would have come by now
    answers = sum(1 for e in alice.messages(room) if replied_to(e) == event_id)
    with bot.log_path.open("rb") as log:
        log.seek(mark)
        text = log.read().decode(errors="replace")
    # The bot's own clock starts once its modules are imported and its settings read.
    in_bot = re.search(r"first sync done (\d+) ms after start-up began", text)
    return {
        "healthy_s": round(healthy, 2),
        # The bot's own CPU from spawn to healthy: what the load does not stretch.
        "cpu_s": round(bot.start_cpu_ms / 1000, 2),  # type: ignore[attr-defined]
        "answered_s": round(answered, 2),
        "answers": answers,
        "resumed_from_store": RESUMED in text,
        "in_bot_s": round(int(in_bot.group(1)) / 1000, 2) if in_bot else None,
    }


async def measure(tmp: Path, args: Any) -> dict[str, Any]:
    codes: dict[str, Path | None] = {"after": None}
    if args.before:
        codes = {"before": Path(args.before).resolve(), **codes}
    facts: dict[str, Any] = {"machine_start": machine(), "args": vars(args)}
    synapse = start_synapse(tmp / "synapse")
    bot = alice = None
    try:
        a_user = new_user(synapse, "alice")
        inviter = new_user(synapse, "inviter")
        bot = network_bot(synapse, tmp / "bot", a_user, inviter)
        await asyncio.to_thread(until_healthy, bot, None)
        alice = await TestClient.create(synapse, a_user, tmp / "alice")
        room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
        await round_trip(alice, room, "!ping")
        await bot.astop()
        built = time.perf_counter()
        await add_rooms(synapse, inviter, bot.user_id, args.rooms, admin_join=True)
        facts["rooms_built_s"] = round(time.perf_counter() - built, 1)
        facts["catch_up_s"] = round(await asyncio.to_thread(until_healthy, bot, None), 2)
        await round_trip(alice, room, "!ping", timeout=600)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
        for _ in range(args.restarts):
            for name, root in codes.items():
                runs[name].append(await restart(alice, room, bot, root))
        facts["runs"] = runs
        facts["medians"] = {
            name: {
                key: round(statistics.median(r[key] for r in rs), 2)
                for key in ("healthy_s", "answered_s", "cpu_s")
            }
            for name, rs in runs.items()
        }
        facts["machine_end"] = machine()
        return facts
    finally:
        if alice is not None:
            await alice.close()
        if bot is not None:
            bot.close()
        synapse.close()


def report(f: dict[str, Any]) -> str:
    m0, m1 = f["machine_start"], f["machine_end"]
    lines = [
        f"start -> healthy at {f['args']['rooms']} rooms, {m0['date']}, {m0['cores']} cores, "
        f"load {m0['load_avg']} -> {m1['load_avg']}; rooms built in {f['rooms_built_s']} s, "
        f"first start catching up with them {f['catch_up_s']} s"
    ]
    for name, runs in f["runs"].items():
        med = f["medians"][name]
        lines.append(
            f"{name}: healthy {[r['healthy_s'] for r in runs]} (median {med['healthy_s']} s); "
            f"!ping sent while down answered {[r['answered_s'] for r in runs]} "
            f"(median {med['answered_s']} s); answers {[r['answers'] for r in runs]}; "
            f"resumed from the store {[r['resumed_from_store'] for r in runs]}; "
            f"of which in the bot after its imports {[r.get('in_bot_s') for r in runs]}; "
            f"the bot's CPU to healthy {[r['cpu_s'] for r in runs]} (median {med['cpu_s']} s)"
        )
    if "before" in f["medians"]:
        b, a = f["medians"]["before"], f["medians"]["after"]
        lines.append(
            f"ratio before/after: healthy {b['healthy_s'] / a['healthy_s']:.1f}x, "
            f"answer {b['answered_s'] / a['answered_s']:.1f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--before", help="a checkout of the code to compare with")
    args = parser.parse_args()
    run_and_report("bench-fast-start-", args, lambda tmp: measure(tmp, args), report)


if __name__ == "__main__":
    main()
