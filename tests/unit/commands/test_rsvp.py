"""Answers to invitations on a real store with a fake clock: a reaction on the invitation DM,
its removal, !rsvp with a note, who may answer, the tally in !show and !agenda, reminders
that skip who declined, the ICS file's PARTSTAT, and a change of time that asks again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from commands.context import Incoming
from commands.outbox_row import Queued
from commands.schedule.rsvp_store import ACCEPTED, DECLINED, TENTATIVE, answers_for
from tests.harness.fakes import BotCore, Sent

ALICE = "@alice:test"  # organiser, Europe/Paris
BOB = "@bob:test"
CAROL = "@carol:test"
ROOM = "!room:test"
BOB_DM = "!dm-bob:test"
START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # tomorrow 10:00 Paris


@pytest.fixture
async def meeting(core: BotCore) -> BotCore:
    """M-1 tomorrow 10:00 Paris with Bob and Carol, its invitations sent."""
    await core.say(ALICE, "!tz Europe/Paris")
    await core.dm_with(BOB, BOB_DM)
    await core.dm_with(CAROL, "!dm-carol:test")
    await core.say(ALICE, "!meeting tomorrow 10:00 with=@bob:test,@carol:test -- Budget review")
    await sent_invitations(core)
    return core


async def sent_invitations(core: BotCore) -> dict[str, str]:
    """Mark every invitation queued so far as sent; returns each person's latest event ID."""
    rows = await core.query(
        "SELECT i.key, i.user_id FROM schedule_invitations i JOIN outbox o ON o.key = i.key "
        "WHERE o.event_id IS NULL ORDER BY i.key"
    )
    latest = {}
    for key, user in rows:
        event_id = "$inv-" + key.replace(":", "-").replace("@", "")
        await core.mark_sent(key, event_id)
        latest[user] = event_id
    return latest


async def invitation_of(core: BotCore, user: str) -> str:
    rows = await core.query(
        "SELECT o.event_id FROM schedule_invitations i JOIN outbox o ON o.key = i.key "
        "WHERE i.user_id = ? AND i.round > 0 ORDER BY o.id DESC",
        user,
    )
    return str(rows[0][0])


async def item_id(core: BotCore) -> int:
    return int(
        (await core.query("SELECT id FROM schedule_items WHERE kind = 'M' AND number = 1"))[0][0]
    )


async def answers(core: BotCore) -> dict[str, str]:
    found = await answers_for(core.store.reader, [await item_id(core)])
    return {user: a.state for user, a in found.get(await item_id(core), {}).items()}


def to(user: str, sent: list[Sent]) -> list[Sent]:
    return [m for m in sent if m.user_id == user]


async def test_the_invitation_asks_and_a_reaction_on_it_answers(meeting: BotCore) -> None:
    invitation = await invitation_of(meeting, BOB)
    row = await meeting.query(
        "SELECT content FROM outbox o JOIN schedule_invitations i ON i.key = o.key "
        "WHERE i.user_id = ?",
        BOB,
    )
    body = Queued.loads(row[0][0]).content["body"]
    assert "added you to M-1: Budget review" in body
    assert "Answer with a reaction on this message: ✅ yes, ❌ no, ❔ maybe" in body
    assert "!rsvp M-1 yes, no or maybe" in body

    sent = await meeting.react(BOB, invitation, "✅", room_id=BOB_DM)
    assert await answers(meeting) == {BOB: ACCEPTED}
    confirm = [m for m in sent if m.room_id == BOB_DM]
    assert len(confirm) == 1
    assert confirm[0].reply_to == invitation
    assert "Your answer to M-1 (Budget review) is recorded: accepted" in confirm[0].body
    told = to(ALICE, sent)
    assert len(told) == 1
    assert "answered M-1 (Budget review): accepted" in told[0].body
    assert "Answers so far: 1 accepted, 1 not answered yet" in told[0].body
    history = await meeting.query(
        "SELECT actor, action, new FROM history WHERE object = 'M-1' AND action = 'rsvp'"
    )
    assert [tuple(r) for r in history] == [(BOB, "rsvp", ACCEPTED)]


@pytest.mark.parametrize(
    ("key", "state"),
    [
        ("✔️", ACCEPTED),
        ("✔", ACCEPTED),
        ("👍", ACCEPTED),
        ("✖️", DECLINED),
        ("❌", DECLINED),
        ("👎", DECLINED),
        ("❓", TENTATIVE),
        ("❔", TENTATIVE),
    ],
)
async def test_the_reactions_element_users_pick(meeting: BotCore, key: str, state: str) -> None:
    await meeting.react(BOB, await invitation_of(meeting, BOB), key, room_id=BOB_DM)
    assert await answers(meeting) == {BOB: state}


async def test_other_reactions_and_other_messages_are_no_answer(meeting: BotCore) -> None:
    assert await meeting.react(BOB, await invitation_of(meeting, BOB), "🎉", BOB_DM) == []
    assert await meeting.react(BOB, "$some-other-message", "✅", BOB_DM) == []
    # Carol's invitation, reacted on by Bob (as in a shared room): not his to answer
    assert await meeting.react(BOB, await invitation_of(meeting, CAROL), "✅", BOB_DM) == []
    assert await answers(meeting) == {}


async def test_removing_the_reaction_withdraws_the_answer(meeting: BotCore) -> None:
    invitation = await invitation_of(meeting, BOB)
    await meeting.react(BOB, invitation, "❌", room_id=BOB_DM)
    reaction = (await meeting.query("SELECT reaction_event FROM schedule_answers"))[0][0]
    # someone else's redaction of it changes nothing
    other = Incoming(event_id="$redact-carol", room_id=BOB_DM, sender=CAROL, redacts=reaction)
    await meeting.dispatcher.process(other)
    assert await answers(meeting) == {BOB: DECLINED}
    await meeting.new_messages()
    mine = Incoming(event_id="$redact-bob", room_id=BOB_DM, sender=BOB, redacts=reaction)
    assert await meeting.dispatcher.process(mine) == "ok"
    assert await answers(meeting) == {}
    sent = await meeting.new_messages()
    assert "Your answer to M-1 (Budget review) is withdrawn" in sent[-1].body
    # it replies to nothing: the ledger field names what it answers, for a restore
    assert sent[-1].content["org.attache.ledger"] == "event:$redact-bob"
    assert "withdrew their answer to M-1" in to(ALICE, sent)[0].body
    # the same redaction again (a replay, a restart): once
    assert await meeting.dispatcher.process(mine) == "duplicate"
    show = await meeting.say(ALICE, "!show M-1")
    assert "answered: declined" in show[0].body
    assert "withdrew their answer" in show[0].body


async def test_a_later_answer_outlives_the_removal_of_an_earlier_reaction(
    meeting: BotCore,
) -> None:
    await meeting.react(BOB, await invitation_of(meeting, BOB), "✅", room_id=BOB_DM)
    reaction = (await meeting.query("SELECT reaction_event FROM schedule_answers"))[0][0]
    await meeting.say(BOB, "!rsvp M-1 maybe -- depends on the flight", room_id=BOB_DM)
    redaction = Incoming(event_id="$redact-late", room_id=BOB_DM, sender=BOB, redacts=reaction)
    assert await meeting.dispatcher.process(redaction) == "ignored"
    assert await answers(meeting) == {BOB: TENTATIVE}


async def test_the_same_reaction_twice_counts_once(meeting: BotCore) -> None:
    invitation = await invitation_of(meeting, BOB)
    event = Incoming(
        event_id="$once", room_id=BOB_DM, sender=BOB, reaction_key="✅", reaction_target=invitation
    )
    assert await meeting.dispatcher.process(event) == "ok"
    assert await meeting.dispatcher.process(event) == "duplicate"
    told = [m for m in await meeting.new_messages() if m.user_id == ALICE]
    assert len(told) == 1


async def test_rsvp_command_with_a_note_and_in_other_languages(meeting: BotCore) -> None:
    sent = await meeting.say(BOB, "!rsvp M-1 no -- on leave that week", room_id=BOB_DM)
    reply = next(m for m in sent if m.room_id == BOB_DM)
    assert "is recorded: declined" in reply.body
    assert "you get no more reminders for it" in reply.body
    told = to(ALICE, sent)
    assert "Note: on leave that week" in told[0].body
    # the same answer again: nothing new, nobody told twice
    again = await meeting.say(BOB, "!rsvp M-1 no -- on leave that week", room_id=BOB_DM)
    assert "was already: declined" in again[0].body
    assert to(ALICE, again) == []
    await meeting.say(BOB, "!rsvp M-1 oui", room_id=BOB_DM)
    assert await answers(meeting) == {BOB: ACCEPTED}
    await meeting.say(CAROL, "!rsvp m-1 vielleicht")
    assert await answers(meeting) == {BOB: ACCEPTED, CAROL: TENTATIVE}
    await meeting.say(CAROL, "!rsvp M-1 nein")
    assert await answers(meeting) == {BOB: ACCEPTED, CAROL: DECLINED}


async def test_a_french_reader_answers_and_reads_in_french(meeting: BotCore) -> None:
    await meeting.say(BOB, "!lang fr", room_id=BOB_DM)
    sent = await meeting.say(BOB, "!rsvp M-1 peut-être", room_id=BOB_DM)
    assert await answers(meeting) == {BOB: TENTATIVE}
    reply = next(m for m in sent if m.room_id == BOB_DM)
    assert "M-1" in reply.body and "provisoire" in reply.body


async def test_only_participants_answer(meeting: BotCore) -> None:
    sent = await meeting.say(ALICE, "!rsvp M-1 yes")
    assert "You organise M-1: only its participants answer" in sent[0].body
    await meeting.say(ALICE, "!remind in 2h -- call Paris")
    sent = await meeting.say(ALICE, "!rsvp R-1 yes")
    assert "is not a meeting or visit ID like M-3" in sent[0].body
    await meeting.say(ALICE, "!meeting tomorrow 15:00 with=@carol:test -- Other")
    sent = await meeting.say(BOB, "!rsvp M-2 yes")
    assert "Only the participants of M-2 answer its invitation" in sent[0].body
    sent = await meeting.say(BOB, "!rsvp M-1 sure")
    assert "'sure' is not an answer: write yes, no or maybe" in sent[0].body
    assert "!rsvp M-1 yes" in sent[0].body
    await meeting.say(ALICE, "!cancel M-1")
    sent = await meeting.say(BOB, "!rsvp M-1 yes")
    assert "M-1 is cancelled: there is nothing to answer" in sent[0].body
    assert await answers(meeting) == {}


async def test_a_member_of_a_participating_post_answers(core: BotCore) -> None:
    await core.dm_with("@dave:test", "!dm-dave:test")
    await core.say("@admin:test", "!dir post FR-PARIS members=@dave:test")
    await core.say(ALICE, "!meeting tomorrow 10:00 with=FR-PARIS -- Post call")
    invitations = await sent_invitations(core)
    await core.react("@dave:test", invitations["@dave:test"], "✅", room_id="!dm-dave:test")
    assert await answers(core) == {"@dave:test": ACCEPTED}


async def test_organiser_sees_tally_and_notes_participants_their_own(meeting: BotCore) -> None:
    await meeting.say(BOB, "!rsvp M-1 yes -- by video")
    show = (await meeting.say(ALICE, "!show M-1"))[0].body
    assert "Answers: 1 accepted, 1 not answered yet" in show
    assert "✅" in show and "by video" in show
    assert "answered: accepted — by video" in show
    own = (await meeting.say(BOB, "!show M-1"))[0].body
    assert "Your answer: accepted" in own
    assert "by video" not in own.split("History:")[0]
    carol = (await meeting.say(CAROL, "!show M-1"))[0].body
    assert "You have not answered yet: !rsvp M-1 yes, no or maybe." in carol
    agenda = (await meeting.say(ALICE, "!agenda"))[0].body
    assert "Budget review (1✅ 1…)" in agenda
    assert "Budget review (you: ✅)" in (await meeting.say(BOB, "!agenda"))[0].body


async def test_who_declined_gets_no_more_reminders(core: BotCore) -> None:
    await core.say(ALICE, "!tz Europe/Paris")
    await core.say(
        ALICE, "!meeting tomorrow 10:00 with=@bob:test,@carol:test to=dm lead=1h -- Sync"
    )
    await core.say(ALICE, "!meeting tomorrow 12:00 with=@bob:test,@carol:test lead=1h -- Room")
    await core.say(BOB, "!rsvp M-1 no")
    await core.say(CAROL, "!rsvp M-2 no")
    core.clock.set(START - timedelta(hours=1))
    fired = await core.fire_due()
    assert sorted(m.user_id for m in fired if m.user_id) == [ALICE, CAROL]
    # in a room: the reminder no longer mentions who declined
    core.clock.set(START + timedelta(hours=1))
    fired = [m for m in await core.fire_due() if m.room_id == ROOM]
    assert fired[0].content["m.mentions"] == {"user_ids": [ALICE, BOB]}


async def test_ics_carries_each_attendees_partstat(meeting: BotCore) -> None:
    await meeting.say(ALICE, "!meeting tomorrow 16:00 with=@bob:test -- Unanswered")
    await meeting.say(BOB, "!rsvp M-1 yes")
    await meeting.say(CAROL, "!rsvp M-1 maybe")
    sent = await meeting.say(ALICE, "!ics agenda 7")
    cal = icalendar.Calendar.from_ical(sent[0].attachment)
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    states = {str(a): a.params.get("PARTSTAT") for a in events["M-1 Budget review"].get("attendee")}
    assert states == {
        "https://matrix.to/#/@bob:test": "ACCEPTED",
        "https://matrix.to/#/@carol:test": "TENTATIVE",
    }
    unanswered = events["M-2 Unanswered"]["attendee"]
    assert str(unanswered) == "https://matrix.to/#/@bob:test"
    assert "PARTSTAT" not in unanswered.params
    await meeting.say(CAROL, "!rsvp M-1 no")
    sent = await meeting.say(ALICE, "!ics M-1")
    assert b"PARTSTAT=DECLINED:https://matrix.to/#/@carol:test" in sent[0].attachment


async def test_a_change_of_time_clears_answers_and_asks_once_again(meeting: BotCore) -> None:
    old = await invitation_of(meeting, BOB)
    await meeting.react(BOB, old, "✅", room_id=BOB_DM)
    await meeting.say(CAROL, "!rsvp M-1 no")
    # a change that keeps the time keeps the answers
    await meeting.say(ALICE, "!edit M-1 place=Room 3")
    assert await answers(meeting) == {BOB: ACCEPTED, CAROL: DECLINED}
    sent = await meeting.say(ALICE, "!edit M-1 start=tomorrow 11:00")
    assert "earlier answers are cleared and the participants are asked again" in sent[0].body
    assert await answers(meeting) == {}
    for user, answered in ((BOB, "accepted"), (CAROL, "declined")):
        told = to(user, sent)
        assert len(told) == 1, "told once: the change and the question in one message"
        assert "changed M-1: Budget review" in told[0].body
        assert f"your answer ({answered}) no longer holds" in told[0].body
        assert "Answer with a reaction on this message" in told[0].body
    await sent_invitations(meeting)
    stale = await meeting.react(BOB, old, "✅", room_id=BOB_DM)
    assert "That invitation was for an earlier time of M-1" in stale[0].body
    assert await answers(meeting) == {}
    await meeting.react(BOB, await invitation_of(meeting, BOB), "👍", room_id=BOB_DM)
    assert await answers(meeting) == {BOB: ACCEPTED}
    show = (await meeting.say(ALICE, "!show M-1"))[0].body
    assert "answers cleared: the time changed" in show


async def test_the_organisers_notice_is_marked_as_the_item(tmp_path: Path) -> None:
    """Marked like every notice about the item: the outbox banners it and sends it only to
    whom the item's marking, as it is when sent, covers."""
    core = await BotCore(
        tmp_path,
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        max_marking="CONFIDENTIAL",
    ).open()
    try:
        for who in (ALICE, BOB):
            await core.say("@admin:test", f"!dir person {who} nation=FRA clearance=CONFIDENTIAL")
        await core.say(
            ALICE, "!meeting tomorrow 10:00 with=@bob:test marking=RESTRICTED rel=FRA -- Review"
        )
        sent = await core.say(BOB, "!rsvp M-1 yes")
        assert "is recorded: accepted" in sent[-1].body, [m.body for m in sent]
        rows = await core.query("SELECT content FROM outbox WHERE user_id = ? ORDER BY id", ALICE)
        meta = Queued.loads(rows[-1][0])
        assert "answered M-1" in meta.content["body"]
        assert meta.about == "M-1"
        assert meta.marking is not None and "RESTRICTED" in str(meta.marking)
    finally:
        await core.close()


async def test_an_answer_counts_once_across_a_restart(tmp_path: Path) -> None:
    """The reaction handled before a restart, delivered again after it (sync replays it):
    one answer, one history step, the organiser told once."""
    core = await BotCore(tmp_path).open()
    await core.dm_with(BOB, BOB_DM)
    await core.say(ALICE, "!meeting tomorrow 10:00 with=@bob:test -- Sync")
    invitation = (await sent_invitations(core))[BOB]
    event = Incoming(
        event_id="$react", room_id=BOB_DM, sender=BOB, reaction_key="✅", reaction_target=invitation
    )
    assert await core.dispatcher.process(event) == "ok"
    await core.close()
    again = await BotCore(tmp_path).open()
    try:
        assert await again.dispatcher.process(event) == "duplicate"
        assert await answers(again) == {BOB: ACCEPTED}
        steps = await again.query("SELECT COUNT(*) FROM history WHERE action = 'rsvp'")
        assert steps[0][0] == 1
        told = await again.query(
            "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND content LIKE '%answered M-1%'",
            ALICE,
        )
        assert told[0][0] == 1
    finally:
        await again.close()


async def test_re_marked_and_moved_asks_again_whoever_may_still_read_it(tmp_path: Path) -> None:
    core = await BotCore(
        tmp_path,
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        max_marking="CONFIDENTIAL",
    ).open()
    try:
        for who, clearance in (
            (ALICE, "CONFIDENTIAL"),
            (BOB, "CONFIDENTIAL"),
            (CAROL, "RESTRICTED"),
        ):
            await core.say("@admin:test", f"!dir person {who} nation=FRA clearance={clearance}")
        await core.say(
            ALICE, "!meeting tomorrow 10:00 with=@bob:test marking=RESTRICTED rel=FRA -- Review"
        )
        await core.say(BOB, "!rsvp M-1 yes")
        sent = await core.say(ALICE, "!edit M-1 start=tomorrow 11:00 marking=CONFIDENTIAL")
        assert await answers(core) == {}
        bob = to(BOB, sent)
        assert len(bob) == 1, [m.body for m in bob]
        assert "changed M-1" in bob[0].body
        assert "your answer (accepted) no longer holds" in bob[0].body
        assert bob[0].key is not None  # his new invitation: a reaction on it answers
    finally:
        await core.close()
