"""On SQLite the bot loads no database driver it will not use (bot/drivers.py, issue 25)."""

from __future__ import annotations

import subprocess
import sys

from bot.drivers import PEEWEE_DRIVERS, keep_out_unused

PROBE = """
import sys
from bot.drivers import PEEWEE_DRIVERS, keep_out_unused
keep_out_unused({on_postgresql})
import bot.app, peewee, nio.store
loaded = sorted(m for m in sys.modules if m.split('.')[0] in PEEWEE_DRIVERS and sys.modules[m])
print(loaded, peewee.psycopg2 is None)
"""


def probe(on_postgresql: bool) -> str:
    code = PROBE.format(on_postgresql=on_postgresql)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_on_sqlite_nio_and_the_bot_load_without_any_database_driver() -> None:
    assert probe(on_postgresql=False) == "[] True"


def test_on_postgresql_peewee_gets_its_driver() -> None:
    assert probe(on_postgresql=True).startswith("['psycopg2'")
    assert probe(on_postgresql=True).endswith("False")


def test_a_driver_already_loaded_is_left_alone() -> None:
    sentinel = object()
    saved = {name: sys.modules.get(name, sentinel) for name in PEEWEE_DRIVERS}
    try:
        import json

        sys.modules["psycopg"] = json  # stands for a driver something loaded before
        marked = keep_out_unused(on_postgresql=False)
        assert "psycopg" not in marked and sys.modules["psycopg"] is json
        assert set(marked) <= set(PEEWEE_DRIVERS)
        assert keep_out_unused(on_postgresql=True) == []
    finally:
        for name, module in saved.items():
            if module is sentinel:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module  # type: ignore[assignment]
