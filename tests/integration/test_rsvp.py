"""Answers to invitations over real E2EE: a participant answers with a reaction encrypted as
Element encrypts it, takes it back (a redaction, which is never encrypted), answers with
!rsvp, and is asked again, once, when the organiser changes the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nio import RoomRedactResponse

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import react_encrypted, wait_any

pytestmark = pytest.mark.integration


async def test_an_invitation_answered_by_reaction_withdrawn_and_asked_again(
    bot_factory, people, synapse
) -> None:
    organiser = await people("org")
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(
        allowed_users=[organiser.user_id, bob.user_id], settings={"timezone": "UTC"}
    )
    room = await open_dm(organiser, bot)
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    _sent, reply = await command(
        organiser, room, f"!meeting {day} 10:00 with={bob.user_id} -- Budget review"
    )
    assert reply.body.startswith("Scheduled M-1: Budget review"), reply.body
    dm, invitation = await wait_any(bob, lambda e: "added you to M-1" in e.body)
    assert invitation.decrypted
    assert "Answer with a reaction on this message: ✅ yes" in invitation.body

    # ✅ on the invitation, encrypted as Element sends reactions in an encrypted room.
    reaction = await react_encrypted(bob, dm, invitation.event_id, "✅")
    confirm = await bob.wait_for_message(
        dm, lambda e: "is recorded: accepted" in e.body, timeout=30
    )
    assert confirm.decrypted
    told = await organiser.wait_for_message(
        room, lambda e: "answered M-1 (Budget review): accepted" in e.body, timeout=30
    )
    assert told.decrypted and "Answers so far: 1 accepted" in told.body

    # Element's "remove reaction" is a redaction: the answer is withdrawn.
    resp = await bob.client.room_redact(dm, reaction)
    assert isinstance(resp, RoomRedactResponse), resp
    await bob.wait_for_message(dm, lambda e: "is withdrawn" in e.body, timeout=30)
    await organiser.wait_for_message(
        room, lambda e: "withdrew their answer to M-1" in e.body, timeout=30
    )

    _sent, answered = await command(bob, dm, "!rsvp M-1 maybe -- flight not booked yet")
    assert "is recorded: tentative" in answered.body
    await organiser.wait_for_message(
        room, lambda e: "Note: flight not booked yet" in e.body, timeout=30
    )
    _sent, shown = await command(organiser, room, "!show M-1")
    assert "Answers: 1 tentative" in shown.body and "flight not booked yet" in shown.body

    # The organiser moves the meeting: Bob's answer no longer holds, and he is asked again
    # in the one message that tells him of the change.
    _sent, edited = await command(organiser, room, "!edit M-1 start=" + day + " 11:00")
    assert "the participants are asked again" in edited.body
    asked = await bob.wait_for_message(
        dm, lambda e: "changed M-1" in e.body and "no longer holds" in e.body, timeout=30
    )
    assert "Answer with a reaction on this message" in asked.body
    await react_encrypted(bob, dm, asked.event_id, "❌")
    await bob.wait_for_message(dm, lambda e: "is recorded: declined" in e.body, timeout=30)
    await organiser.wait_for_message(
        room, lambda e: "answered M-1 (Budget review): declined" in e.body, timeout=30
    )
    changed = [e for e in bob.messages(dm, from_others=True) if "changed M-1" in e.body]
    assert len(changed) == 1, "told of the change once"

    # Both reactions went through the server encrypted, as Element's do; the redaction is
    # the one event of Bob's in clear (the server must read what it removes).
    stored = await synapse.aroom_messages_as_admin(dm)
    mine = [e for e in stored if e["sender"] == bob.user_id]
    assert {e["type"] for e in mine} <= {"m.room.encrypted", "m.room.redaction", "m.room.member"}
    assert not [e for e in mine if e["type"] == "m.reaction"]
    assert [e["redacts"] for e in mine if e["type"] == "m.room.redaction"] == [reaction]
