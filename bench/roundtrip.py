"""Round trip of one message: the homeserver's own floor against the bot's `!ping`.

    PYTHONPATH=. python bench/roundtrip.py [--n 200] [--block 20] [--json FILE]

One local Synapse (temp dir, generous rate limits). Client A (an E2EE, cross-signed nio
client) sits in two encrypted rooms: one with an echo peer B (a plain E2EE client in a
subprocess that answers every message at once, bench/echo_peer.py), one with the real
bot (subprocess, production log level INFO). A measures send -> answer received.
Floor and bot run in alternating blocks of --block messages in the same run, so load
changes on the machine hit both alike. CPU per message of the bot, the echo peer and
Synapse comes from /proc/<pid>/stat over the same blocks. Target: p50 ratio <= 1.10.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    EchoPeers,
    base_args,
    cpu_ms,
    machine,
    new_user,
    pcts,
    round_trip,
    rss_mb,
    run,
    start_synapse,
    table,
    write_json,
)
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient

WARMUP = 10


async def measure(tmp: Path, n: int, block: int, log_level: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"machine_start": machine()}
    synapse = start_synapse(tmp / "synapse")
    echo = bot = alice = None
    try:
        a_user, b_user = new_user(synapse, "alice"), new_user(synapse, "echo")
        bot = BotProcess(
            synapse,
            tmp / "bot",
            allowed_users=[a_user["user_id"]],
            settings={"rate_limit_burst": 10 * n, "rate_limit_per_minute": 100 * n},
            log_level=log_level,
        )
        bot.start()
        echo = EchoPeers(synapse, [b_user], tmp / "echo")
        echo.start()
        alice = await TestClient.create(synapse, a_user, tmp / "alice")
        floor_room = await alice.create_encrypted_dm(b_user["user_id"], wait_joined=30)
        bot_room = await alice.create_encrypted_dm(bot.user_id, wait_joined=30)
        for _ in range(WARMUP):  # Olm sessions, key shares, caches: not what we measure
            await round_trip(alice, floor_room, "hello")
            await round_trip(alice, bot_room, "!ping")
        assert bot.proc is not None and synapse.proc is not None
        pids = {"bot": bot.proc.pid, "echo": echo.pid, "synapse": synapse.proc.pid}
        series: dict[str, list[float]] = {"floor": [], "bot": []}
        cpu: dict[str, dict[str, float]] = {
            side: {p: 0.0 for p in pids} for side in ("floor", "bot")
        }
        rss_before = rss_mb(pids["bot"])
        done = 0
        while done < n:
            size = min(block, n - done)
            for side, room, body in (("floor", floor_room, "hello"), ("bot", bot_room, "!ping")):
                before = {p: cpu_ms(pid) for p, pid in pids.items()}
                for _ in range(size):
                    series[side].append(await round_trip(alice, room, body))
                for p, pid in pids.items():
                    cpu[side][p] += cpu_ms(pid) - before[p]
            done += size
        facts.update(
            n=n,
            block=block,
            bot_log_level=log_level,
            floor=pcts(series["floor"]),
            bot=pcts(series["bot"]),
            cpu_ms_per_message={
                side: {p: round(v / n, 2) for p, v in cpu[side].items()} for side in cpu
            },
            bot_rss_mb={"before": rss_before, "after": rss_mb(pids["bot"])},
            raw_ms=series,
        )
        facts["ratio"] = {
            k: round(facts["bot"][k] / facts["floor"][k], 2) for k in ("p50", "p90", "p99")
        }
        facts["machine_end"] = machine()
        return facts
    finally:
        if alice is not None:
            await alice.close()
        if echo is not None:
            echo.stop()
        if bot is not None:
            bot.close()
        synapse.close()


def report(f: dict[str, Any]) -> str:
    fl, bo, r = f["floor"], f["bot"], f["ratio"]
    c = f["cpu_ms_per_message"]
    rows = [
        ["floor (echo peer)", fl["p50"], fl["p90"], fl["p99"], c["floor"]["echo"], c["floor"]["synapse"]],
        ["bot !ping", bo["p50"], bo["p90"], bo["p99"], c["bot"]["bot"], c["bot"]["synapse"]],
        ["ratio bot/floor", r["p50"], r["p90"], r["p99"], "", ""],
    ]  # fmt: skip
    m0, m1 = f["machine_start"], f["machine_end"]
    return table(
        f"Round trip, n={f['n']} each (blocks of {f['block']}), {m0['date']}, "
        f"{m0['cores']} cores, Python {m0['python']}, load {m0['load_avg']} -> {m1['load_avg']}; "
        f"bot RSS {f['bot_rss_mb']['before']} -> {f['bot_rss_mb']['after']} MiB",
        ["path", "p50 ms", "p90 ms", "p99 ms", "answerer CPU ms/msg", "Synapse CPU ms/msg"],
        rows,
    )


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--n", type=int, default=200, help="messages per path (default 200)")
    parser.add_argument("--block", type=int, default=20, help="messages per alternating block")
    parser.add_argument("--log-level", default="INFO", help="the bot's log level (default INFO)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-rtt-"))
    try:
        facts = run(measure(tmp, args.n, args.block, args.log_level))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    print(report(facts))
    write_json(args.json, facts)


if __name__ == "__main__":
    main()
