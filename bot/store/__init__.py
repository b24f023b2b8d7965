"""The bot's durable store: SQLite (one file, the default) or PostgreSQL, chosen by URL.

Both speak the same small aiosqlite API (see bot/store/pgconn.py) and run the same
numbered migrations, so the domain code's SQL is written once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.database import Store, StoreTooNew

if TYPE_CHECKING:
    from bot.store.postgres import PgStore

__all__ = ["Store", "StoreTooNew", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (None for any other scheme)."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite://"))
    return None


def open_store(url: str) -> Store | PgStore:
    """The store for a database URL: `sqlite:///<path>` or `postgresql://...`."""
    path = sqlite_path(url)
    if path is not None:
        return Store(path)
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PgStore

        return PgStore(url)
    raise ValueError("database URL must start with sqlite:/// or postgresql://")
