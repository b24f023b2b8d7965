"""Markings enforced where messages are sent (bot/outbox/), in process: the outbox runs for
real on a real store; the homeserver is the fake transport. No command is involved: this
is the rule below every command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.outbox.queue import enqueue
from bot.outbox.sending import Outbox
from commands.context import OutMessage, utc_iso
from commands.directory import store as directory
from commands.markings import Marking, Policy
from tests.harness.fakes import BotCore, FakeTransport

POST = "!post:test"
ALICE, FRANZ, UMA, NOBODY = "@alice:test", "@franz:test", "@uma:test", "@nobody:test"
POLICY = Policy(
    levels=("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"),
    groups={"FVEY": frozenset({"USA", "GBR", "CAN", "AUS", "NZL"})},
    max_marking="CONFIDENTIAL",
)
RESTRICTED = Marking("RESTRICTED", ("FRA", "DEU"))
BANNER = "RESTRICTED // REL TO FRA, DEU"
SECRET_SUBJECT = "Convoy route through the northern pass"
ORIGIN = {"user_id": ALICE, "room_id": POST, "reply_to": "$cmd", "thread_root": None}


@pytest.fixture
async def core(tmp_path: Path):
    bot = await open_core(tmp_path)
    yield bot
    await bot.close()


async def open_core(tmp_path: Path) -> BotCore:
    """A store with four people and the objects the messages here are about."""
    bot = await BotCore(tmp_path).open()
    async with bot.store.write() as db:
        for user_id, name, nation, clearance in [
            (ALICE, "Alice", "FRA", None),
            (FRANZ, "Franz", "DEU", "RESTRICTED"),
            (UMA, "Uma", "USA", "CONFIDENTIAL"),
            (NOBODY, None, None, None),
        ]:
            await directory.set_person(
                db, user_id, bot.clock.now(), name=name, nation=nation, clearance=clearance
            )
        # The objects the messages here are about, marked as the messages say (the outbox
        # routes a row by its object's marking as it is when the row is sent).
        now = utc_iso(bot.clock.now())
        await db.execute(
            "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
            "created_at, updated_at, marking) VALUES (4, ?, 'FR-PARIS', 's', 'routine', ?, ?, ?)",
            (ALICE, now, now, Marking.column(RESTRICTED)),
        )
        await db.execute(
            "INSERT INTO summits (id, name, room_id, timezone, created_by, created_at) "
            "VALUES (1, 'S', ?, 'UTC', ?, ?)",
            (POST, ALICE, now),
        )
        await db.execute(
            "INSERT INTO action_items (id, summit_id, text, owner_kind, owner, due_at, "
            "due_zone, created_by, created_at, updated_at, marking) "
            "VALUES (2, 1, 't', 'person', ?, ?, 'UTC', ?, ?, ?, ?)",
            (ALICE, now, ALICE, now, now, Marking.column(Marking("CONFIDENTIAL", ("DEU",)))),
        )
    return bot


async def run(core: BotCore, transport: FakeTransport, messages: list[OutMessage]) -> None:
    async with core.store.write() as db:
        await enqueue(db, messages, utc_iso(core.clock.now()))
    await core.drain_outbox(transport, policy=POLICY)


def marked(body: str, **kw: Any) -> OutMessage:
    html = f"<p>{body}</p>"
    return OutMessage(body=body, html=html, marking=RESTRICTED, about="LR-4", **kw)


def told_privately(transport: FakeTransport) -> list[str]:
    """What the sender (Alice) was told: in her DM, never in the room (issue 22, 8)."""
    return [c["body"] for room, c in transport.sent if room == transport.dms.get(ALICE)]


def anything_of(contents: list[dict[str, Any]], text: str) -> bool:
    return any(text in json.dumps(c) for c in contents)


async def test_dm_to_uncovered_person_is_withheld_and_the_origin_told_by_name(
    core: BotCore,
) -> None:
    transport = FakeTransport({POST: [ALICE]})
    await run(core, transport, [marked(f"LR-4: {SECRET_SUBJECT}", user_id=UMA, origin=ORIGIN)])
    assert not anything_of(transport.received_by(UMA), SECRET_SUBJECT)
    assert UMA not in transport.dms  # not even a DM was opened for it
    assert core.metrics.marking_withheld._value.get() == 1
    rows = await core.query("SELECT state, content, error FROM outbox WHERE user_id = ?", UMA)
    assert rows[0][0] == "failed" and rows[0][1] == "{}" and "withheld" in rows[0][2]
    assert not [c for room, c in transport.sent if room == POST]
    assert told_privately(transport) == [
        f"{BANNER}: I did not send LR-4 to Uma (@uma:test): their nation (USA) is not in "
        "REL TO FRA, DEU."
    ]
    audit = await core.query("SELECT object, detail FROM audit WHERE action = 'marking.withheld'")
    assert [tuple(r) for r in audit] == [
        ("LR-4", f"{BANNER}: not to {UMA}: their nation (USA) is not in REL TO FRA, DEU")
    ]
    assert SECRET_SUBJECT not in json.dumps(
        [list(r) for r in await core.query("SELECT * FROM audit")]
    )


async def test_dm_to_covered_person_carries_the_banner_plain_and_html(core: BotCore) -> None:
    transport = FakeTransport()
    await run(core, transport, [marked("LR-4 <b>x</b> & y", user_id=FRANZ, origin=ORIGIN)])
    [(room, content)] = transport.sent
    assert room == transport.dms[FRANZ]
    assert content["body"] == f"{BANNER}\nLR-4 <b>x</b> & y"
    assert content["formatted_body"].startswith(f"<p><strong>{BANNER}</strong></p><p>")


async def test_clearance_below_the_level_is_withheld(core: BotCore) -> None:
    transport = FakeTransport()
    confidential = Marking("CONFIDENTIAL", ("DEU",))
    msg = OutMessage(body=SECRET_SUBJECT, user_id=FRANZ, marking=confidential, about="A-2")
    await run(core, transport, [msg])
    assert transport.sent == []
    detail = await core.query("SELECT detail FROM audit WHERE action = 'marking.withheld'")
    # The reason never carries the clearance itself (issue 22, 7): not in the audit either.
    assert "their clearance does not cover CONFIDENTIAL" in detail[0][0]
    assert "(RESTRICTED)" not in detail[0][0]


async def test_room_with_uncovered_member_gets_only_the_notice_and_covered_get_dms(
    core: BotCore,
) -> None:
    transport = FakeTransport({POST: [ALICE, FRANZ, UMA]})
    await run(
        core,
        transport,
        [marked(f"LR-4: {SECRET_SUBJECT}", room_id=POST, origin=ORIGIN, mentions=(UMA,))],
    )
    in_room = [c for room, c in transport.sent if room == POST]
    notice = in_room[0]["body"]
    assert notice == (
        f"LR-4 ({BANNER}) is not shown in this room: it is not releasable to everyone here. "
        "The people it is releasable to get it by direct message."
    )
    assert not anything_of(in_room, SECRET_SUBJECT)
    assert in_room[0]["m.mentions"] == {}
    assert core.metrics.marking_withheld._value.get() == 1
    # the covered members by DM, with the banner; the American member nothing of it
    for person in (ALICE, FRANZ):
        dm = [c for room, c in transport.sent if room == transport.dms.get(person)]
        assert dm[0]["body"] == f"{BANNER}\nLR-4: {SECRET_SUBJECT}"
        assert dm[0]["m.mentions"] == {}
    # The sender is told who was left out in her DM; the room (where Uma reads) is not.
    assert [t for t in told_privately(transport) if "I did not send LR-4 to Uma" in t]
    assert not [c for room, c in transport.sent if room == POST and "did not send" in c["body"]]
    assert UMA not in transport.dms
    assert not anything_of(transport.received_by(UMA), SECRET_SUBJECT)
    # the sender, by name and reason, in her DM only
    assert in_room[1:] == []
    assert told_privately(transport)[1:] == [
        f"{BANNER}: I did not send LR-4 to Uma (@uma:test): their nation (USA) is not in "
        "REL TO FRA, DEU."
    ]
    # nothing of the content is left in the store
    rows = await core.query("SELECT content FROM outbox")
    assert not any(SECRET_SUBJECT in r[0] for r in rows)


async def test_room_notice_after_a_crash_is_still_without_content(core: BotCore) -> None:
    """The room's row is rewritten with the DMs in one transaction: a resend after restart
    sends the notice, never the content."""
    transport = FakeTransport({POST: [ALICE, UMA]})

    class Crashing(FakeTransport):
        async def send(
            self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to: Any = None
        ) -> str:
            raise asyncio.CancelledError

    crashing = Crashing({POST: [ALICE, UMA]})
    async with core.store.write() as db:
        await enqueue(db, [marked(SECRET_SUBJECT, room_id=POST)], utc_iso(core.clock.now()))
    outbox = Outbox(core.store, crashing, core.clock, core.metrics, policy=POLICY)
    row = (await core.query("SELECT * FROM outbox WHERE room_id = ?", POST))[0]
    with pytest.raises(asyncio.CancelledError):
        await outbox._deliver(row)
    rows = await core.query("SELECT room_id, user_id, content FROM outbox WHERE state = 'pending'")
    room_rows = [r for r in rows if r[0] == POST]
    assert room_rows and SECRET_SUBJECT not in room_rows[0][2]
    assert [r[1] for r in rows if r[1]] == [ALICE]
    await run(core, transport, [])
    assert not anything_of([c for room, c in transport.sent if room == POST], SECRET_SUBJECT)


async def test_room_all_covered_gets_the_content_with_banner(core: BotCore) -> None:
    transport = FakeTransport({POST: [ALICE, FRANZ]})
    await run(core, transport, [marked(SECRET_SUBJECT, room_id=POST)])
    [(room, content)] = transport.sent
    assert room == POST and content["body"] == f"{BANNER}\n{SECRET_SUBJECT}"
    assert content["formatted_body"] == f"<p><strong>{BANNER}</strong></p><p>{SECRET_SUBJECT}</p>"


async def test_invited_member_counts(core: BotCore) -> None:
    """The transport's member list is joined + invited: an invited uncovered person is
    enough to keep the content out of the room."""
    transport = FakeTransport({POST: [ALICE, FRANZ, NOBODY]})
    await run(core, transport, [marked(SECRET_SUBJECT, room_id=POST)])
    assert not anything_of([c for room, c in transport.sent if room == POST], SECRET_SUBJECT)


async def test_person_with_no_nation_gets_only_unmarked(core: BotCore) -> None:
    transport = FakeTransport()
    await run(
        core,
        transport,
        [
            OutMessage(body="plain reminder", user_id=NOBODY),
            marked(SECRET_SUBJECT, user_id=NOBODY, origin=ORIGIN),
            OutMessage(body="rel only", user_id=NOBODY, marking=Marking("UNCLASSIFIED", ("FVEY",))),
        ],
    )
    got = [c["body"] for c in transport.received_by(NOBODY)]
    assert got == ["plain reminder"]
    assert told_privately(transport) == [
        f"{BANNER}: I did not send LR-4 to @nobody:test: they have no nation in the "
        "directory, so they receive only unmarked items."
    ]


async def test_unknown_person_is_treated_as_having_no_nation(core: BotCore) -> None:
    transport = FakeTransport({POST: [ALICE, "@stranger:test"]})
    await run(core, transport, [marked(SECRET_SUBJECT, room_id=POST)])
    assert not anything_of([c for room, c in transport.sent if room == POST], SECRET_SUBJECT)
    assert "@stranger:test" not in transport.dms


async def test_the_sender_is_told_once_per_object_person_and_reason(core: BotCore) -> None:
    transport = FakeTransport({POST: [ALICE]})
    await run(
        core,
        transport,
        [marked(f"part {n}", user_id=UMA, origin={**ORIGIN, "object": "LR-4"}) for n in (1, 2)],
    )
    assert len(told_privately(transport)) == 1
    assert await core.count("audit WHERE action = 'marking.withheld'") == 2


async def test_unmarked_messages_never_ask_for_members(core: BotCore) -> None:
    class NoMembers(FakeTransport):
        async def room_members(self, room_id: str) -> list[str]:
            raise AssertionError("asked for the members of a room for an unmarked message")

    transport = NoMembers()
    await run(core, transport, [OutMessage(body="hello", room_id=POST)])
    assert [c["body"] for _, c in transport.sent] == ["hello"]


async def test_without_a_policy_a_marked_row_reaches_nobody(core: BotCore) -> None:
    """The outbox without the deployment's policy knows only UNCLASSIFIED: fail closed."""
    transport = FakeTransport({POST: [ALICE]})
    async with core.store.write() as db:
        await enqueue(db, [marked(SECRET_SUBJECT, user_id=ALICE)], utc_iso(core.clock.now()))
    outbox = Outbox(core.store, transport, core.clock, core.metrics)
    row = (await core.query("SELECT * FROM outbox"))[0]
    await outbox._deliver(row)
    assert transport.sent == []


def test_context_send_carries_the_marking_and_remembers_the_sender(tmp_path: Path) -> None:
    """The API the domains use: ctx.send(..., marking=, about=); every part of a long
    message carries the marking; the sender is remembered to be told of exclusions."""
    from datetime import UTC, datetime

    from commands.context import Context, Incoming, Person
    from tests.harness.fakes import make_settings

    ctx = Context(
        db=None,  # type: ignore[arg-type]
        settings=make_settings(tmp_path),
        registry=None,  # type: ignore[arg-type]
        now=datetime(2026, 3, 2, tzinfo=UTC),
        person=Person(ALICE, "Alice", frozenset({"attache"}), "UTC"),
        incoming=Incoming(event_id="$cmd", room_id=POST, sender=ALICE),
    )
    ctx.send("x" * 70_000, room_id=POST, marking=RESTRICTED, about="LR-4")
    assert len(ctx.outbox) > 1
    for msg in ctx.outbox:
        meta = json.loads(msg.to_row()["content"])
        assert meta["marking"] == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
        assert meta["about"] == "LR-4"
        assert meta["origin"]["user_id"] == ALICE and meta["origin"]["object"] == "LR-4"
    plain = OutMessage(body="hi", room_id=POST).to_row()
    assert "marking" not in json.loads(plain["content"])


async def test_a_row_split_once_is_not_split_again(core: BotCore) -> None:
    """A worker that read the row before it was split (a stale read) sends the notice, and
    the covered members do not get the message twice."""
    transport = FakeTransport({POST: [ALICE, UMA]})
    async with core.store.write() as db:
        await enqueue(db, [marked(SECRET_SUBJECT, room_id=POST)], utc_iso(core.clock.now()))
    outbox = Outbox(core.store, transport, core.clock, core.metrics, policy=POLICY)
    stale = (await core.query("SELECT * FROM outbox WHERE room_id = ?", POST))[0]
    await outbox._deliver(stale)
    await outbox._deliver(stale)  # the same, stale, row again
    assert await core.count(f"outbox WHERE user_id = '{ALICE}'") == 1
    assert not anything_of([c for room, c in transport.sent if room == POST], SECRET_SUBJECT)


async def test_banner_comes_before_the_late_note(core: BotCore) -> None:
    transport = FakeTransport()
    msg = marked("Reminder LR-4", user_id=FRANZ)
    msg.late_note_after = 60
    async with core.store.write() as db:
        await enqueue(db, [msg], utc_iso(core.clock.now()))
    core.clock.advance(hours=1)
    await run(core, transport, [])
    [(_, content)] = transport.sent
    assert content["body"].startswith(f"{BANNER}\n(Delivered late")
    assert content["formatted_body"].startswith(f"<p><strong>{BANNER}</strong></p><em>")
