"""Resident memory at rest, side by side with maubot (issue 25): no homeserver involved.

    PYTHONPATH=. python bench/maubot_memory.py --maubot-python /path/to/venv/bin/python

maubot (installed in its own virtualenv: `python -m venv V && V/bin/pip install maubot`)
is started as its README says (`python -m maubot -c config.yaml`) on a generated config
(SQLite, a free port, no bot instance); its VmRSS is read when it logs that start-up is
complete and 5 s later. Beside it, in fresh interpreters: this bot as `attache-bot run`
loads itself on SQLite (`import bot` hides the drivers: bot/peewee_drivers.py; then
bot.app: every module imported, no homeserver), with and without the database drivers
nio's peewee would otherwise load.
The real process after start adds the store, the loop and the first sync (bench/startup.py,
bench/scale.py): a few MiB more.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import base_args, machine, table, write_json

PROBE = (
    "import sys\n{pre}\nimport bot.cli, bot.app\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "print(int(rss), len(sys.modules))\n"
)
KEEP_OUT = "import bot"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def maubot_config(
    python: str, where: Path, admins: dict[str, str] | None = None
) -> tuple[int, Path]:
    """maubot's example config on SQLite in `where`, on a free port: (port, config path)."""
    example = subprocess.run(
        [python, "-c", "import maubot, os; print(os.path.dirname(maubot.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    config = (Path(example) / "example-config.yaml").read_text()
    config = config.replace("sqlite:maubot.db", f"sqlite:{where / 'maubot.db'}")
    port = free_port()
    config = re.sub(r"port: \d+", f"port: {port}", config, count=1)
    config = config.replace("unshared_secret: generate", "unshared_secret: bench-secret-0123")
    if admins:
        lines = "".join(f"    {name}: {password}\n" for name, password in admins.items())
        config = config.replace('admins:\n    root: ""\n', f'admins:\n    root: ""\n{lines}')
    for folder in ("plugins", "trash", "logs"):
        (where / folder).mkdir(exist_ok=True)
    (where / "config.yaml").write_text(config)
    return port, where / "config.yaml"


def maubot(python: str, where: Path) -> dict[str, Any]:
    maubot_config(python, where)
    version = subprocess.run(
        [python, "-c", "import maubot; print(maubot.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = (where / "maubot.log").open("w")
    proc = subprocess.Popen(
        [python, "-m", "maubot", "-c", "config.yaml"], cwd=where, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while "Startup actions complete" not in (where / "maubot.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((where / "maubot.log").read_text()[-2000:])
            time.sleep(0.05)
        at_start = rss_kib(proc.pid)
        time.sleep(5)
        return {"version": version, "rss_start_kib": at_start, "rss_5s_kib": rss_kib(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def ours(pre: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(pre=pre)], capture_output=True, text=True, check=True
    )
    rss, modules = out.stdout.split()
    return {"rss_kib": int(rss), "modules": int(modules)}


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--maubot-python", required=True, help="python of maubot's virtualenv")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    facts: dict[str, Any] = {"machine": machine(), "maubot": [], "ours": [], "ours_drivers": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-maubot-") as tmp:
            facts["maubot"].append(maubot(args.maubot_python, Path(tmp)))
        facts["ours"].append(ours(KEEP_OUT))
        facts["ours_drivers"].append(ours("import peewee"))

    def mib(values: list[int]) -> str:
        return " / ".join(f"{v / 1024:.1f}" for v in values)

    m = facts["machine"]
    print(
        table(
            f"RSS at rest, MiB (runs: {args.runs}), {m['date']}, load {m['load_avg']}",
            ["process", "RSS MiB", "modules"],
            [
                [
                    f"maubot {facts['maubot'][0]['version']} started, no instance (+5 s)",
                    mib([r["rss_5s_kib"] for r in facts["maubot"]]),
                    "",
                ],
                [
                    "attache-bot on SQLite, every module imported (no drivers)",
                    mib([r["rss_kib"] for r in facts["ours"]]),
                    facts["ours"][0]["modules"],
                ],
                [
                    "the same with peewee's drivers loaded (peewee imported first)",
                    mib([r["rss_kib"] for r in facts["ours_drivers"]]),
                    facts["ours_drivers"][0]["modules"],
                ],
            ],
        )
    )
    write_json(args.json, facts)


if __name__ == "__main__":
    main()
