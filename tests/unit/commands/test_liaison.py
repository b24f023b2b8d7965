"""Liaison requests on a real store with a fake clock: routing, relays, privacy, escalation."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.directory import store as directory
from config import ConfigError, load_settings
from tests.harness.fakes import BotCore, Sent

A, B, C, D = "@a:test", "@b:test", "@c:test", "@d:test"
ADMIN = "@admin:test"


async def seed(core: BotCore, room_id: str | None = None) -> None:
    now = core.clock.now()
    async with core.store.write() as db:
        await directory.set_post(db, "DE-BERLIN", now, name="Berlin", room_id=room_id)
        for user_id, name in ((A, "Anna"), (B, "Bernd"), (C, "Clara")):
            await directory.set_person(db, user_id, now, name=name)
        await directory.set_post(db, "DE-BERLIN", now, add=[B, C])


async def make(core: BotCore, text: str = "Visit of the CHOD -- dates?", **kw: str) -> list[Sent]:
    opts = " ".join(f"{k}={v}" for k, v in kw.items())
    return await core.say(A, f"!request DE-BERLIN {text} {opts}".strip())


async def deliver(core: BotCore, number: int = 1) -> dict[str, str]:
    """Pretend the outbox sent every root of LR-n; returns party -> root event ID."""
    rows = await core.query(
        "SELECT key FROM liaison_threads WHERE request_id = ? ORDER BY rowid", number
    )
    roots = {}
    for (key,) in rows:
        party = key.split(":", 1)[1]
        if party.startswith("@"):  # a person's copy goes to their DM: !dm-a:test for @a:test
            await core.dm_with(party, dm(party))
        roots[party] = f"$root-{number}-{party}"
        await core.mark_sent(key, roots[party])
    return roots


def dm(user: str) -> str:
    return f"!dm-{user[1:].split(':')[0]}:test"


async def status(core: BotCore, number: int = 1) -> str:
    return (await core.query("SELECT status FROM liaison_requests WHERE id = ?", number))[0][0]


async def pending_jobs(core: BotCore) -> list[tuple[str, str]]:
    rows = await core.query("SELECT kind, ref FROM jobs WHERE state = 'pending' ORDER BY id")
    return [(r[0], r[1]) for r in rows]


def by_target(sent: list[Sent]) -> dict[str, Sent]:
    return {m.user_id or m.room_id or "": m for m in sent}


@pytest.fixture
async def lr(core: BotCore) -> BotCore:
    await seed(core)
    return core


# -- creating ------------------------------------------------------------------------------


async def test_request_to_a_post_reaches_every_member_as_a_thread_root(lr: BotCore) -> None:
    sent = await make(lr, precedence="priority")
    out = by_target(sent)
    assert set(out) == {B, C, A, "!room:test"}
    for who in (B, C):
        assert out[who].key == f"LR-1:{who}" and out[who].thread_key is None
        assert "LR-1 · priority · from Anna (@a:test) to DE-BERLIN" in out[who].body
        assert "Subject: Visit of the CHOD" in out[who].body and "dates?" in out[who].body
        assert out[who].content["m.mentions"] == {"user_ids": [who]}
    assert out[A].key == f"LR-1:{A}" and "Sent to: Bernd (@b:test), Clara (@c:test)" in out[A].body
    assert out["!room:test"].body.startswith("LR-1 sent to DE-BERLIN (2 people)")
    assert await status(lr) == "open"
    assert await pending_jobs(lr) == [("lr.escalate", "LR-1")]
    audit = await lr.query("SELECT actor, action, object FROM audit")
    assert [tuple(r) for r in audit] == [(A, "lr.created", "LR-1")]


async def test_request_from_the_requesters_dm_makes_the_reply_the_root(lr: BotCore) -> None:
    await lr.dm_with(A, "!dm-a:test")
    sent = await lr.say(A, "!request @b:test Hotel list", room_id="!dm-a:test", event_id="$c1")
    out = by_target(sent)
    assert set(out) == {B, "!dm-a:test"}
    mine = out["!dm-a:test"]
    assert mine.key == f"LR-1:{A}" and mine.reply_to == "$c1" and mine.thread_root is None
    assert "to Bernd (@b:test)" in mine.body


async def test_post_with_a_room_gets_one_root_there_mentioning_all(core: BotCore) -> None:
    await seed(core, room_id="!berlin:test")
    out = by_target(await make(core))
    assert out["!berlin:test"].key == "LR-1:!berlin:test"
    assert out["!berlin:test"].content["m.mentions"] == {"user_ids": [B, C]}
    assert B not in out and C not in out


async def test_requester_who_is_a_member_is_not_an_addressee(lr: BotCore) -> None:
    sent = await lr.say(B, "!request de-berlin Need a car")
    assert {m.user_id for m in sent if m.user_id} == {C, B}  # C's root, and B's own thread
    rows = await lr.query("SELECT user_id FROM liaison_addressees")
    assert [r[0] for r in rows] == [C]


async def test_html_escapes_user_text(lr: BotCore) -> None:
    out = by_target(await make(lr, "<b>x</b> -- <script>alert(1)</script>"))
    assert "<script>" not in out[B].html and "&lt;script&gt;" in out[B].html


async def test_due_is_read_in_the_senders_zone_and_nudged_once(lr: BotCore) -> None:
    await lr.say(A, "!tz Europe/Berlin")
    await make(lr, due="2026-03-04")
    row = await lr.query("SELECT due_at, due_zone FROM liaison_requests")
    assert tuple(row[0]) == ("2026-03-04T22:59:59+00:00", "Europe/Berlin")
    await deliver(lr)
    lr.clock.set(lr.clock.now().replace(day=4, hour=23))
    sent = await lr.fire_due()
    nudges = [m for m in sent if "was due" in m.body]
    assert {m.user_id for m in nudges} == {A, B, C}
    assert all(m.thread_key == f"LR-1:{m.user_id}" for m in nudges)
    assert "Wed 04 Mar 2026 23:59 CET" in by_target(nudges)[A].body
    lr.clock.advance(days=3)
    assert [m for m in await lr.fire_due() if "was due" in m.body] == []


async def test_no_due_nudge_once_answered(lr: BotCore) -> None:
    await make(lr, due="in 2 days")
    await lr.say(B, "!answer LR-1 -- all set")
    lr.clock.advance(days=3)
    assert await lr.fire_due() == []
    assert await pending_jobs(lr) == []


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("!request DE-BERLIN", "Missing subject."),
        ("!request NOWHERE Hello", "No post NOWHERE in the directory."),
        ("!request DE-BERLIN Hi precedence=urgent", "precedence: 'urgent' is not one of"),
        ("!request DE-BERLIN Hi due=someday-ish", "is not a date or time I understand"),
        ("!request DE-BERLIN Hi due=2026-01-01", "is in the past"),
        ("!request DE-BERLIN Hi due=2026-02-30", "'2026-02-30' is not a real date"),
        ("!request @a:test Hi", "You cannot send a request to yourself."),
        ("!request @x:elsewhere Hi", "I cannot reach @x:elsewhere"),
        ("!request @Bad Hi", "to: '@Bad' is not a Matrix ID"),
        ("!request <b> Hi", "to: '<b>' is neither a Matrix ID"),
        ("!request LR-1 Hi", "LR-1 is a request ID: to show it, send !request LR-1 alone"),
        ("!request DE-BERLIN " + "x" * 201, "keep it under 200"),
        ("!ack", "Missing id."),
        ("!ack LR-x", "id: 'LR-x' is not a request ID like LR-3"),
        ("!decline LR-1", "Missing reason."),
        ("!reply LR-1", "Missing text."),
        ("!requests sideways", "which: 'sideways' is not one of incoming, outgoing, all"),
        ("!requests status=pending", "status: 'pending' is not one of"),
    ],
)
async def test_bad_input_says_what_is_wrong_and_changes_nothing(
    lr: BotCore, command: str, expected: str
) -> None:
    sent = await lr.say(A, command)
    assert len(sent) == 1 and expected in sent[0].body, sent[0].body
    # No request is addressed to A: a move's example would name none, so where theirs are.
    moves = command.startswith(("!ack", "!decline", "!reply"))
    next_step = "\nSend !requests for yours." if moves else "Example: !"
    assert next_step in sent[0].body, sent[0].body
    assert await lr.count("liaison_requests") == 0
    assert await lr.count("jobs") == 0 and await lr.count("audit") == 0


async def test_post_without_other_members_is_refused(lr: BotCore) -> None:
    async with lr.store.write() as db:
        await directory.set_post(db, "FR-PARIS", lr.clock.now())
    sent = await lr.say(A, "!request FR-PARIS Hello")
    assert "FR-PARIS has no members in the directory" in sent[0].body
    assert await lr.count("liaison_requests") == 0


# -- privacy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "!request LR-1",
        "!show LR-1",
        "!ack LR-1",
        "!reply LR-1 hello",
        "!close LR-1",
        "!answer LR-1",
        "!decline LR-1 no",
        "!cancel LR-1",
    ],
)
async def test_a_non_party_gets_no_such_request(lr: BotCore, command: str) -> None:
    await make(lr)
    before = await lr.count("history")
    sent = await lr.say(D, command)
    assert [m.body for m in sent] == ["No such request: LR-1. Send !requests for yours."]
    missing = await lr.say(D, command.replace("LR-1", "LR-99"))
    # the same words: no oracle
    assert [m.body for m in missing] == ["No such request: LR-99. Send !requests for yours."]
    assert await lr.count("history") == before and await status(lr) == "open"


async def test_admin_sees_and_may_act_on_any_request(lr: BotCore) -> None:
    await make(lr)
    shown = await lr.say(ADMIN, "!show LR-1")
    assert shown[0].body.startswith("LR-1 · open · routine")
    sent = await lr.say(ADMIN, "!cancel LR-1 -- duplicate")
    assert await status(lr) == "cancelled"
    notices = [m for m in sent if m.user_id]
    assert {m.user_id for m in notices} == {A, B, C}
    assert "cancelled by @admin:test (admin)" in notices[0].body and "duplicate" in notices[0].body


async def test_non_party_thread_reply_is_not_relayed(lr: BotCore) -> None:
    await seed_room_request(lr)
    roots = await deliver(lr)
    sent = await lr.say(D, "me too", room_id="!berlin:test", thread_root=roots["!berlin:test"])
    assert [m.body for m in sent] == ["You are not a party to LR-1; your message was not relayed."]


async def seed_room_request(core: BotCore) -> None:
    async with core.store.write() as db:
        await directory.set_post(db, "UK-LONDON", core.clock.now(), room_id="!berlin:test", add=[B])
    await core.say(A, "!request UK-LONDON Need a car")


# -- relays --------------------------------------------------------------------------------


async def test_thread_reply_is_relayed_to_the_other_side(lr: BotCore) -> None:
    await make(lr)
    roots = await deliver(lr)
    sent = await lr.say(B, "Dates: 12-14 May.", room_id="!dm-b:test", thread_root=roots[B])
    out = by_target(sent)
    assert set(out) == {A, C}  # not back into B's own thread
    assert out[A].thread_key == f"LR-1:{A}"
    assert out[A].body == "Bernd (@b:test), DE-BERLIN on LR-1 (acknowledged):\nDates: 12-14 May."
    assert await status(lr) == "acknowledged"
    assert await pending_jobs(lr) == []  # acknowledged: escalation cancelled
    back = by_target(await lr.say(A, "Thanks!", room_id="!dm-a:test", thread_root=roots[A]))
    assert set(back) == {B, C}
    assert back[B].body == "Anna (@a:test), requester on LR-1:\nThanks!"
    assert back[B].thread_key == f"LR-1:{B}"
    history = await lr.query(
        "SELECT action, detail FROM history WHERE object LIKE 'LR-%' ORDER BY id"
    )
    assert [tuple(h) for h in history][1:] == [
        ("ack", "by replying"),
        ("reply", "Dates: 12-14 May."),
        ("reply", "Thanks!"),
    ]
    audit = await lr.query("SELECT detail FROM audit WHERE action = 'lr.reply'")
    assert all("May" not in r[0] and "Thanks" not in r[0] for r in audit)


async def test_reply_command_relays_too(lr: BotCore) -> None:
    await make(lr)
    sent = await lr.say(C, "!reply LR-1 Which hotel?")
    out = by_target(sent)
    assert out["!room:test"].body == "Relayed on LR-1."
    assert out[A].body.endswith("on LR-1 (acknowledged):\nWhich hotel?")
    assert B in out and C not in out


async def test_plain_reply_to_a_root_is_relayed(lr: BotCore) -> None:
    await make(lr)
    roots = await deliver(lr)
    sent = await lr.say(B, "Noted", room_id="!dm-b:test", reply_to=roots[B])
    assert by_target(sent)[A].body.endswith(":\nNoted")


async def test_replies_in_unknown_threads_are_ignored(lr: BotCore) -> None:
    await make(lr)
    await deliver(lr)
    assert await lr.say(B, "hello", thread_root="$elsewhere") == []
    outcome = await lr.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert outcome[0][0] == "ignored"


async def test_a_reply_in_another_room_to_a_root_is_no_reply_to_it(lr: BotCore) -> None:
    """The root is B's in B's DM; C, no party, points at it from her own DM: the bot says
    nothing that would tell her LR-1 exists; B from another room is not relayed either."""
    await make(lr, "Visit -- dates?")
    roots = await deliver(lr, 1)
    await lr.say(A, "!request @b:test Second -- only for B")
    second = await deliver(lr, 2)
    assert await lr.say(C, "let me see", room_id=dm(C), thread_root=second[B]) == []
    assert await lr.say(C, "let me see", room_id=dm(C), reply_to=second[B]) == []
    assert await lr.say(B, "Noted", room_id="!room:test", thread_root=roots[B]) == []
    assert await status(lr) == "open"


async def test_no_relay_once_closed(lr: BotCore) -> None:
    await make(lr)
    roots = await deliver(lr)
    await lr.say(B, "!ack LR-1")
    await lr.say(A, "!close LR-1")
    sent = await lr.say(B, "late words", room_id="!dm-b:test", thread_root=roots[B])
    assert len(sent) == 1
    assert sent[0].body.startswith("LR-1 is closed; messages are no longer relayed.")


# -- reactions and moves -------------------------------------------------------------------


async def test_check_mark_reaction_acknowledges_once(lr: BotCore) -> None:
    await make(lr)
    roots = await deliver(lr)
    assert await lr.react(A, roots[A], room_id=dm(A)) == []  # the requester's own ✅: nothing
    assert await lr.react(C, roots[C], key="👎", room_id=dm(C)) == []
    # A ✅ in another room that names her root (only the ciphertext can say so) is not on it.
    assert await lr.react(C, roots[C], room_id="!room:test") == []
    assert await status(lr) == "open"
    sent = await lr.react(C, roots[C], room_id=dm(C))
    told = [m for m in sent if m.user_id is not None]
    assert {m.user_id for m in told} == {A, B}
    assert all(m.body == "LR-1 acknowledged by Clara (@c:test)." for m in told)
    # The person who reacted sees it worked: a confirmation in the thread they reacted in.
    [confirmation] = [m for m in sent if m.user_id is None]
    assert confirmation.room_id == dm(C) and confirmation.thread_root == roots[C]
    assert confirmation.body.startswith("LR-1 acknowledged")
    assert "is told" in confirmation.body
    assert await status(lr) == "acknowledged" and await pending_jobs(lr) == []
    assert await lr.react(B, roots[B], room_id=dm(B)) == []  # already acknowledged
    audit = await lr.query("SELECT actor, action, detail FROM audit WHERE action = 'lr.ack'")
    assert [tuple(r) for r in audit] == [(C, "lr.ack", "by reaction")]


async def test_full_path_by_commands_relays_each_change(lr: BotCore) -> None:
    await make(lr)
    sent = by_target(await lr.say(B, "!ack LR-1"))
    assert sent["!room:test"].body == "LR-1 acknowledged; Anna (@a:test) is told."
    assert sent[A].body == "LR-1 acknowledged by Bernd (@b:test)." and C in sent
    sent = by_target(await lr.say(B, "!answer LR-1 -- 12-14 May"))
    assert sent[A].body == "LR-1 answered by Bernd (@b:test).\nNote: 12-14 May"
    sent = by_target(await lr.say(A, "!close LR-1 -- thanks"))
    assert sent[B].body.startswith("LR-1 closed by Anna") and C in sent and A not in sent
    assert await status(lr) == "closed"
    shown = (await lr.say(C, "!request LR-1"))[0].body
    for action in ("created → open", "ack → acknowledged", "answer → answered", "close → closed"):
        assert action in shown


@pytest.mark.parametrize(
    ("who", "command", "expected"),
    [
        (A, "!ack LR-1", "Only an addressee can mark LR-1 acknowledged."),
        (B, "!close LR-1", "Only the requester can mark LR-1 closed."),
        (A, "!close LR-1", "LR-1 is open; it can be closed only when acknowledged or answered."),
        (B, "!cancel LR-1", "Only the requester can mark LR-1 cancelled."),
    ],
)
async def test_illegal_moves_get_a_clear_reply(
    lr: BotCore, who: str, command: str, expected: str
) -> None:
    await make(lr)
    sent = await lr.say(who, command)
    assert len(sent) == 1 and sent[0].body.startswith(expected)
    assert await status(lr) == "open"


async def test_decline_and_then_nothing_moves(lr: BotCore) -> None:
    await make(lr)
    sent = by_target(await lr.say(C, "!decline LR-1 not our area; ask UK-LONDON"))
    assert sent[A].body == "LR-1 declined by Clara (@c:test).\nReason: not our area; ask UK-LONDON"
    again = await lr.say(B, "!ack LR-1")
    assert again[0].body.startswith("LR-1 is already declined; nothing more can change.")


async def test_cancel_through_the_generic_verb(lr: BotCore) -> None:
    await make(lr)
    sent = by_target(await lr.say(A, "!cancel LR-1 -- sorted elsewhere"))
    assert sent["!room:test"].body == "LR-1 cancelled; the addressees are told."
    assert sent[B].body.endswith("Reason: sorted elsewhere")
    assert await pending_jobs(lr) == []


# -- listing -------------------------------------------------------------------------------


async def test_requests_lists_what_the_reader_may_see(lr: BotCore) -> None:
    await make(lr)
    await lr.say(B, "!request @a:test Parking")
    mine = (await lr.say(A, "!requests"))[0].body
    # One labelled row per request (seven columns do not fit a phone as a table).
    assert "LR-1 — dir: out · with: DE-BERLIN" in mine
    assert "LR-2 — dir: in · with: Bernd (@b:test)" in mine
    assert "LR-2" not in (await lr.say(A, "!requests outgoing"))[0].body
    assert "LR-1" not in (await lr.say(A, "!requests incoming"))[0].body
    assert "LR-2" not in (await lr.say(C, "!requests all"))[0].body
    assert "none" in (await lr.say(D, "!requests"))[0].body
    everything = (await lr.say(ADMIN, "!requests all"))[0].body
    assert "LR-1" in everything and "LR-2" in everything
    await lr.say(A, "!cancel LR-1")
    assert "LR-1" not in (await lr.say(A, "!requests"))[0].body
    assert "cancelled" in (await lr.say(A, "!requests status=cancelled"))[0].body


# -- escalation ----------------------------------------------------------------------------


async def test_escalation_resends_then_tells_admins_once_each(lr: BotCore) -> None:
    async with lr.store.write() as db:  # a stored 'admin' role is ignored: config only
        await directory.set_person(db, "@ops:test", lr.clock.now(), roles=["admin"])
    await make(lr, precedence="immediate")
    await deliver(lr)
    lr.clock.advance(minutes=29)
    assert await lr.fire_due() == []
    lr.clock.advance(minutes=1)
    first = by_target(await lr.fire_due())
    assert set(first) == {A, B, C}
    assert first[B].body.startswith(
        "Reminder: LR-1 (immediate) from Anna (@a:test) is not acknowledged after 30 min."
    )
    assert first[B].thread_key == f"LR-1:{B}" and first[B].content["m.mentions"]["user_ids"] == [B]
    assert first[A].body == "LR-1 is not acknowledged after 30 min; I have reminded DE-BERLIN."
    lr.clock.advance(minutes=30)
    second = by_target(await lr.fire_due())
    assert set(second) == {A, B, C, ADMIN}
    assert second[ADMIN].body.startswith(
        "Escalation: LR-1 (immediate) from Anna (@a:test) to "
        "DE-BERLIN is not acknowledged after 1 h and 2 reminders."
    )
    assert second[ADMIN].thread_key is None
    assert second[A].body.endswith("The admins are told.")
    lr.clock.advance(days=5)
    assert await lr.fire_due() == []
    history = await lr.query("SELECT detail FROM history WHERE action = 'escalated' ORDER BY id")
    assert [r[0] for r in history] == ["reminder 1", "reminder 2, admins told"]


async def test_no_escalation_after_acknowledgement(lr: BotCore) -> None:
    await make(lr, precedence="priority")
    lr.clock.advance(hours=7)
    await lr.say(C, "!ack LR-1")
    lr.clock.advance(days=10)
    assert await lr.fire_due() == []


async def test_routine_waits_72_hours_and_a_late_reminder_says_so(lr: BotCore) -> None:
    await make(lr)
    lr.clock.advance(hours=71)
    assert await lr.fire_due() == []
    lr.clock.advance(hours=3)  # the bot was down at the due time
    sent = by_target(await lr.fire_due())
    assert "after 3 d." in sent[B].body
    assert "This reminder is 2 h late: I was offline." in sent[B].body


async def test_escalation_delay_is_configurable(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, liaison_escalation_seconds={"routine": 5}).open()
    try:
        await seed(core)
        assert core.settings.liaison_escalation_seconds["immediate"] == 1800
        await make(core)
        core.clock.advance(seconds=5)
        assert "not acknowledged after 5 s" in by_target(await core.fire_due())[B].body
    finally:
        await core.close()


def test_bad_escalation_settings_are_explained(tmp_path: Path) -> None:
    base = {
        "homeserver": "http://x",
        "user_id": "@bot:test",
        "password": "p",
        "pickle_key": "k" * 20,
    }
    with pytest.raises(ConfigError) as err:
        load_settings(**base, liaison_escalation_seconds={"urgent": 5})
    assert "liaison_escalation_seconds: 'urgent' is not a precedence" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_settings(**base, liaison_escalation_seconds={"routine": 0})
    assert "at least 1 second" in str(err.value)
