"""An item shown anywhere is judged by its marking combined with its summit's (issue 22's
last edge): an item added while its summit was unmarked is marked by its summit once the
summit is, in a room's listing and digest, in an exported file, and a summit's own details
follow its marking in a room (fake clock, real store and outbox on each backend)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from commands.markings import Policy
from tests.harness.fakes import BotCore, FakeTransport
from tests.unit.commands.test_history_markings import mcore
from tests.unit.commands.test_marking_wiring import (
    DE,
    FR,
    SEC,
    SUMMIT_ROOM,
    TASK,
    ok,
    summit,
)

__all__ = ["mcore"]  # the fixture: three levels, ceiling CONFIDENTIAL

BANNER = "RESTRICTED // REL TO FRA"


async def summit_marked_after_its_item(core: BotCore) -> None:
    """A-1 added, unmarked, to an unmarked S-1; then S-1 marked REL TO FRA."""
    await summit(core)
    await ok(core, SEC, f"!actions add S-1 {FR} due=2026-03-20 -- {TASK}", SUMMIT_ROOM)
    await ok(core, SEC, "!summit edit S-1 marking=RESTRICTED rel=FRA", SUMMIT_ROOM)


async def test_a_rooms_listing_shows_the_item_by_id_and_its_summits_marking(
    mcore: BotCore,
) -> None:
    await summit_marked_after_its_item(mcore)
    listing = (await mcore.say(SEC, "!actions list", room_id=SUMMIT_ROOM))[0].body
    assert "A-1" in listing and BANNER in listing and TASK not in listing
    await mcore.dm_with(FR, "!dm-fr:test")
    [mine] = await mcore.say(FR, "!actions list mine", room_id="!dm-fr:test")
    assert TASK in mine.body and BANNER in mine.body


async def test_the_rooms_digest_does_not_show_the_items_text(mcore: BotCore) -> None:
    await summit_marked_after_its_item(mcore)
    mcore.clock.advance(days=1)
    digest = [m for m in await mcore.fire_due() if m.room_id == SUMMIT_ROOM]
    assert digest and "A-1" in digest[0].body and BANNER in digest[0].body
    assert TASK not in digest[0].body


async def test_an_export_carries_the_summits_marking(mcore: BotCore) -> None:
    await summit_marked_after_its_item(mcore)
    await mcore.dm_with(SEC, "!dm-sec:test")
    sent = await mcore.say(SEC, "!actions export S-1 csv", room_id="!dm-sec:test")
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode())))
    marking = rows[0].index("marking")
    assert rows[1][0] == "A-1" and rows[1][marking] == BANNER
    sent = await mcore.say(SEC, "!actions export S-1 md", room_id="!dm-sec:test")
    text = sent[1].attachment.decode()
    assert text.startswith(f"**{BANNER}**") and text.rstrip().endswith(f"**{BANNER}**")


async def test_the_summits_details_and_its_items_follow_its_marking_in_a_room(
    mcore: BotCore,
) -> None:
    """A German member in the summit room: `!show S-1`, `!actions list` and the digest
    reach him as a notice only (the name, the text stay with the French)."""
    await summit_marked_after_its_item(mcore)
    await ok(mcore, SEC, "!show S-1", SUMMIT_ROOM)
    await ok(mcore, SEC, "!actions list", SUMMIT_ROOM)
    mcore.clock.advance(days=1)
    await mcore.fire_due()
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR, DE]})
    await mcore.drain_outbox(transport, policy=Policy.from_settings(mcore.settings))
    got = [json.dumps(c) for c in transport.received_by(DE)]
    assert got and not [c for c in got if TASK in c or "DefMin" in c]
    french = [json.dumps(c) for c in transport.received_by(FR)]
    assert [c for c in french if "DefMin" in c]


async def test_a_summit_at_a_level_removed_since_withholds_its_items_queued_rows(
    mcore: BotCore,
) -> None:
    """S-1 CONFIDENTIAL, A-1 RESTRICTED on its own; `!show A-1` answered in the room, then
    the operator removes CONFIDENTIAL (a restart with the new levels) before it leaves:
    the item's own level is known, its summit's is not, so it goes to no one."""
    await summit(mcore, "marking=CONFIDENTIAL rel=FRA,DEU")
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, SEC, "!show A-1", SUMMIT_ROOM)
    policy = replace(
        Policy.from_settings(mcore.settings),
        levels=("UNCLASSIFIED", "RESTRICTED"),
        max_marking="RESTRICTED",
    )
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR]})
    await mcore.drain_outbox(transport, policy=policy)
    assert not [c for _, c in transport.sent if TASK in json.dumps(c)]
    assert not [c for _, c in transport.sent if "A-1" in c["body"] and "RESTRICTED" in c["body"]]
    withheld = await mcore.query("SELECT detail FROM audit WHERE action = 'marking.withheld'")
    assert withheld


async def test_no_answer_quotes_the_message_it_answers(mcore: BotCore) -> None:
    """Answers name the command they answer (`m.in_reply_to`) with no rich-reply fallback:
    no `> ` quote in the body and no `<mx-reply>` in the HTML, so a marked message is never
    repeated to a reader by way of a reply, wherever the answer goes."""
    await summit_marked_after_its_item(mcore)
    await mcore.dm_with(FR, "!dm-fr:test")
    await ok(mcore, FR, f"!actions comment A-1 -- {TASK} again", "!dm-fr:test")
    await ok(mcore, SEC, "!show A-1", SUMMIT_ROOM)
    await ok(mcore, FR, "!show A-1", "!dm-fr:test")
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR, DE], "!dm-fr:test": [FR]})
    await mcore.drain_outbox(transport, policy=Policy.from_settings(mcore.settings))
    replies = [c for _, c in transport.sent if "m.in_reply_to" in json.dumps(c)]
    assert replies
    for content in replies:
        assert not [line for line in content["body"].splitlines() if line.startswith("> ")]
        assert "mx-reply" not in content.get("formatted_body", "")
