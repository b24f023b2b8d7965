"""The bot's durable store: SQLite (one file, the default) or PostgreSQL, chosen by URL.

Both speak the same small aiosqlite API (see bot/store/pgconn.py) and run the same
numbered migrations, so the domain code's SQL is written once.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from bot.store.database import Store, StoreTooNew

__all__ = ["Store", "StoreTooNew", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for any other scheme.

    As SQLAlchemy spells them: `sqlite:///data/attache.db` is relative to the working
    directory, `sqlite:////srv/attache/attache.db` absolute.
    """
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None


def open_store(url: str) -> Store:
    """The store for a database URL: `sqlite:///<path>` or `postgresql://...`.

    Typed as `Store`: PgStore offers the same interface (open/close/write/reader/ping), and
    the store and bot-core tests run on both to keep it so.
    """
    path = sqlite_path(url)
    if path is not None:
        return Store(path)
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PgStore

        return cast(Store, PgStore(url))
    raise ValueError("database URL must start with sqlite:/// or postgresql://")
