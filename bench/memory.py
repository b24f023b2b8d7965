"""Where the bot's resident memory goes: one row per library, in the order the bot loads them.

    PYTHONPATH=. python bench/memory.py [--json FILE]

Each row is measured in a fresh interpreter that imports the libraries of the rows above
it and then this one, so the RSS delta is what this library adds on top of the others
(shared code counted once, where it is first needed), with the database drivers a
SQLite store does not use kept out, as `import bot` keeps them out (bot/peewee_drivers.py).
The last rows are the bot itself (`bot.app`, as `attache-bot run` imports it) and, for
comparison, the modules the bot imports only on first use. tracemalloc then attributes the
Python allocations of `import bot.app` to packages (code objects, dicts, strings; not
native libraries).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.common import base_args, machine, table, write_json

# In load order: what the interpreter and nio need first, then the bot's own choices.
STEPS = [
    ("python itself", "pass"),
    ("asyncio, ssl, sqlite3, json (stdlib)", "import asyncio, ssl, sqlite3, json"),
    ("aiohttp (nio's HTTP client)", "import aiohttp"),
    ("jsonschema (nio's response validation)", "import jsonschema"),
    ("pycryptodome, peewee, h2, vodozemac (nio's)",
     "import Crypto.Cipher.AES, peewee, h2.connection, vodozemac"),
    ("matrix-nio itself", "import nio"),
    ("pydantic + pydantic-settings (config)", "import pydantic_settings"),
    ("pycryptodome's Ed25519 (cross-signing; was cryptography, 7-8 MiB)",
     "import Crypto.PublicKey.ECC, Crypto.Signature.eddsa"),
    ("aiosqlite (store)", "import aiosqlite"),
    ("prometheus-client (metrics)", "import prometheus_client"),
    ("apscheduler (scheduler)", "import apscheduler.schedulers.asyncio"),
    ("PyYAML, python-dateutil", "import yaml, dateutil.rrule"),
    ("uvloop (the event loop of `attache-bot run`)", "import uvloop"),
    ("the bot: bot.app + commands (as `attache-bot run` loads it)", "import bot.cli, bot.app"),
    ("on first use only: dateparser", "import dateparser"),
    ("on first use only: icalendar", "import icalendar"),
    ("on `attache-bot restore` only: bot.restore (tarfile)", "import bot.restore"),
]  # fmt: skip

# As `attache-bot run` on SQLite: `import bot` keeps peewee's drivers out (bot/peewee_drivers.py).
KEEP_OUT = "import bot\n"
PROBE = (
    "import sys\n" + KEEP_OUT + "{code}\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "print(int(rss), len(sys.modules))\n"
)

TRACE = """
import tracemalloc, collections, json
import bot
tracemalloc.start()
import bot.cli, bot.app
snap = tracemalloc.take_snapshot()
per = collections.Counter()
for stat in snap.statistics("filename"):
    f = stat.traceback[0].filename
    if "site-packages/" in f:
        key = f.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    elif "/lib/python3" in f:
        key = "(stdlib)"
    elif f.startswith("<frozen"):
        key = "(import machinery: code objects of every module)"
    else:
        key = f.rsplit("/", 2)[-2] + "/ (the bot)" if "/" in f else f
    per[key] += stat.size
print(json.dumps(per.most_common(15)))
"""


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="."
    )
    return out.stdout.strip()


def measure() -> dict[str, Any]:
    rows = []
    done: list[str] = []
    last = 0
    for label, code in STEPS:
        first_use = label.startswith("on first use")
        prefix = [c for c in done if c != "pass"]
        rss_kb, modules = map(int, _run(PROBE.format(code="\n".join([*prefix, code]))).split())
        delta = round((rss_kb - last) / 1024, 1)
        rss = round(rss_kb / 1024, 1)
        rows.append({"what": label, "rss_mib": rss, "delta_mib": delta, "modules": modules})
        if not first_use:
            done.append(code)
            last = rss_kb
    traced = json.loads(_run(TRACE))
    return {"machine": machine(), "steps": rows, "tracemalloc_top": traced}


def report(f: dict[str, Any]) -> str:
    steps = table(
        f"Resident memory by library, {f['machine']['date']}, Python {f['machine']['python']}",
        ["loaded (cumulative)", "RSS MiB", "+ MiB", "modules"],
        [[r["what"], r["rss_mib"], r["delta_mib"], r["modules"]] for r in f["steps"]],
    )
    traced = table(
        "Python allocations of `import bot.cli, bot.app` by package (tracemalloc)",
        ["package", "MiB"],
        [[k, round(v / 2**20, 2)] for k, v in f["tracemalloc_top"]],
    )
    return f"{steps}\n\n{traced}"


def main() -> None:
    args = base_args(__doc__).parse_args()
    facts = measure()
    print(report(facts))
    write_json(args.json, facts)


if __name__ == "__main__":
    main()
