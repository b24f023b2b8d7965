"""The data volume: the crypto store (Olm/Megolm pickles), the store and secrets are 0600."""

from __future__ import annotations

import stat

import pytest

from bot.client import CRYPTO_DIR
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


def modes(bot: BotProcess) -> dict[str, int]:
    crypto = bot.data_dir / CRYPTO_DIR
    found = {p.name: stat.S_IMODE(p.stat().st_mode) for p in crypto.iterdir() if p.is_file()}
    found["<dir>"] = stat.S_IMODE(crypto.stat().st_mode)
    return found


async def test_crypto_store_files_are_0600_also_after_a_restart(bot_factory, people) -> None:
    alice: TestClient = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")  # sessions and room keys are in the store now
    first = modes(bot)
    assert any(name.endswith(".db") for name in first), first
    assert first.pop("<dir>") == 0o700
    assert first and all(mode == 0o600 for mode in first.values()), {
        k: oct(v) for k, v in first.items()
    }
    for name in ("attache.db", "credentials.json", "cross_signing.keys"):  # the other secrets
        assert stat.S_IMODE((bot.data_dir / name).stat().st_mode) == 0o600, name
    await bot.astop()
    await bot.astart()
    again = modes(bot)
    assert all(mode in (0o600, 0o700) for mode in again.values()), again
