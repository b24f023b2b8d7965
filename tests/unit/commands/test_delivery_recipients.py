"""The allow-list at send time, for a command that names an outsider: `!actions add` to
someone off the allow-list queues a DM that the outbox never sends; the secretariat is
told in their DM and the audit keeps it. (The rule lives in bot/outbox/dm_repair.py, once.)"""

from __future__ import annotations

import pytest
from actions_fixtures import ROOM, SEC, seed

from tests.harness.fakes import BotCore
from tests.reliability.test_delivery_rules import Rooms, _run

OUTSIDER = "@x:evil.example"


@pytest.fixture
async def core(tmp_path):
    bot = await BotCore(tmp_path).open()
    yield bot
    await bot.close()


async def test_action_owned_by_an_outsider_is_not_sent_to_them(core: BotCore) -> None:
    await seed(core)
    rooms = Rooms()
    rooms.encrypted[ROOM] = True
    [reply, *dms] = await core.say(
        SEC, f"!actions add S-1 {OUTSIDER} due=2026-03-30 -- brief the press", room_id=ROOM
    )
    assert "A-3 added" in reply.body
    assert [m.user_id for m in dms] == [OUTSIDER]  # queued by the command, as before
    await _run(core, rooms, [])
    [(state, error)] = await core.query(
        "SELECT state, error FROM outbox WHERE user_id = ?", OUTSIDER
    )
    assert state == "failed" and "allow-list" in error
    assert not [r for r, _ in rooms.sent if OUTSIDER in r]
    # The secretariat is told in their DM alone, never in the room (issue 22, 8).
    told = [(r, c["body"]) for r, c in rooms.sent if "could not deliver" in c["body"]]
    assert len(told) == 1 and f"could not deliver A-3 to {OUTSIDER}" in told[0][1]
    assert told[0][0] == rooms.dms[SEC] != ROOM
    [audit] = await core.query("SELECT object FROM audit WHERE action = 'delivery.failed'")
    assert audit[0] == "A-3"
