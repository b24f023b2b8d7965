"""Database drivers the configured store will never use are kept out of the process.

nio's crypto store is peewee, and peewee imports every database driver it finds installed
when it is first imported (psycopg2, psycopg, pymysql, MySQLdb), whether or not they are
used. The image ships psycopg2 for the PostgreSQL store (bot/crypto/pgstore.py), so on
SQLite every bot loaded it and libpq with its TLS, Kerberos and LDAP libraries: 6.5 MiB
of the resident memory after start, for nothing (issue 25, docs/BENCHMARKS.md).

`keep_out_unused(on_postgresql)` runs before nio is imported (bot/cli.py `run`). On SQLite
it marks those drivers as absent (`sys.modules[name] = None`: Python's own way to make an
import fail with ImportError), which peewee already handles: it then offers only SQLite.
On PostgreSQL it changes nothing.
"""

from __future__ import annotations

import sys

# What peewee 3 tries at import (peewee.py, top of module); the bot's SQLite path imports none.
PEEWEE_DRIVERS = ("psycopg2", "psycopg2cffi", "psycopg", "pymysql", "MySQLdb")


def keep_out_unused(on_postgresql: bool) -> list[str]:
    """Mark the drivers absent when the store is SQLite; the names marked.

    Called before anything imports peewee: a driver already loaded stays (it costs nothing
    more), and is not marked."""
    if on_postgresql:
        return []
    marked = [name for name in PEEWEE_DRIVERS if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]
    return marked
