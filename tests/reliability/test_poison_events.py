"""A poison event never stops the bot: the real bot, its real store (SQLite and PostgreSQL),
and a store that raises on one person's events (a trigger), as a corrupt row or a driver
bug would. Before parking, a store error while handling a left DM killed the sync loop."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_ops import samples, value

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("store_backend")]


def poison(bot: BotProcess, request: pytest.FixtureRequest, user: str, room: str) -> None:
    """Make the store raise on `user` leaving their DM and on any command in `room`."""
    url = bot.store_url()
    if url.startswith("sqlite"):
        db = sqlite3.connect(bot.data_dir / "attache.db")
        try:
            db.executescript(
                f"""
                CREATE TRIGGER poison_leave BEFORE DELETE ON dm_rooms
                WHEN OLD.user_id = '{user}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;
                CREATE TRIGGER poison_command BEFORE INSERT ON megolm_origins
                WHEN NEW.room_id = '{room}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;
                """
            )
        finally:
            db.close()
        return
    server = request.getfixturevalue("postgres")
    name = url.rsplit("/", 1)[1]
    for sql in (
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'poisoned'; END $$",
        "CREATE TRIGGER poison_leave BEFORE DELETE ON dm_rooms FOR EACH ROW "
        f"WHEN (OLD.user_id = '{user}') EXECUTE FUNCTION poison()",
        "CREATE TRIGGER poison_command BEFORE INSERT ON megolm_origins FOR EACH ROW "
        f"WHEN (NEW.room_id = '{room}') EXECUTE FUNCTION poison()",
    ):
        server.psql(sql, name)


def parked(bot: BotProcess, request: pytest.FixtureRequest) -> list[tuple[str, str]]:
    sql = "SELECT stage, reason FROM parked_events ORDER BY stage"
    url = bot.store_url()
    if url.startswith("sqlite"):
        db = sqlite3.connect(f"file:{bot.data_dir / 'attache.db'}?mode=ro", uri=True)
        try:
            return [(r[0], r[1]) for r in db.execute(sql).fetchall()]
        finally:
            db.close()
    out = request.getfixturevalue("postgres").psql(sql, url.rsplit("/", 1)[1])
    return [tuple(line.split("|", 1)) for line in out.splitlines()]  # type: ignore[misc]


async def test_a_poison_event_is_parked_and_the_next_persons_ping_is_answered(
    bot_factory: Any, people: Any, request: pytest.FixtureRequest
) -> None:
    alice = await people("alice")
    mallory = await people("mallory")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id, mallory.user_id])
    room_a = await open_dm(alice, bot)
    room_m = await open_dm(mallory, bot)
    _, pong = await command(mallory, room_m, "!ping")  # her DM is known to the bot now
    assert pong.body == "pong"
    poison(bot, request, mallory.user_id, room_m)

    # Her command cannot be recorded: tried again, parked, and she is told with a ref.
    _, told = await command(mallory, room_m, "!ping", timeout=40)
    assert "Something went wrong on my side (ref " in told.body, told.body
    # Her leaving the DM cannot be recorded either: parked, and the sync loop goes on.
    await mallory.client.room_leave(room_m)
    await asyncio.sleep(3)
    for _ in range(2):
        _, reply = await command(alice, room_a, "!ping", timeout=40)
        assert reply.body == "pong"

    assert bot.proc is not None and bot.proc.poll() is None, bot.log_tail()
    stages = parked(bot, request)
    assert [s for s, _ in stages] == ["dispatch", "membership"], stages
    assert all("poisoned" not in reason for _, reason in stages)  # class and line only
    metrics = samples(bot.metrics())
    assert value(metrics, "attache_parked_events_total", stage="dispatch") == 1
    assert value(metrics, "attache_parked_events_total", stage="membership") == 1
