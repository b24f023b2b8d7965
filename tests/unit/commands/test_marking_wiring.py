"""Markings wired into the domains: directory nations and clearances, marking=/rel= options,
the ceiling, room defaults, listings and exports (fake clock, real store on each backend)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from commands.directory.store import load_seed
from commands.markings import Marking, Policy
from commands.outbox_row import Queued
from tests.harness.fakes import BotCore, FakeClock, FakeTransport

ADMIN = "@admin:test"
DM = "!dm:test"
FR = "@fr:test"
DE = "@de:test"
US = "@us:test"
POST_ROOM = "!paris:test"


@pytest.fixture
async def mcore(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    """A deployment with three levels (ceiling RESTRICTED) and a group."""
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=store_url,
        admins=[ADMIN],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"],
        max_marking="CONFIDENTIAL",
        marking_groups={"FVEY": ["USA", "GBR", "CAN", "AUS", "NZL"]},
    ).open()
    try:
        yield bot
    finally:
        await bot.close()


async def ok(core: BotCore, sender: str, text: str, room: str = DM) -> list:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])
    return sent


async def refused(core: BotCore, sender: str, text: str, room: str = DM) -> str:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "user_error", (text, [m.body for m in sent])
    return sent[-1].body


# -- directory -----------------------------------------------------------------------------


async def test_dir_person_nation_and_clearance_shown_by_whois(mcore: BotCore) -> None:
    await ok(mcore, ADMIN, f"!dir person {FR} nation=fra clearance=restricted")
    async with mcore.store.write() as db:  # their own clearance, in their direct chat
        await db.execute("INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?)", (FR, DM))
    body = (await mcore.say(FR, "!whois", room_id=DM))[0].body
    assert "nation: FRA (France)" in body and "clearance: RESTRICTED" in body
    rows = await mcore.query("SELECT nation, clearance FROM people WHERE user_id = ?", FR)
    assert tuple(rows[0]) == ("FRA", "RESTRICTED")
    # A clearance above the ceiling is what the person holds: allowed.
    await ok(mcore, ADMIN, f"!dir person {FR} clearance=SECRET")
    await ok(mcore, ADMIN, f"!dir person {FR} nation=- clearance=-")
    rows = await mcore.query("SELECT nation, clearance FROM people WHERE user_id = ?", FR)
    assert tuple(rows[0]) == (None, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"!dir person {FR} nation=FR", "for France write FRA"),
        (f"!dir person {FR} nation=FRANCE", "ISO 3166-1 alpha-3"),
        (f"!dir person {FR} clearance=COSMIC", "is not a marking level here"),
        ("!dir post FR-PARIS nation=XXX", "ISO 3166-1 alpha-3"),
    ],
)
async def test_dir_bad_nation_or_clearance_is_refused_and_nothing_changes(
    mcore: BotCore, text: str, says: str
) -> None:
    body = await refused(mcore, ADMIN, text)
    assert says in body and "Example:" in body
    assert await mcore.count("people") == 0 and await mcore.count("posts") == 0


async def test_dir_post_nation_and_default_marking(mcore: BotCore) -> None:
    await ok(mcore, ADMIN, "!dir post DE-BERLIN nation=DEU marking=RESTRICTED rel=DEU,FRA")
    body = (await mcore.say(ADMIN, "!whois DE-BERLIN", room_id=DM))[0].body
    assert "nation: DEU (Germany)" in body
    assert "default marking: RESTRICTED // REL TO DEU, FRA" in body
    body = await refused(mcore, ADMIN, "!dir post DE-BERLIN marking=SECRET rel=DEU")
    assert "at most CONFIDENTIAL" in body
    await ok(mcore, ADMIN, "!dir post DE-BERLIN marking=-")
    assert "default marking: -" in (await mcore.say(ADMIN, "!whois DE-BERLIN", room_id=DM))[0].body


async def test_seed_carries_nation_and_clearance(mcore: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "posts:\n  - code: FR-PARIS\n    nation: fra\n    members: ['@fr:test']\n"
        "people:\n  - id: '@fr:test'\n    nation: FRA\n    clearance: restricted\n"
    )
    async with mcore.store.write() as db:
        await load_seed(db, path, mcore.clock.now(), levels=["UNCLASSIFIED", "RESTRICTED"])
    assert [tuple(r) for r in await mcore.query("SELECT nation FROM posts")] == [("FRA",)]
    rows = await mcore.query("SELECT nation, clearance FROM people")
    assert [tuple(r) for r in rows] == [("FRA", "RESTRICTED")]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("people: [{id: '@a:test', nation: FR}]", r"people\[0\].nation"),
        ("posts: [{code: FR-PARIS, nation: Frankreich}]", r"posts\[0\].nation"),
        ("people: [{id: '@a:test', clearance: COSMIC}]", r"people\[0\].clearance"),
    ],
)
async def test_bad_seed_nation_or_clearance_names_the_entry(
    mcore: BotCore, tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        async with mcore.store.write() as db:
            await load_seed(db, path, mcore.clock.now(), levels=["UNCLASSIFIED", "RESTRICTED"])
    assert await mcore.count("people") == 0 and await mcore.count("posts") == 0


# -- the outbox, for real, behind the commands ---------------------------------------------


async def drain(core: BotCore, transport: FakeTransport) -> None:
    """Send every pending outbox row through the real outbox to the fake homeserver."""
    await core.drain_outbox(transport, policy=Policy.from_settings(core.settings))


def saw(transport: FakeTransport, user_id: str, text: str) -> bool:
    return any(text in json.dumps(c, ensure_ascii=False) for c in transport.received_by(user_id))


def bodies(transport: FakeTransport, user_id: str) -> list[str]:
    return [str(c.get("body", "")) for c in transport.received_by(user_id)]


async def markings_of(core: BotCore, since: int = 0) -> list[tuple[str | None, Any, Any]]:
    """(recipient, marking, about) of every queued row after `since`."""
    rows = await core.query(
        "SELECT id, room_id, user_id, content FROM outbox WHERE id > ? ORDER BY id", since
    )
    out = []
    for row in rows:
        meta = Queued.loads(row[3])
        out.append((row[2] or row[1], meta.marking, meta.about))
    return out


RQ = "@rq:test"  # a French requester
SUBJECT = "Convoy route north"
BANNER = "RESTRICTED // REL TO FRA, DEU"


async def berlin(core: BotCore, room: str | None = None) -> None:
    """DE-BERLIN with a French, a German and an American member (and a French requester)."""
    for user, nation in ((FR, "FRA"), (DE, "DEU"), (US, "USA"), (RQ, "FRA")):
        await ok(core, ADMIN, f"!dir person {user} nation={nation}")
    extra = ""
    if room:
        await core.bot_in_room(room)
        extra = f" room={room}"
    await ok(core, ADMIN, f"!dir post DE-BERLIN nation=DEU members={FR},{DE},{US}{extra}")


async def test_marked_request_reaches_only_the_covered_and_names_the_excluded(
    mcore: BotCore,
) -> None:
    await berlin(mcore)
    await ok(
        mcore, RQ, f"!request DE-BERLIN {SUBJECT} -- via the pass marking=restricted rel=FRA,DEU"
    )
    rows = await mcore.query("SELECT marking FROM liaison_requests")
    assert json.loads(rows[0][0]) == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    queued = await markings_of(mcore)
    roots = [q for q in queued if q[0] in (FR, DE, US)]
    assert len(roots) == 3 and all(q[1] is not None and q[2] == "LR-1" for q in roots)
    transport = FakeTransport()
    await drain(mcore, transport)
    assert not transport.received_by(US)  # nothing at all, not even the subject
    for user in (FR, DE):
        got = bodies(transport, user)
        assert any(b.startswith(f"{BANNER}\nLR-1") and SUBJECT in b for b in got)
    told = [b for b in bodies(transport, RQ) if "I did not send" in b]
    assert told == [
        f"{BANNER}: I did not send LR-1 to {US}: their nation (USA) is not in REL TO FRA, DEU."
    ]
    hist = await mcore.query("SELECT action, detail FROM history WHERE object = 'LR-1'")
    assert ("withheld", f"not sent to {US}: their nation (USA) is not in REL TO FRA, DEU") in [
        tuple(r) for r in hist
    ]
    # A reply in the thread is relayed with the marking, and only where the request may go.
    await ok(mcore, DE, "!reply LR-1 Route confirmed for Tuesday")
    await drain(mcore, transport)
    assert saw(transport, RQ, "Route confirmed") and saw(transport, FR, "Route confirmed")
    assert not transport.received_by(US)
    assert any(b.startswith(BANNER) and "Route confirmed" in b for b in bodies(transport, FR))


async def test_marked_request_to_a_post_room_with_an_uncovered_member(mcore: BotCore) -> None:
    await berlin(mcore, room=POST_ROOM)
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FRA,DEU")
    transport = FakeTransport({POST_ROOM: [FR, DE, US]})
    await drain(mcore, transport)
    room = [c["body"] for r, c in transport.sent if r == POST_ROOM]
    assert room and all(SUBJECT not in b for b in room)
    assert any("LR-1 (RESTRICTED // REL TO FRA, DEU) is not shown in this room" in b for b in room)
    assert any(b.startswith(BANNER) and SUBJECT in b for b in bodies(transport, FR))
    assert not any(SUBJECT in b for b in bodies(transport, US))


async def test_request_ceiling_and_bad_rel_refused_nothing_created(mcore: BotCore) -> None:
    await berlin(mcore)
    body = await refused(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=SECRET rel=FRA")
    assert "at most CONFIDENTIAL" in body and "Example:" in body
    body = await refused(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FR")
    assert "for France write FRA" in body
    body = await refused(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED")
    assert "must say who it is releasable to" in body
    assert await mcore.count("liaison_requests") == 0


async def test_request_takes_the_post_default_then_the_deployment_default(
    mcore: BotCore,
) -> None:
    await berlin(mcore)
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT}")
    await ok(mcore, ADMIN, "!dir post DE-BERLIN marking=RESTRICTED rel=DEU")
    # The post's default would not cover the French requester: refused, not half-sent.
    body = await refused(mcore, RQ, f"!request DE-BERLIN {SUBJECT}")
    assert "rel=DEU does not include your own nation (FRA)" in body
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} rel=FRA,DEU")
    await ok(mcore, ADMIN, "!dir post DE-BERLIN marking=RESTRICTED rel=FRA,DEU")
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT}")
    rows = [r[0] for r in await mcore.query("SELECT marking FROM liaison_requests ORDER BY id")]
    assert rows[0] is None
    assert json.loads(rows[1]) == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    assert json.loads(rows[2]) == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}


async def test_requests_listing_shows_the_marking_and_hides_content_from_rooms(
    mcore: BotCore,
) -> None:
    await berlin(mcore)
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FRA,DEU")
    await ok(mcore, RQ, "!request DE-BERLIN Parking")
    in_room = (await mcore.say(RQ, "!requests", room_id="!group:test"))[0].body
    assert "RESTRICTED // REL TO FRA, DEU" in in_room and SUBJECT not in in_room
    assert "Parking" in in_room
    for user in (RQ, US):
        await mcore.dm_with(user, f"!dm-{user}")
    mine = (await mcore.say(RQ, "!requests", room_id=f"!dm-{RQ}"))[0].body
    assert SUBJECT in mine and "RESTRICTED // REL TO FRA, DEU" in mine
    theirs = (await mcore.say(US, "!requests", room_id=f"!dm-{US}"))[0].body
    assert "LR-1" not in theirs and "LR-2" in theirs


# -- action items and summits --------------------------------------------------------------

SEC = "@sec:test"
SUMMIT_ROOM = "!summit:test"
TASK = "brief the convoy escort"
A_BANNER = "RESTRICTED // REL TO FRA, DEU"


async def summit(core: BotCore, options: str = "") -> None:
    """S-1 in a room with a French owner, a German and an American member."""
    await berlin(core)
    await ok(core, ADMIN, f"!dir person {SEC} role=secretariat nation=FRA")
    await ok(core, SEC, f'!summit open "DefMin" from=2026-03-10 {options}'.strip(), SUMMIT_ROOM)


async def test_marked_item_room_gets_a_notice_owner_gets_it_by_dm(mcore: BotCore) -> None:
    await summit(mcore)
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    rows = await mcore.query("SELECT marking FROM action_items")
    assert json.loads(rows[0][0]) == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR, DE, US]})
    await drain(mcore, transport)
    room = [str(c["body"]) for r, c in transport.sent if r == SUMMIT_ROOM]
    assert not any(TASK in b for b in room)
    assert any(f"A-1 ({A_BANNER}) is not shown in this room" in b for b in room)
    owner = bodies(transport, FR)
    assert any(b.startswith(A_BANNER) and TASK in b and "You own A-1" in b for b in owner)
    assert not any(TASK in b for b in bodies(transport, US))
    told = [b for b in bodies(transport, SEC) if "I did not send" in b]
    assert told and US in told[0] and "their nation (USA)" in told[0]


async def test_item_takes_the_summit_default_and_the_ceiling_holds(mcore: BotCore) -> None:
    await summit(mcore, "marking=RESTRICTED rel=FRA,DEU")
    assert "default marking: RESTRICTED // REL TO FRA, DEU" in (
        (await mcore.say(SEC, "!show S-1", room_id=SUMMIT_ROOM))[0].body
    )
    await ok(mcore, SEC, f"!actions add S-1 {FR} due=2026-03-20 -- {TASK}", SUMMIT_ROOM)
    await ok(mcore, SEC, f"!actions add S-1 {FR} due=2026-03-20 rel=FRA,FVEY -- other", SUMMIT_ROOM)
    body = await refused(
        mcore, SEC, f"!actions add S-1 {FR} due=2026-03-20 marking=SECRET -- x", SUMMIT_ROOM
    )
    assert "at most CONFIDENTIAL" in body
    rows = [r[0] for r in await mcore.query("SELECT marking FROM action_items ORDER BY id")]
    assert [json.loads(r) for r in rows] == [
        {"level": "RESTRICTED", "rel": ["FRA", "DEU"]},
        {"level": "RESTRICTED", "rel": ["FRA", "FVEY"]},
    ]
    await ok(mcore, SEC, "!summit edit S-1 marking=-", SUMMIT_ROOM)
    await ok(mcore, SEC, f"!actions add S-1 {FR} due=2026-03-20 -- plain", SUMMIT_ROOM)
    rows = await mcore.query("SELECT marking FROM action_items WHERE id = 3")
    assert rows[0][0] is None


async def test_actions_list_and_digest_show_marked_lines_only_where_they_may(
    mcore: BotCore,
) -> None:
    await summit(mcore)
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, SEC, f"!actions add S-1 {DE} due=2026-03-21 -- book the venue", SUMMIT_ROOM)
    listing = (await mcore.say(SEC, "!actions list", room_id=SUMMIT_ROOM))[0].body
    assert "A-1" in listing and A_BANNER in listing and TASK not in listing
    assert "book the venue" in listing
    await mcore.dm_with(FR, "!d:t")
    mine = (await mcore.say(FR, "!actions list mine", room_id="!d:t"))[0].body
    assert TASK in mine and A_BANNER in mine
    mcore.clock.advance(days=1)
    digest = [m for m in await mcore.fire_due() if m.room_id == SUMMIT_ROOM]
    assert digest and TASK not in digest[0].body and "A-1" in digest[0].body
    assert "book the venue" in digest[0].body and A_BANNER in digest[0].body


async def test_remarking_an_item_tells_who_lost_it_and_delivers_to_the_newly_covered(
    mcore: BotCore,
) -> None:
    await summit(mcore)
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 DE-BERLIN due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, DE, "!actions comment A-1 -- on it", SUMMIT_ROOM)
    # Narrowing to FRA: the post still has a French member; its German member had it and is
    # no longer covered. (A person owner it would exclude is refused: test_no_trace.py.)
    before = (await mcore.query("SELECT MAX(id) FROM outbox"))[0][0]
    sent = await ok(mcore, SEC, "!edit A-1 rel=FRA", SUMMIT_ROOM)
    told = [m for m in sent if m.user_id == DE]
    assert len(told) == 1 and "re-marked RESTRICTED // REL TO FRA" in told[0].body
    assert TASK not in told[0].body
    assert all(q[1] is not None for q in await markings_of(mcore, before) if q[0] != DE)
    hist = await mcore.query("SELECT action, old, new FROM history WHERE object = 'A-1'")
    assert ("marking", "RESTRICTED // REL TO FRA, DEU", "RESTRICTED // REL TO FRA") in [
        tuple(r) for r in hist
    ]
    # Widening to FRA,DEU: the German owner is covered again and gets the item.
    sent = await ok(mcore, SEC, "!edit A-1 rel=FRA,DEU", SUMMIT_ROOM)
    again = [m for m in sent if m.user_id == DE]
    assert len(again) == 1 and TASK in again[0].body and "now releasable to you" in again[0].body
    body = await refused(mcore, SEC, "!edit A-1 marking=SECRET", SUMMIT_ROOM)
    assert "at most CONFIDENTIAL" in body


async def test_exports_carry_the_marking(mcore: BotCore) -> None:
    await summit(mcore)
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, SEC, f"!actions add S-1 {DE} due=2026-03-21 -- book the venue", SUMMIT_ROOM)
    sent = await ok(mcore, SEC, "!actions export S-1 csv", SUMMIT_ROOM)
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode("utf-8"))))
    assert rows[0][-1] == "marking"
    assert {r[0]: r[-1] for r in rows[1:]} == {"A-1": A_BANNER, "A-2": ""}
    # The file as a whole carries the marking: the outbox routes it like the item.
    queued = await markings_of(mcore, sent[1].id - 1)
    assert queued[-1][1] == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    sent = await ok(mcore, SEC, "!actions export S-1 md", SUMMIT_ROOM)
    text = sent[1].attachment.decode("utf-8").strip().splitlines()
    assert text[0] == "**RESTRICTED // REL TO FRA, DEU**" == text[-1]
    assert any("**A-1** [RESTRICTED // REL TO FRA, DEU]" in line for line in text)


async def test_meeting_marking_listing_ics_and_reminder(mcore: BotCore) -> None:
    await berlin(mcore)
    await ok(
        mcore,
        RQ,
        f"!meeting 2026-03-05 10:00 with={FR},{DE} marking=RESTRICTED rel=FRA,DEU -- {SUBJECT}",
        SUMMIT_ROOM,
    )
    rows = await mcore.query("SELECT marking FROM schedule_items")
    assert json.loads(rows[0][0]) == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    body = await refused(mcore, RQ, "!visit 2026-03-05 11:00 marking=SECRET rel=FRA -- x")
    assert "at most CONFIDENTIAL" in body
    agenda = (await mcore.say(RQ, "!agenda 30", room_id=SUMMIT_ROOM))[0].body
    assert "M-1" in agenda and BANNER in agenda and SUBJECT not in agenda
    sent = await ok(mcore, RQ, "!ics M-1", SUMMIT_ROOM)
    cal = sent[0].attachment.decode("utf-8")
    assert "CLASS:CONFIDENTIAL" in cal
    assert "SUMMARY:[RESTRICTED // REL TO FRA\\, DEU] M-1 Convoy route north" in cal
    assert (await markings_of(mcore, sent[0].id - 1))[-1][1] is not None
    mcore.clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    fired = await mcore.fire_due()
    reminders = [m for m in fired if m.room_id == SUMMIT_ROOM]
    assert reminders
    queued = await markings_of(mcore, reminders[0].id - 1)
    assert queued[0][1] == {"level": "RESTRICTED", "rel": ["FRA", "DEU"]} and queued[0][2] == "M-1"


async def test_remarking_a_meeting_tells_the_participant_who_lost_it(mcore: BotCore) -> None:
    await berlin(mcore)
    await ok(
        mcore,
        RQ,
        f"!meeting 2026-03-05 10:00 with={FR},{DE} marking=RESTRICTED rel=FRA,DEU -- {SUBJECT}",
        SUMMIT_ROOM,
    )
    # Narrowing to FRA would exclude the German participant: refused, nothing changes.
    body = await refused(mcore, RQ, "!edit M-1 rel=FRA", SUMMIT_ROOM)
    assert f"Not releasable to {DE}" in body and "USA" not in body
    assert "Example: !edit M-1 marking=RESTRICTED rel=FRA,DEU" in body
    # With the post instead: its French member is covered, its German member is told.
    await ok(mcore, RQ, "!edit M-1 with=DE-BERLIN", SUMMIT_ROOM)
    sent = await ok(mcore, RQ, "!edit M-1 rel=FRA", SUMMIT_ROOM)
    told = [m for m in sent if m.user_id == DE]
    assert len(told) == 1 and "re-marked" in told[0].body and SUBJECT not in told[0].body
    assert not [m for m in sent if m.user_id == FR]  # still covered: nothing new
    sent = await ok(mcore, RQ, "!edit M-1 rel=FRA,DEU", SUMMIT_ROOM)
    again = [m for m in sent if m.user_id == DE]
    assert len(again) == 1 and SUBJECT in again[0].body


def test_combine_takes_the_highest_level_and_the_common_nations() -> None:
    policy = Policy(
        levels=("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"),
        groups={"FVEY": frozenset({"USA", "GBR", "CAN", "AUS", "NZL"})},
    )
    r_fra_deu = Marking("RESTRICTED", ("FRA", "DEU"))
    assert policy.combine([None, None]) is None
    assert policy.combine([None, r_fra_deu, r_fra_deu]) == r_fra_deu
    both = policy.combine([r_fra_deu, Marking("CONFIDENTIAL", ("FRA", "GBR"))])
    assert both == Marking("CONFIDENTIAL", ("FRA",))
    group = policy.combine([Marking("RESTRICTED", ("FVEY",)), Marking("RESTRICTED", ("GBR",))])
    assert group == Marking("RESTRICTED", ("GBR",))
    none_common = policy.combine([r_fra_deu, Marking("RESTRICTED", ("USA",))])
    assert none_common is not None and not policy.nations_of(none_common.rel)


async def test_export_holds_only_what_is_released_to_the_sender(
    mcore: BotCore,
) -> None:
    await summit(mcore)
    for rel, owner in (("FRA", FR), ("USA", US)):
        # The secretary's nation changes between the two (a creator must be covered).
        await ok(mcore, ADMIN, f"!dir person {SEC} nation={rel}")
        await ok(
            mcore,
            SEC,
            f"!actions add S-1 {owner} due=2026-03-20 marking=RESTRICTED rel={rel} -- {TASK}",
            SUMMIT_ROOM,
        )
    await ok(mcore, ADMIN, f"!dir person {SEC} nation=FRA")
    # What is not released to the French secretary is not there for them, in a room too:
    # the file holds A-1 alone (so its nations are in common), and no count includes A-2.
    sent = await ok(mcore, SEC, "!actions export S-1 csv", SUMMIT_ROOM)
    assert sent[0].body.startswith("S-1: 1 action item(s)")
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode("utf-8"))))
    assert [r[0] for r in rows[1:]] == ["A-1"]
    await mcore.dm_with(SEC, "!d:t")
    sent = await ok(mcore, SEC, "!actions export S-1 csv", "!d:t")
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode("utf-8"))))
    assert [r[0] for r in rows[1:]] == ["A-1"]  # only what is releasable to a French reader


async def test_an_uncovered_member_of_a_post_is_excluded_and_named(mcore: BotCore) -> None:
    await berlin(mcore)
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FRA,DEU")
    transport = FakeTransport()
    await drain(mcore, transport)
    assert not transport.received_by(US) and US not in transport.dms
    told = [b for b in bodies(transport, RQ) if "I did not send LR-1" in b]
    assert len(told) == 1 and US in told[0] and "their nation (USA)" in told[0]
    # In the request's thread (the requester's root), not loose in a room.
    root = (await mcore.query("SELECT event_id FROM outbox WHERE key = ?", f"LR-1:{RQ}"))[0][0]
    notice = next(c for _, c in transport.sent if "I did not send" in str(c.get("body")))
    assert notice["m.relates_to"]["rel_type"] == "m.thread"
    assert notice["m.relates_to"]["event_id"] == root
    hist = await mcore.query("SELECT action FROM history WHERE object = 'LR-1'")
    assert "withheld" in [r[0] for r in hist]


# -- gaps a security officer flags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "room", "what"),
    [
        (f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=DEU", DM, "request"),
        ("!meeting 2026-03-05 10:00 marking=RESTRICTED rel=DEU -- x", SUMMIT_ROOM, "meeting"),
        ("!visit 2026-03-05 10:00 marking=RESTRICTED rel=DEU -- x", SUMMIT_ROOM, "visit"),
        ('!summit open "Other" from=2026-03-10 marking=RESTRICTED rel=DEU', DM, "summit"),
        (f"!actions add S-1 {FR} due=2026-03-20 rel=DEU -- x", SUMMIT_ROOM, "action item"),
    ],
)
async def test_a_rel_without_the_creators_own_nation_is_refused(
    mcore: BotCore, text: str, room: str, what: str
) -> None:
    await summit(mcore, "marking=RESTRICTED rel=FRA,DEU")
    sender = SEC if what in ("summit", "action item") else RQ
    body = await refused(mcore, sender, text, room)
    assert (
        f"rel=DEU does not include your own nation (FRA): you could not read your own {what}"
        in (body)
    )
    assert "rel=FRA,DEU" in body.split("Example:")[1]
    for table in ("liaison_requests", "schedule_items", "action_items"):
        assert await mcore.count(table) == 0
    assert await mcore.count("summits") == 1


async def test_editing_to_a_rel_without_your_nation_is_refused(mcore: BotCore) -> None:
    await summit(mcore)
    await ok(mcore, SEC, f"!actions add S-1 {FR} due=2026-03-20 rel=FRA,DEU -- {TASK}", SUMMIT_ROOM)
    body = await refused(mcore, SEC, "!edit A-1 rel=DEU", SUMMIT_ROOM)
    assert "does not include your own nation (FRA)" in body
    await ok(mcore, RQ, f"!meeting 2026-03-05 10:00 rel=FRA marking=RESTRICTED -- {SUBJECT}")
    body = await refused(mcore, RQ, "!edit M-1 rel=DEU")
    assert "does not include your own nation (FRA)" in body
    body = await refused(mcore, SEC, "!summit edit S-1 marking=RESTRICTED rel=USA", SUMMIT_ROOM)
    assert "does not include your own nation (FRA)" in body
    rows = await mcore.query("SELECT marking FROM action_items")
    assert json.loads(rows[0][0])["rel"] == ["FRA", "DEU"]
    rows = await mcore.query("SELECT marking FROM schedule_items")
    assert json.loads(rows[0][0])["rel"] == ["FRA"]


async def test_a_creator_with_no_nation_cannot_create_a_marked_object(mcore: BotCore) -> None:
    await berlin(mcore)
    nobody = "@nobody:test"
    body = await refused(mcore, nobody, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FRA")
    assert "no nation in the directory" in body and "Ask an admin to set your nation" in body
    body = await refused(mcore, nobody, "!meeting 2026-03-05 10:00 rel=FRA marking=RESTRICTED -- x")
    assert "Ask an admin to set your nation" in body
    assert await mcore.count("liaison_requests") == 0 and await mcore.count("schedule_items") == 0
    await ok(mcore, nobody, f"!request DE-BERLIN {SUBJECT}")  # unmarked: fine


async def test_sent_to_lists_only_the_covered_and_names_the_excluded(mcore: BotCore) -> None:
    await berlin(mcore)
    sent = await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=RESTRICTED rel=FRA,DEU")
    mine = [m.body for m in sent if "Sent to:" in m.body]
    assert len(mine) == 1
    line = next(x for x in mine[0].splitlines() if x.startswith("Sent to:"))
    assert FR in line and DE in line and US not in line
    assert f"Not sent to {US}: their nation (USA) is not in REL TO FRA, DEU" in mine[0]
    # The outbox's notice, if any, names the same person for the same reason.
    transport = FakeTransport()
    await drain(mcore, transport)
    for b in bodies(transport, RQ):
        if "I did not send" in b:
            assert US in b and FR not in b and DE not in b


async def test_meetings_and_visits_take_the_post_default(mcore: BotCore) -> None:
    await berlin(mcore, room=POST_ROOM)
    await ok(mcore, ADMIN, "!dir post DE-BERLIN marking=RESTRICTED rel=FRA,DEU")
    await ok(mcore, RQ, f"!meeting 2026-03-05 10:00 with=DE-BERLIN -- {SUBJECT}")
    await ok(mcore, RQ, f"!visit 2026-03-05 11:00 -- {SUBJECT}", POST_ROOM)
    await ok(mcore, RQ, f"!meeting 2026-03-05 12:00 -- {SUBJECT}")  # neither: deployment's
    await ok(mcore, RQ, f"!meeting 2026-03-05 13:00 with=DE-BERLIN rel=FRA -- {SUBJECT}")
    rows = [r[0] for r in await mcore.query("SELECT marking FROM schedule_items ORDER BY id")]
    want = {"level": "RESTRICTED", "rel": ["FRA", "DEU"]}
    assert json.loads(rows[0]) == want and json.loads(rows[1]) == want
    assert rows[2] is None
    assert json.loads(rows[3]) == {"level": "RESTRICTED", "rel": ["FRA"]}


async def test_whois_shows_clearance_only_to_admins_and_the_person(mcore: BotCore) -> None:
    async with mcore.store.write() as db:
        for user in (FR, DE, ADMIN):
            await db.execute("INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?)", (user, DM))
    await ok(mcore, ADMIN, f"!dir person {FR} nation=FRA clearance=RESTRICTED")
    await ok(mcore, ADMIN, f"!dir person {DE} nation=DEU")
    other = (await mcore.say(DE, f"!whois {FR}", room_id=DM))[0].body
    assert "clearance" not in other and "RESTRICTED" not in other and "FRA" in other
    own = (await mcore.say(FR, f"!whois {FR}", room_id=DM))[0].body
    assert "clearance: RESTRICTED" in own
    admin = (await mcore.say(ADMIN, f"!whois {FR}", room_id=DM))[0].body
    assert "clearance: RESTRICTED" in admin
    # In a shared room the reply is read by everyone there: not even the person's own.
    room = (await mcore.say(FR, "!whois", room_id=SUMMIT_ROOM))[0].body
    assert "RESTRICTED" not in room and "ask me in a direct chat" in room


async def test_a_creator_whose_clearance_is_below_the_level_is_refused(mcore: BotCore) -> None:
    await berlin(mcore)
    await ok(mcore, ADMIN, f"!dir person {RQ} clearance=RESTRICTED")
    body = await refused(
        mcore, RQ, f"!request DE-BERLIN {SUBJECT} marking=CONFIDENTIAL rel=FRA,DEU"
    )
    assert "your clearance (RESTRICTED) is below CONFIDENTIAL" in body and "Example:" in body
    assert await mcore.count("liaison_requests") == 0


@pytest.mark.parametrize("listing", ["!requests", "!agenda 30", "!actions list"])
async def test_a_dm_listing_follows_the_markings_of_what_it_holds_when_it_leaves(
    mcore: BotCore, listing: str
) -> None:
    """Issue 22: a listing typed in a DM showed marked lines in full and carried no list of
    the objects it held, so what changed between rendering and sending (the reader's
    nation here; a re-marking, a removed level) did not apply to it: it went out as
    rendered. Now it is routed by the markings of what it holds, at send time."""
    await summit(mcore)
    marked = "marking=RESTRICTED rel=FRA,DEU"
    await ok(mcore, RQ, f"!request DE-BERLIN {SUBJECT} {marked}")
    await ok(mcore, RQ, f"!meeting 2026-03-05 10:00 with={FR} {marked} -- {SUBJECT}", SUMMIT_ROOM)
    await ok(mcore, SEC, f"!actions add S-1 {RQ} due=2026-03-20 {marked} -- {SUBJECT}", SUMMIT_ROOM)
    dm = "!rq-dm:test"
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR, DE, US], dm: [RQ]})
    await drain(mcore, transport)
    await mcore.dm_with(RQ, dm)
    replies = await mcore.say(RQ, listing, room_id=dm)
    assert any(SUBJECT in m.body for m in replies if m.room_id == dm), replies  # for her
    # Before it leaves, her nation is no longer one the objects are released to.
    async with mcore.store.write() as db:
        await db.execute("UPDATE people SET nation = 'USA' WHERE user_id = ?", (RQ,))
    before = len(transport.sent)
    await drain(mcore, transport)
    assert not any(SUBJECT in str(c.get("body", "")) for _r, c in transport.sent[before:])
