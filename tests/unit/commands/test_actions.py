"""Action items: status moves, history, overdue across zones, dates, editing, listing, paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from actions_fixtures import ADMIN, DM, OWNER, PARIS, ROOM, SEC, say_ok, seed

from commands.actions.model import parse_status
from commands.time import parse_due
from tests.harness.fakes import BotCore


async def status_of(core: BotCore, number: int) -> str:
    return (await core.query("SELECT status FROM action_items WHERE id = ?", number))[0][0]


@pytest.mark.parametrize(
    ("who", "moves"),
    [
        (
            OWNER,
            [
                ("in-progress", "in_progress"),
                ("done", "done"),
                ("open", "open"),
                ("cancelled", None),  # cancelling is the secretariat's
                ("open", None),  # already open
            ],
        ),
        (
            SEC,
            [
                ("cancelled", "cancelled"),
                ("done", None),  # a cancelled item must be reopened first
                ("open", "open"),
                ("done", "done"),
                ("in progress", "in_progress"),
            ],
        ),
    ],
)
async def test_status_transitions(core: BotCore, who: str, moves: list) -> None:
    await seed(core)
    current = "open"
    for word, expected in moves:
        sent = await core.say(who, f"!actions status A-1 {word} -- because", room_id=DM)
        if expected is None:
            assert "cannot go from" in sent[0].body or "already" in sent[0].body, sent[0].body
            assert await status_of(core, 1) == current
        else:
            assert "is now" in sent[0].body, sent[0].body
            current = expected
            assert await status_of(core, 1) == current


async def test_history_records_who_what_when_comment_and_event(core: BotCore) -> None:
    await seed(core)
    await core.say(OWNER, "!actions done A-1 -- sent round", room_id=DM, event_id="$done1")
    rows = await core.query(
        "SELECT actor, action, old, new, detail, event_id FROM history "
        "WHERE object = 'A-1' ORDER BY id"
    )
    assert [tuple(r) for r in rows][-1] == (OWNER, "status", "open", "done", "sent round", "$done1")
    audit = await core.query("SELECT actor, action, object, event_id FROM audit WHERE object='A-1'")
    assert (OWNER, "action.done", "A-1", "$done1") in [tuple(r) for r in audit]
    shown = (await core.say(OWNER, "!show A-1", room_id=DM))[0].body
    assert "status: open → done — sent round" in shown
    # A second delivery of the same event changes nothing (exactly once).
    await core.say(OWNER, "!actions status A-1 open", room_id=DM, event_id="$done1")
    assert await status_of(core, 1) == "done"


async def test_overdue_is_derived_in_the_zone_the_date_was_given(core: BotCore) -> None:
    await seed(core)
    await say_ok(core, ADMIN, f"!dir person {SEC} tz=Asia/Tokyo", DM)
    await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-03-05 -- Tokyo deadline")
    # End of 5 March in Tokyo is 14:59:59 UTC.
    row = (await core.query("SELECT due_at, due_zone FROM action_items WHERE id = 3"))[0]
    assert (row[0], row[1]) == ("2026-03-05T14:59:59+00:00", "Asia/Tokyo")
    core.clock.set(datetime(2026, 3, 5, 14, 59, tzinfo=UTC))
    body = (await core.say(SEC, "!actions list S-1 overdue", room_id=ROOM))[0].body
    assert "No action items match" in body
    core.clock.set(datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    body = (await core.say(SEC, "!actions list S-1 overdue", room_id=ROOM))[0].body
    assert "A-3" in body and "OVERDUE" in body and "A-1" not in body
    # The owner (Europe/Paris) reads the date with the zone it was given in.
    shown = (await core.say(OWNER, "!show A-3", room_id=DM))[0].body
    assert "due: 2026-03-05 (Asia/Tokyo)" in shown and "open, OVERDUE" in shown
    # Done items are never overdue.
    await say_ok(core, OWNER, "!actions done A-3", DM)
    body = (await core.say(SEC, "!actions list S-1 overdue", room_id=ROOM))[0].body
    assert "No action items match" in body


def test_parse_due_forms() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
    due = parse_due("2026-12-01", "Europe/Paris", now)
    assert due.all_day and due.at == datetime(2026, 12, 1, 22, 59, 59, tzinfo=UTC)
    due = parse_due("2026-12-01 17:00", "Europe/Paris", now)
    assert not due.all_day and due.at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    due = parse_due("friday", "America/New_York", now)
    assert due.all_day and due.at.astimezone(UTC).date().isoformat() == "2026-03-07"
    due = parse_due("in 3 days", "UTC", now)
    assert due.at.date().isoformat() == "2026-03-05"
    for bad in ("2026-02-30", "someday soon", ""):
        with pytest.raises(ValueError):
            parse_due(bad, "UTC", now)
    assert parse_status("In-Progress") == "in_progress"
    with pytest.raises(ValueError):
        parse_status("finished-ish")


async def test_bad_input_gets_an_example_and_changes_nothing(core: BotCore) -> None:
    await seed(core)
    cases = [
        ("!actions add S-1 @x:test -- no due", "every item needs a due date"),
        ("!actions add S-1 @x:test due=2026-02-01 -- past", "is in the past"),
        ("!actions add S-1 @x:test due=whenever-ish -- bad", "not a date or time I understand"),
        ("!actions add S-1 NO-SUCH-POST due=2026-04-01 -- x", "no post NO-SUCH-POST"),
        ("!actions add S-9 @x:test due=2026-04-01 -- x", "No summit S-9"),
        ("!edit A-1 colour=blue", "Not understood"),
        ("!actions status A-1 finished-ish", "is not a status"),
        ("!actions list S-1 sideways", "Not understood"),
        ("!actions export S-1 pdf", "choose csv or md"),
    ]
    before = await core.count("action_items"), await core.count("history")
    for text, expected in cases:
        body = (await core.say(SEC, text, room_id=ROOM))[0].body
        assert expected in body, (text, body)
        assert "Example:" in body or "No summit" in body, body
    assert (await core.count("action_items"), await core.count("history")) == before


async def test_edit_free_text_and_due_then_reassign_tells_new_owner(core: BotCore) -> None:
    await seed(core)
    sent = await say_ok(core, SEC, "!edit A-1 text=final text, no quotes due=2026-04-02", ROOM)
    assert "changed (text, due)" in sent[0].body
    row = (await core.query("SELECT text, due_at FROM action_items WHERE id = 1"))[0]
    assert row[0] == "final text, no quotes" and row[1].startswith("2026-04-02")
    sent = await say_ok(core, SEC, "!actions reassign A-1 FR-PARIS -- Paris leads", ROOM)
    dms = [m for m in sent if m.user_id == PARIS]
    assert dms and "A-1 was assigned to you" in dms[0].body
    fields = [
        r[0]
        for r in await core.query("SELECT action FROM history WHERE object = 'A-1' ORDER BY id")
    ]
    assert fields == ["created", "text", "due", "owner"]


async def test_add_in_summit_room_without_naming_the_summit(core: BotCore) -> None:
    await seed(core)
    sent = await say_ok(core, SEC, "!actions add FR-PARIS due=friday -- brief the DATT", ROOM)
    assert "A-3 added to S-1" in sent[0].body
    body = (await core.say(SEC, "!actions add FR-PARIS due=friday -- x", room_id=DM))[0].body
    assert "name the summit" in body


async def test_list_is_sorted_paged_filtered_and_escaped(core: BotCore) -> None:
    await seed(core)
    for day in range(25, 1, -1):  # 24 more items, added in reverse due order
        text = f"item <b>{day}</b>" if day == 3 else f"item {day}"
        await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-04-{day:02d} -- {text}")
    first = (await core.say(MEMBER_IN_ROOM, "!actions list", room_id=ROOM))[0]
    lines = [ln for ln in first.body.splitlines() if ln.startswith("A-")]
    assert len(lines) == 20 and "page 1 of 2" in first.body and "page=2" in first.body
    dues = [ln.split("due: ")[1].split()[0] for ln in lines]  # one labelled row per item
    assert dues == sorted(dues) and dues[0] == "2026-03-20"
    assert "&lt;b&gt;3&lt;/b&gt;" in first.html and "<b>3</b>" not in first.html
    second = (await core.say(MEMBER_IN_ROOM, "!actions list page=2", room_id=ROOM))[0]
    assert len([ln for ln in second.body.splitlines() if ln.startswith("A-")]) == 6
    body = (await core.say(SEC, "!actions list S-1 owner=FR-PARIS", room_id=ROOM))[0].body
    assert "A-2" in body and "A-1 " not in body
    body = (await core.say(SEC, "!actions list S-1 before=2026-04-03", room_id=ROOM))[0].body
    refs = {ln.split()[0] for ln in body.splitlines() if ln.startswith("A-")}
    assert refs == {"A-1", "A-2", "A-26"}  # due 03-20, 03-25, 04-02 (04-03 is not before)
    await say_ok(core, OWNER, "!actions done A-1", DM)
    body = (await core.say(SEC, "!actions list S-1 status=done", room_id=ROOM))[0].body
    assert {ln.split()[0] for ln in body.splitlines() if ln.startswith("A-")} == {"A-1"}


MEMBER_IN_ROOM = "@member:test"


async def test_closed_summit_refuses_changes_and_stops_nudges(core: BotCore) -> None:
    await seed(core)
    assert await core.query("SELECT COUNT(*) FROM jobs WHERE state='pending'") != [(0,)]
    await say_ok(core, SEC, "!summit close S-1 -- over", ROOM)
    pending = await core.query("SELECT kind, ref FROM jobs WHERE state = 'pending'")
    assert pending == []
    body = (await core.say(SEC, f"!actions add S-1 {OWNER} due=2026-04-01 -- x"))[0].body
    assert "S-1 is closed" in body
    body = (await core.say(OWNER, "!actions done A-1", room_id=DM))[0].body
    assert "S-1 is closed" in body


async def test_summit_edit_show_and_list(core: BotCore) -> None:
    await seed(core)
    await say_ok(core, SEC, "!edit S-1 name=NATO Defence Ministers tz=Asia/Tokyo to=2026-03-13")
    row = (await core.query("SELECT name, timezone, ends_on FROM summits WHERE id = 1"))[0]
    assert tuple(row) == ("NATO Defence Ministers", "Asia/Tokyo", "2026-03-13")
    jobs = await core.query(
        "SELECT due_at FROM jobs WHERE kind = 'action.digest' AND state = 'pending'"
    )
    assert [r[0] for r in jobs] == ["2026-03-03T00:00:00+00:00"]  # 09:00 in Tokyo, Tuesday
    body = (await core.say(SEC, "!summit edit S-1 to=2026-03-01", room_id=ROOM))[0].body
    assert "ends before it starts" in body
    shown = (await core.say(MEMBER_IN_ROOM, "!show S-1", room_id=ROOM))[0].body
    assert "2 open, 0 in progress, 0 done, 0 cancelled; 0 overdue" in shown
    listed = (await core.say(MEMBER_IN_ROOM, "!summit list", room_id=ROOM))[0].body
    assert "S-1" in listed and "NATO Defence Ministers" in listed
    elsewhere = (await core.say(MEMBER_IN_ROOM, "!summit list", room_id=DM))[0].body
    assert "No summits you can see" in elsewhere


async def test_summit_room_must_be_encrypted_when_opened_or_edited(core: BotCore) -> None:
    """Checked when set, with an example; nothing changes (the send-time check is below)."""
    await seed(core)
    await core.bot_in_room("!plain:test", encrypted=False)
    opened = (await core.say(SEC, "!summit open Other room=!plain:test", room_id=ROOM))[0].body
    assert "not end-to-end encrypted" in opened and "Example: !summit open" in opened
    edited = (await core.say(SEC, "!summit edit S-1 room=!plain:test", room_id=ROOM))[0].body
    assert "not end-to-end encrypted" in edited and "Example:" in edited
    rows = await core.query("SELECT id, room_id FROM summits")
    assert [tuple(r) for r in rows] == [(1, ROOM)]


@pytest.mark.parametrize("page", ["99999999999999999999", "²", "0"])
async def test_a_page_number_out_of_reach_is_a_usage_error(core: BotCore, page: str) -> None:
    """A page past what SQL can count (OFFSET beyond 64 bits) was an internal error."""
    await seed(core)
    [reply] = await core.say(SEC, f"!actions list S-1 page={page}", room_id=ROOM)
    assert "went wrong" not in reply.body
    assert reply.body.startswith(f"page: {page!r} is not a page number (1, 2, 3 …)"), reply.body
