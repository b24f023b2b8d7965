"""A new SQLite store at the latest schema, without running the migrations for each one.

Migrating a new file costs about 25 ms of CPU; the unit suite opens a few thousand bot
cores on new files (tests/unit/test_examples.py alone some 900 worlds). Each process
migrates one file once, with the bot's own code, and copies it: the same bytes a fresh
migration leaves. Tests of the migrations themselves open their stores directly.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_lock = threading.Lock()
_template: Path | None = None


def new_migrated_sqlite(path: Path) -> Path:
    """Write a store at the latest schema, empty, to `path` (0600, as the bot makes it)."""
    shutil.copyfile(_migrated(), path)
    path.chmod(0o600)
    return path


def _migrated() -> Path:
    global _template
    with _lock:
        if _template is None:
            directory = Path(tempfile.mkdtemp(prefix="attache-migrated-"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = directory / "attache.db"
            # Callers may be inside a running event loop (pytest-asyncio's): not this one.
            with ThreadPoolExecutor(1) as thread:
                thread.submit(asyncio.run, _migrate(path)).result()
            _template = path
        return _template


async def _migrate(path: Path) -> None:
    from bot.store import Store

    store = Store(path)
    await store.open()
    await store.close()
