"""On SQLite no PostgreSQL driver is loaded (peewee would import psycopg: ~10 MiB); on
PostgreSQL nio's store gets peewee's error mapping as if peewee had imported it."""

from __future__ import annotations

import subprocess
import sys

from tests.harness.bot import REPO

DRIVERS = ("psycopg", "psycopg_pool", "psycopg2", "asyncpg")


def _loaded(code: str) -> list[str]:
    probe = (
        "import sys\n" + code + "\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [m for m in out.stdout.split() if m in DRIVERS]


def test_no_postgresql_driver_is_imported_on_sqlite(tmp_path: object) -> None:
    assert (
        _loaded(
            "import bot.cli, bot.app, bot.client, bot.transport, bot.backup, bot.restore\n"
            "import nio, peewee\n"
            "from bot.store import open_store\n"
            f"open_store('sqlite:///{tmp_path}/x.db')"
        )
        == []
    )


def test_on_postgresql_peewee_maps_psycopg_errors() -> None:
    assert "psycopg" in _loaded(
        "import bot, peewee\n"
        "import bot.crypto.pgstore\n"
        "import psycopg.errors\n"
        "assert peewee.pg3_errors is psycopg.errors"
    )
