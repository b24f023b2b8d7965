"""Reliability suite settings: modest in `make test`, long in `make soak`.

`ATTACHE_SOAK=1` (set by `make soak`) runs at least 10,000 examples per property and
lengthens the crash and outage tests. The hypothesis settings are applied per test (not as a
global profile) so other suites keep their own.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from tests.harness.bot import BOT_PASSWORD, PICKLE_KEY, BotProcess

SOAK = os.environ.get("ATTACHE_SOAK") == "1"

EXAMPLES = int(os.environ.get("ATTACHE_EXAMPLES", "10000" if SOAK else "600"))

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no example database in the work tree; every run starts fresh
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- figures and log hygiene shared by the process-level tests ---------------------------------

FIGURES_ENV = "ATTACHE_FIGURES"


def record(name: str, **figures: Any) -> None:
    """Print a figure line (pytest -s shows it) and append it to $ATTACHE_FIGURES if set."""
    line = json.dumps({"test": name, **figures}, sort_keys=True)
    print(f"\nFIGURES {line}")
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def secrets_of(bot: BotProcess) -> dict[str, str]:
    """Every secret the bot holds: password, pickle key, and any token/key in its JSON files."""
    found = {"password": BOT_PASSWORD, "pickle key": PICKLE_KEY}
    for path in Path(bot.data_dir).rglob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key, value in _walk(data):
            if isinstance(value, str) and len(value) >= 12 and _secretish(key):
                found[f"{path.name}:{key}"] = value
    return found


def _secretish(key: str) -> bool:
    key = key.lower()
    return any(w in key for w in ("token", "secret", "seed", "private", "password", "key"))


def _walk(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for k, v in data.items():
            out += _walk(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(data, list):
        return [kv for v in data for kv in _walk(v, prefix)]
    return [(prefix, data)]


def assert_logs_clean(bot: BotProcess, bodies: list[str]) -> int:
    """No secret and no message body in any line of the bot's log; returns lines scanned."""
    text = bot.log_text()
    assert "DEBUG" in text, "the bot must have logged at DEBUG for this check to mean much"
    leaks = [name for name, value in secrets_of(bot).items() if value in text]
    assert not leaks, f"secrets in the bot's log: {leaks}"
    shown = [b for b in bodies if b in text]
    assert not shown, f"{len(shown)} message bodies in the bot's log, e.g. {shown[0]!r}"
    return len(text.splitlines())


def read_store(bot: BotProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Query the stopped bot's store read-only."""
    db = sqlite3.connect(f"file:{bot.data_dir / 'attache.db'}?mode=ro", uri=True)
    try:
        return list(db.execute(sql, params).fetchall())
    finally:
        db.close()
