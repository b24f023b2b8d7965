"""Shared pieces of the end-to-end benchmarks: machine facts, percentiles, tables, JSON,
CPU and memory of a process, and the echo peers that stand for the homeserver's floor.

The floor is what two plain E2EE clients achieve on the same Synapse: one sends, the
other answers every message at once. Whatever the bot adds on top of that is its own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.harness.synapse import SynapseServer

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """Date, cores, Python and load: what docs/BENCHMARKS.md records beside each figure."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def pcts(values: list[float]) -> dict[str, float]:
    """p50/p90/p99 (inclusive quantiles) plus mean and count, all rounded to 0.1."""
    if len(values) < 2:
        return {"n": len(values), "p50": values[0] if values else 0.0}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p90": round(q[89], 1),
        "p99": round(q[98], 1),
        "mean": round(statistics.fmean(values), 1),
    }


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table (also valid Markdown), so results paste into BENCHMARKS.md."""
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"{title}", "", line(cells[0]), sep, *(line(r) for r in cells[1:])])


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def base_args(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, stores)")
    return parser


def cpu_ms(pid: int) -> float:
    """utime + stime of a process so far, in ms (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def start_synapse(workdir: Path, *, default_ratelimits: bool = False) -> SynapseServer:
    server = SynapseServer()
    server.start(workdir, default_ratelimits=default_ratelimits)
    return server


def new_user(synapse: SynapseServer, prefix: str) -> dict[str, str]:
    return synapse.register(f"{prefix}-{uuid.uuid4().hex[:8]}", "bench-pass")


def network_bot(
    synapse: SynapseServer, workdir: Path, admin: dict[str, str], inviter: dict[str, str]
) -> Any:
    """The bot of the scale benches: `admin` commands it, `inviter` builds the network's
    rooms, and no limit meant for people stops either (not started)."""
    from tests.harness.bot import BotProcess

    return BotProcess(
        synapse,
        workdir,
        allowed_users=[admin["user_id"], inviter["user_id"]],
        admins=[admin["user_id"]],
        log_level="INFO",
        settings={
            "rate_limit_burst": 100_000,
            "rate_limit_per_minute": 100_000,
            "max_rooms_per_inviter": 10_000,
        },
    )


@dataclass
class EchoPeers:
    """A subprocess (like the bot) holding E2EE clients that answer every message at once.

    Each answer is an m.notice replying to the message, sent in order per client, as the
    bot's outbox does. `bench/echo_peer.py` is the child; it prints READY when all synced.
    """

    synapse: SynapseServer
    users: list[dict[str, str]]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec = self.workdir / "peers.json"
        spec.write_text(json.dumps({"port": self.synapse.port, "users": self.users}))
        log = (self.workdir / "echo.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.echo_peer", str(spec), str(self.workdir)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"echo peers exited: see {self.workdir / 'echo.log'}")
            if line.strip() == b"READY":
                return
        raise TimeoutError("echo peers not ready")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def replied_to(event: Any) -> str | None:
    relates = (event.source.get("content") or {}).get("m.relates_to") or {}
    return (relates.get("m.in_reply_to") or {}).get("event_id")


async def round_trip(client: Any, room_id: str, body: str, timeout: float = 60) -> float:
    """Send a message, wait for the answer that replies to it; milliseconds."""
    started = time.perf_counter()
    event_id = await client.send_text(room_id, body)
    await client.wait_for_message(room_id, lambda e: replied_to(e) == event_id, timeout=timeout)
    return (time.perf_counter() - started) * 1000


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def run_and_report(
    prefix: str,
    args: argparse.Namespace,
    measure: Callable[[Path], Awaitable[dict[str, Any]]],
    report: Callable[[dict[str, Any]], str],
) -> None:
    """Measure in a scratch dir (kept with --keep), print the table, write --json."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        facts = run(measure(tmp))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    print(report(facts))
    write_json(args.json, facts)
