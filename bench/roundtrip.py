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

import signal
import subprocess
import sys
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
    run_and_report,
    start_synapse,
    table,
)
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.postgres import PostgresServer

WARMUP = 10


class BotWithoutTrust(BotProcess):
    """The same bot with the device-trust policy off (bench/bot_without_trust.py)."""

    def spawn(self) -> subprocess.Popen[bytes]:
        log = self.log_path.open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "bench.bot_without_trust"],
            env=self.env,
            cwd=self.env["PYTHONPATH"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class BaselineBot(BotProcess):
    """The bot of another checkout (e.g. main before a change), with that checkout's venv.

    Measured in the same run as this checkout's bot, in alternating blocks, so a before/
    after comparison sees the same machine load (the machine is shared and noisy).
    """

    def __init__(self, *args: Any, repo: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repo = repo
        self.env = {**self.env, "PYTHONPATH": str(repo)}
        venv_python = repo / ".venv" / "bin" / "python"
        self.python = str(venv_python) if venv_python.exists() else sys.executable

    def spawn(self) -> subprocess.Popen[bytes]:
        log = self.log_path.open("ab")
        return subprocess.Popen(
            [self.python, "-m", "bot.cli", "run"],
            env=self.env,
            cwd=self.repo,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def profile(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy attached to the bot for the measured blocks (speedscope or svg by suffix)."""
    fmt = "speedscope" if out.endswith(".json") else "flamegraph"
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "-p", str(pid), "-o", out, "-f", fmt, "-r", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Extra bot settings: {"database_url": ...} with --postgresql (a throwaway local server).
DB: dict[str, Any] = {}


def use_postgresql() -> PostgresServer:
    """Start a local PostgreSQL and point the measured bot at a fresh database on it."""
    server = PostgresServer().start()
    DB["database_url"] = server.new_database("bench")
    return server


async def measure(
    tmp: Path,
    n: int,
    block: int,
    log_level: str,
    profile_to: str | None = None,
    no_trust: bool = False,
    store_command: str | None = None,
    baseline: Path | None = None,
) -> dict[str, Any]:
    facts: dict[str, Any] = {"store": "postgresql" if DB else "sqlite", "machine_start": machine()}
    synapse = start_synapse(tmp / "synapse")
    echo = bot = bare = base = alice = None
    try:
        a_user, b_user = new_user(synapse, "alice"), new_user(synapse, "echo")
        bot = BotProcess(
            synapse,
            tmp / "bot",
            allowed_users=[a_user["user_id"]],
            settings={
                "rate_limit_burst": 10 * n,
                "rate_limit_per_minute": 100 * n,
                **DB,
            },
            log_level=log_level,
        )
        bot.start()
        if no_trust:
            bare = BotWithoutTrust(
                synapse,
                tmp / "bare",
                allowed_users=[a_user["user_id"]],
                settings={
                    "rate_limit_burst": 10 * n,
                    "rate_limit_per_minute": 100 * n,
                    **DB,
                },
                log_level=log_level,
            )
            bare.start()
        if baseline is not None:
            base = BaselineBot(
                synapse,
                tmp / "baseline",
                repo=baseline,
                allowed_users=[a_user["user_id"]],
                settings={"rate_limit_burst": 10 * n, "rate_limit_per_minute": 100 * n},
                log_level=log_level,
            )
            base.start()
        echo = EchoPeers(synapse, [b_user], tmp / "echo")
        echo.start()
        alice = await TestClient.create(synapse, a_user, tmp / "alice")
        floor_room = await alice.create_encrypted_dm(b_user["user_id"], wait_joined=30)
        bot_room = await alice.create_encrypted_dm(bot.user_id, wait_joined=30)
        paths = [("floor", floor_room, "hello"), ("bot", bot_room, "!ping")]
        if store_command:  # a command that reads the store, in the same DM with the bot
            paths.append(("bot_store", bot_room, store_command))
        assert bot.proc is not None and synapse.proc is not None
        pids = {"bot": bot.proc.pid, "echo": echo.pid, "synapse": synapse.proc.pid}
        if bare is not None:
            assert bare.proc is not None
            bare_room = await alice.create_encrypted_dm(bare.user_id, wait_joined=30)
            paths.append(("bot_no_trust", bare_room, "!ping"))
            pids["bot_no_trust"] = bare.proc.pid
        if base is not None:
            assert base.proc is not None
            base_room = await alice.create_encrypted_dm(base.user_id, wait_joined=30)
            paths.append(("baseline", base_room, "!ping"))
            pids["baseline"] = base.proc.pid
            if store_command:
                paths.append(("baseline_store", base_room, store_command))
        for _ in range(WARMUP):  # Olm sessions, key shares, caches: not what we measure
            for _, room, body in paths:
                await round_trip(alice, room, body)
        series: dict[str, list[float]] = {side: [] for side, _, _ in paths}
        cpu: dict[str, dict[str, float]] = {side: {p: 0.0 for p in pids} for side in series}
        rss_before = rss_mb(pids["bot"])
        spy = profile(pids["bot"], profile_to) if profile_to else None
        done = 0
        while done < n:
            size = min(block, n - done)
            for side, room, body in paths:
                before = {p: cpu_ms(pid) for p, pid in pids.items()}
                for _ in range(size):
                    series[side].append(await round_trip(alice, room, body))
                for p, pid in pids.items():
                    cpu[side][p] += cpu_ms(pid) - before[p]
            done += size
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes the file on SIGINT
            spy.wait(60)
        facts.update(
            n=n,
            block=block,
            bot_log_level=log_level,
            **{side: pcts(values) for side, values in series.items()},
            cpu_ms_per_message={
                side: {p: round(v / n, 2) for p, v in cpu[side].items()} for side in cpu
            },
            bot_rss_mb={"before": rss_before, "after": rss_mb(pids["bot"])},
            raw_ms=series,
        )
        facts["store_command"] = store_command
        facts["baseline_repo"] = str(baseline) if baseline else None
        facts["ratio"] = {
            k: round(facts["bot"][k] / facts["floor"][k], 2) for k in ("p50", "p90", "p99")
        }
        if base is not None:
            facts["ratio_baseline"] = {
                k: round(facts["baseline"][k] / facts["floor"][k], 2) for k in ("p50", "p90", "p99")
            }
        if bare is not None:
            facts["ratio_no_trust"] = {
                k: round(facts["bot_no_trust"][k] / facts["floor"][k], 2)
                for k in ("p50", "p90", "p99")
            }
        facts["machine_end"] = machine()
        return facts
    finally:
        if alice is not None:
            await alice.close()
        if echo is not None:
            echo.stop()
        for b in (bot, bare, base):
            if b is not None:
                b.close()
        synapse.close()


LABELS = {
    "floor": ("floor (echo peer)", "echo"),
    "bot": ("bot !ping", "bot"),
    "bot_no_trust": ("bot !ping, trust policy off", "bot_no_trust"),
    "bot_store": ("bot {store_command} (reads the store)", "bot"),
    "baseline": ("baseline bot !ping ({baseline})", "baseline"),
    "baseline_store": ("baseline bot {store_command}", "baseline"),
}


def report(f: dict[str, Any]) -> str:
    rows: list[list[Any]] = []
    for side, (label, answerer) in LABELS.items():
        if side not in f:
            continue
        p, c = f[side], f["cpu_ms_per_message"][side]
        label = label.format(store_command=f.get("store_command"), baseline=f.get("baseline_repo"))
        rows.append([label, p["p50"], p["p90"], p["p99"], c[answerer], c["synapse"]])
        ratio = {
            "bot": "ratio",
            "bot_no_trust": "ratio_no_trust",
            "baseline": "ratio_baseline",
        }.get(side)
        if ratio:
            r = f[ratio]
            rows.append([f"  ratio {label}/floor", r["p50"], r["p90"], r["p99"], "", ""])
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
    parser.add_argument("--profile", metavar="FILE", help="py-spy the bot: .svg or .json")
    parser.add_argument(
        "--no-trust-too",
        action="store_true",
        help="also measure the bot with its device-trust policy off (bench/bot_without_trust.py)",
    )
    parser.add_argument("--log-level", default="INFO", help="the bot's log level (default INFO)")
    parser.add_argument(
        "--store-command", metavar="CMD", help="also measure this command, e.g. '!agenda'"
    )
    parser.add_argument(
        "--baseline",
        metavar="REPO",
        type=Path,
        help="also measure the bot of another checkout (its .venv if it has one), same run",
    )
    parser.add_argument(
        "--postgresql", action="store_true", help="the bot on PostgreSQL (default: SQLite)"
    )
    args = parser.parse_args()
    server = use_postgresql() if args.postgresql else None
    try:
        _run(args)
    finally:
        if server is not None:
            server.stop()


def _run(args: Any) -> None:
    run_and_report(
        "bench-rtt-",
        args,
        lambda tmp: measure(
            tmp,
            args.n,
            args.block,
            args.log_level,
            args.profile,
            args.no_trust_too,
            args.store_command,
            args.baseline,
        ),
        report,
    )


if __name__ == "__main__":
    main()
