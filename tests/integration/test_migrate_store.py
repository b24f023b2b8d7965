"""migrate-store end to end: a SQLite bot with a DM and history moves to PostgreSQL, then
answers in the same DM as the same device (no new device, messages decrypt)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.harness.bot import REPO, BotProcess
from tests.harness.postgres import PostgresServer
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


async def test_a_sqlite_bot_moves_to_postgresql_with_its_device_and_dms(
    bot_factory: Any, people: Any, postgres: PostgresServer
) -> None:
    alice = await people("mover")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], admins=[alice.user_id])
    room = await open_dm(alice, bot, timeout=40)
    _, reply = await command(alice, room, "!tz Europe/Paris")
    _, reply = await command(alice, room, "!remind in 2h -- call the Paris desk")
    assert reply.body.startswith("Scheduled R-1"), reply.body
    device = bot.device_id
    url = postgres.new_database("moved")

    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "migrate-store", "--to", url],
            env=bot.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = migrate()  # the bot still runs: refused, nothing copied
    assert refused.returncode == 1 and "stop it first" in refused.stderr, refused.stderr
    tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert postgres.psql(tables, url.rsplit("/", 1)[1]) == "0"  # not even touched

    assert await bot.astop() == 0
    moved = migrate()
    assert moved.returncode == 0, moved.stderr
    assert "handled_events:" in moved.stdout and "crypto accounts: 1" in moved.stdout

    bot.env["ATTACHE_DATABASE_URL"] = url
    await bot.astart(timeout=90)
    assert bot.role() == "active"
    _, reply = await command(alice, room, "!tz", timeout=40)  # the same DM, decrypted
    assert "Europe/Paris" in reply.body, reply.body
    _, agenda = await command(alice, room, "!agenda", timeout=40)
    assert "call the Paris desk" in agenda.body, agenda.body
    assert bot.device_id == device
    assert not alice.undecryptable
