"""Unit fixtures: an in-process bot core on a real store (SQLite, PostgreSQL), fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def core(tmp_path: Path, clock: FakeClock, database_url: str) -> AsyncIterator[BotCore]:
    """The bot core on each backend: every domain's SQL runs on SQLite and PostgreSQL."""
    bot = await BotCore(tmp_path, clock, database_url=database_url).open()
    try:
        yield bot
    finally:
        await bot.close()
