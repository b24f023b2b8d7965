"""Strict trust mode against real Synapse: only trusted_identities count, at every start."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


async def restart_with(bot: BotProcess, **settings: Any) -> None:
    """Stop, change the configuration file as an operator would, start again."""
    await bot.astop()
    config = yaml.safe_load(bot.config_path.read_text(encoding="utf-8"))
    config.update(settings)
    bot.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    await bot.astart()


async def test_strict_mode_ignores_tofu_pins_and_removed_identities(
    bot_factory, people, store_dir
) -> None:
    alice: TestClient = await people("alice")
    bob: TestClient = await people("bob")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id, bob.user_id])
    rooms = {p.user_id: await open_dm(p, bot) for p in (alice, bob)}
    for person in (alice, bob):  # both pinned on first sight (tofu)
        _, pong = await command(person, rooms[person.user_id], "!ping")
        assert pong.body == "pong"

    # Strict, with only Bob configured: Alice's first-sight pin no longer counts.
    assert bob.master_key is not None
    await restart_with(bot, trust_mode="strict", trusted_identities={bob.user_id: bob.master_key})
    _, refused = await command(alice, rooms[alice.user_id], "!ping", timeout=30)
    assert "only trusts people whose cross-signing identity an operator has configured" in (
        refused.body
    )
    _, pong = await command(bob, rooms[bob.user_id], "!ping", timeout=30)
    assert pong.body == "pong"
    # Bob resets his identity: only the operator can accept the new one.
    await bob.cross_sign(store_dir / "bob-new", reset=True)
    _, changed = await command(bob, rooms[bob.user_id], "!ping", timeout=30)
    assert "not the one the operator configured" in changed.body

    # Bob removed from trusted_identities: his stored pin does not keep him trusted.
    await restart_with(bot, trusted_identities={})
    _, refused = await command(bob, rooms[bob.user_id], "!ping", timeout=30)
    assert "an operator has configured" in refused.body
