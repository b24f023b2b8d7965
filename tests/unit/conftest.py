"""Unit fixtures: an in-process bot core on a real SQLite store with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def core(tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotCore]:
    bot = await BotCore(tmp_path, clock).open()
    try:
        yield bot
    finally:
        await bot.close()
