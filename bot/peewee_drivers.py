"""peewee without a PostgreSQL driver until the bot is on PostgreSQL.

peewee (nio's crypto store) imports psycopg (or psycopg2) at its own import when installed, only
to map the driver's errors to its own: about 10 MiB of memory for a bot on SQLite, which never
uses it. `hide()` (run by bot/__init__.py, before nio is imported) imports peewee with
psycopg hidden; `hand_over()` (bot/crypto/pgstore.py, on PostgreSQL) gives peewee the
error module it would have found. The bot's own PostgreSQL code imports psycopg lazily
(bot/store/__init__.py), so on SQLite no driver is loaded at all (tests/unit/
test_peewee_drivers.py).
"""

from __future__ import annotations

import sys

HIDDEN = ("psycopg", "psycopg2")  # psycopg2: not the bot's, but peewee takes it if present


def hide() -> None:
    if "peewee" in sys.modules or any(name in sys.modules for name in HIDDEN):
        return  # too late, or a driver is wanted already
    for name in HIDDEN:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import peewee  # noqa: F401
    except ImportError:
        pass
    finally:
        for name in HIDDEN:
            del sys.modules[name]


def hand_over() -> None:
    """On PostgreSQL: what peewee would have imported itself (its error mapping)."""
    import peewee
    import psycopg.errors

    if getattr(peewee, "pg3_errors", None) is None:
        peewee.pg3_errors = psycopg.errors
