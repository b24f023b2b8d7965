"""RSS after start of the real bot on SQLite against the real Synapse, side by side with
maubot logged into the same homeserver (issue 25).

    PYTHONPATH=. python bench/rss_after_start.py --maubot-python V/bin/python \
        [--before SRC] [--runs 3] [--json FILE]

One local Synapse. In each run, in turn:
- this bot (`attache-bot run`, SQLite, log level INFO) as a new device (login, key upload,
  cross-signing set-up) and again on the same data dir (a restart, the usual case); VmRSS
  when /healthz first reports a completed sync and 5 s later; its modules compiled to
  bytecode first, as in the image;
- with --before SRC, the same from another checkout of the sources (e.g. `git archive main`
  unpacked), run by this virtualenv's Python, for a before/after in one run;
- maubot (installed in its own virtualenv, `pip install maubot[encryption]`), started as its
  README says on SQLite, with one client (a fresh account on the same Synapse, added through
  its management API as its web UI does) and no plugin instance; VmRSS when the client
  reports its first sync ok, and 5 s later.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import base_args, machine, new_user, rss_mb, run_and_report, start_synapse, table
from bench.maubot_memory import maubot_config
from tests.harness.bot import REPO, BotProcess
from tests.harness.synapse import SynapseServer

MAUBOT_ADMIN = ("bench", "bench-password-0123")  # root cannot log in


class SourceBot(BotProcess):
    """The bot from another checkout of the sources (same Python, same libraries)."""

    source: Path | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        if self.source is None:
            return super().spawn()
        self.env["PYTHONPATH"] = str(self.source)
        log = self.log_path.open("ab")
        return subprocess.Popen(
            [self.env.get("PYTHON", "python"), "-m", "bot.cli", "run"],
            env=self.env,
            cwd=self.source,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def compile_sources(python: str, source: Path) -> None:
    """Bytecode for the bot's own modules, as `pip install` writes it in the image: without it
    (PYTHONDONTWRITEBYTECODE, a fresh checkout) every start compiles them, ~1 MiB more."""
    dirs = [str(source / d) for d in ("bot", "commands", "config")]
    subprocess.run([python, "-m", "compileall", "-q", *dirs], check=True, capture_output=True)


def bot_rss(
    synapse: SynapseServer, workdir: Path, python: str, source: Path | None
) -> dict[str, Any]:
    compile_sources(python, source or REPO)
    bot = SourceBot(synapse, workdir, log_level="INFO")
    bot.source = source
    bot.env["PYTHON"] = python
    facts: dict[str, Any] = {}
    try:
        for start in ("first", "restart"):
            bot.start(timeout=180)
            assert bot.proc is not None
            at_start = rss_mb(bot.proc.pid)
            time.sleep(5)
            facts[start] = {"healthy": at_start, "plus_5s": rss_mb(bot.proc.pid)}
            bot.stop()
    finally:
        bot.close()
    return facts


def _api(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/_matrix/maubot/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())


def maubot_rss(python: str, synapse: SynapseServer, where: Path) -> dict[str, Any]:
    where.mkdir(parents=True)
    port, config = maubot_config(python, where, admins={MAUBOT_ADMIN[0]: MAUBOT_ADMIN[1]})
    version = subprocess.run(
        [python, "-c", "import maubot; print(maubot.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    crypto = subprocess.run([python, "-c", "import olm"], capture_output=True).returncode == 0
    log = (where / "maubot.log").open("w")
    proc = subprocess.Popen(
        [python, "-m", "maubot", "-c", str(config)], cwd=where, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while "Startup actions complete" not in (where / "maubot.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((where / "maubot.log").read_text()[-2000:])
            time.sleep(0.05)
        at_rest = rss_mb(proc.pid)
        token = _api(
            port, "POST", "/auth/login", {"username": MAUBOT_ADMIN[0], "password": MAUBOT_ADMIN[1]}
        )
        user = new_user(synapse, "maubot")
        body = {"homeserver": synapse.url, "access_token": user["access_token"],
                "device_id": user["device_id"]}  # fmt: skip
        client = _api(port, "POST", "/client/new", body, token["token"])
        while not _api(port, "GET", f"/client/{client['id']}", token=token["token"])["sync_ok"]:
            if proc.poll() is not None or time.monotonic() > deadline + 120:
                raise RuntimeError((where / "maubot.log").read_text()[-2000:])
            time.sleep(0.05)
        at_start = rss_mb(proc.pid)
        time.sleep(5)
        return {
            "version": version,
            "crypto": crypto,
            "at_rest": at_rest,
            "healthy": at_start,
            "plus_5s": rss_mb(proc.pid),
        }
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--maubot-python", required=True, help="python of maubot's virtualenv")
    parser.add_argument("--before", type=Path, help="another checkout of the bot's sources")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    maubot_python = os.path.abspath(args.maubot_python)

    async def measure(tmp: Path) -> dict[str, Any]:
        synapse = start_synapse(tmp / "synapse")
        facts: dict[str, Any] = {"machine": machine(), "ours": [], "before": [], "maubot": []}
        try:
            for i in range(args.runs):
                facts["maubot"].append(maubot_rss(maubot_python, synapse, tmp / f"mb-{i}"))
                facts["ours"].append(bot_rss(synapse, tmp / f"ours-{i}", python, None))
                if args.before:
                    facts["before"].append(
                        bot_rss(synapse, tmp / f"before-{i}", python, args.before.resolve())
                    )
        finally:
            synapse.stop()
        facts["machine_after"] = machine()
        return facts

    def report(facts: dict[str, Any]) -> str:
        def col(runs: list[dict[str, Any]], *keys: str) -> str:
            values = []
            for run in runs:
                for key in keys:
                    run = run[key]
                values.append(run)
            if not values:
                return ""
            return (
                " / ".join(f"{v:.1f}" for v in values)
                + f" (median {statistics.median(values):.1f})"
            )

        rows = []
        for name, runs in (("this branch", facts["ours"]), ("before", facts["before"])):
            if runs:
                rows.append([f"attache-bot ({name}), new device", col(runs, "first", "healthy"),
                             col(runs, "first", "plus_5s")])  # fmt: skip
                rows.append([f"attache-bot ({name}), restart", col(runs, "restart", "healthy"),
                             col(runs, "restart", "plus_5s")])  # fmt: skip
        mb = facts["maubot"]
        e2ee = "with" if mb and mb[0]["crypto"] else "without"
        rows.append([f"maubot {mb[0]['version']}, one client ({e2ee} E2EE), no plugin",
                     col(mb, "healthy"), col(mb, "plus_5s")])  # fmt: skip
        rows.append(["maubot, server only (no client)", col(mb, "at_rest"), ""])
        m = facts["machine"]
        return table(
            f"RSS after start, MiB, SQLite, real Synapse ({m['date']}, load {m['load_avg']}"
            f" → {facts['machine_after']['load_avg']})",
            ["process", "first sync", "+5 s"],
            rows,
        )

    run_and_report("bench-rss-", args, measure, report)


if __name__ == "__main__":
    main()
