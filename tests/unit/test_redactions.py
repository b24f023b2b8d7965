"""Redactions reach the dispatcher (bot/gate.py): never encrypted, so routed as they come,
in encrypted rooms only; a listener acts on them only for what it recorded (here, the
reaction that answered an invitation, commands/schedule/rsvp.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from nio import RedactionEvent

from tests.harness.fakes import BotCore
from tests.unit.test_limits import ROOM, FakeClient, loop_for

ALICE, BOB = "@alice:test", "@bob:test"
PLAIN = "!plain:test"


def redaction(n: int, sender: str, target: str) -> RedactionEvent:
    event = RedactionEvent.from_dict(
        {
            "type": "m.room.redaction",
            "event_id": f"$redaction{n}",
            "sender": sender,
            "origin_server_ts": 1,
            "redacts": target,
            "content": {},
        }
    )
    assert isinstance(event, RedactionEvent)
    return event


async def test_a_redaction_of_an_answering_reaction_withdraws_the_answer(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, allowed_users=[ALICE, BOB]).open()
    try:
        await core.say(ALICE, "!meeting tomorrow 10:00 with=@bob:test -- Sync")
        [(key,)] = await core.query("SELECT key FROM schedule_invitations")
        await core.mark_sent(key, "$invitation", room_id=ROOM)  # Bob's DM here
        await core.react(BOB, "$invitation", "✅", room_id=ROOM)
        [(reaction,)] = await core.query("SELECT reaction_event FROM schedule_answers")
        client = FakeClient()
        client.rooms[PLAIN] = SimpleNamespace(encrypted=False, users={})
        loop = loop_for(core, client)
        await loop.gate.route(PLAIN, redaction(1, BOB, reaction))  # not an encrypted room
        await loop.gate.route(ROOM, redaction(2, ALICE, reaction))  # not Bob's to take back
        await loop.gate.route(ROOM, redaction(3, BOB, "$something-else"))
        assert await core.dispatcher.drain(10)
        assert await core.count("schedule_answers") == 1
        await loop.gate.route(ROOM, redaction(4, BOB, reaction))
        assert await core.dispatcher.drain(10)
        assert await core.count("schedule_answers") == 0
        outcomes = await core.query(
            "SELECT event_id, command, outcome FROM handled_events "
            "WHERE event_id LIKE '$redaction%' ORDER BY event_id"
        )
        assert [tuple(r) for r in outcomes] == [
            ("$redaction2", "<redaction>", "ignored"),
            ("$redaction3", "<redaction>", "ignored"),
            ("$redaction4", "<redaction>", "ok"),
        ]
    finally:
        await core.close()
