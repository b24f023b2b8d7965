"""An addressee, owner or participant a marked object is not released to is refused when it
is made or changed (issue 22, finding 8): a clear error in the sender's language, naming
who and not why (no clearance), an example that works when copied, and nothing changes.

The people are the example world's (tests/unit/examples_world.py) so that every example
shown here is also run there by tests/unit/test_examples.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock
from tests.unit.examples_world import snapshot

ADMIN = "@admin:test"
SEC = "@paris:example.org"  # French, secretariat: the sender throughout
BOB = "@bob:example.org"  # German
ANNA = "@anna:example.org"  # French, cleared for UNCLASSIFIED only
ROOM = "!room:test"


@pytest.fixture
async def world(tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotCore]:
    core = await BotCore(
        tmp_path,
        clock,
        admins=[ADMIN],
        allowed_servers=["test", "example.org"],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        max_marking="CONFIDENTIAL",
    ).open()
    for text in (
        f"!dir person {SEC} nation=FRA role=secretariat",
        f"!dir person {BOB} nation=DEU",
        f"!dir person {ANNA} nation=FRA clearance=UNCLASSIFIED",
        f"!dir post DE-BERLIN nation=DEU members={BOB}",
        f"!dir post FR-PARIS nation=FRA members={SEC},{BOB}",
    ):
        await ok(core, ADMIN, text)
    try:
        yield core
    finally:
        await core.close()


async def ok(core: BotCore, sender: str, text: str) -> None:
    sent = await core.say(sender, text, room_id=ROOM)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])


async def refused(core: BotCore, text: str, sender: str = SEC) -> str:
    """The refusal's text; asserts that nothing changed."""
    before = await snapshot(core)
    sent = await core.say(sender, text, room_id=ROOM)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "user_error", (text, [m.body for m in sent])
    assert await snapshot(core) == before, f"{text} changed something"
    return sent[-1].body


MARK = "marking=RESTRICTED rel=FRA"


@pytest.mark.parametrize(
    ("text", "example"),
    [
        (
            f"!request {BOB} Convoy -- route? {MARK}",
            f"!request {BOB} Convoy -- route? marking=RESTRICTED rel=FRA,DEU",
        ),
        (
            f"!request DE-BERLIN Convoy {MARK} -- route?",
            "!request DE-BERLIN Convoy -- route? marking=RESTRICTED rel=FRA,DEU",
        ),
        (
            f"!meeting 2026-04-01 10:00 with={BOB} {MARK} -- Convoy",
            f"!meeting 2026-04-01 10:00 with={BOB} -- Convoy marking=RESTRICTED rel=FRA,DEU",
        ),
        (
            f"!visit 2026-04-01 10:00 with=FR-PARIS,DE-BERLIN {MARK} -- Depot",
            "!visit 2026-04-01 10:00 with=FR-PARIS,DE-BERLIN -- Depot "
            "marking=RESTRICTED rel=FRA,DEU",
        ),
        (
            f"!actions add S-1 {BOB} due=2026-04-01 {MARK} -- Escort",
            f"!actions add S-1 {BOB} due=2026-04-01 -- Escort marking=RESTRICTED rel=FRA,DEU",
        ),
    ],
)
async def test_a_party_by_nation_is_refused_at_creation_with_a_widened_example(
    world: BotCore, text: str, example: str
) -> None:
    await ok(world, SEC, '!summit open "Plenary" from=2026-03-10')
    body = await refused(world, text)
    name = "DE-BERLIN" if "DE-BERLIN" in text else BOB
    assert body.startswith(f"Not releasable to {name}: this "), body
    assert f"Example: {example}" in body
    assert "clearance" not in body


async def test_a_post_with_one_covered_member_is_accepted(world: BotCore) -> None:
    """FR-PARIS has a French member: its German one is left out at send time (told to the
    sender), as before; only a post nobody in which is covered is refused."""
    await ok(world, SEC, f"!request FR-PARIS Convoy -- route? {MARK}")
    await ok(world, SEC, f"!meeting 2026-04-01 10:00 with=FR-PARIS {MARK} -- Convoy")


async def test_a_clearance_is_never_told_and_the_example_looks_the_person_up(
    world: BotCore,
) -> None:
    body = await refused(world, f"!request {ANNA} Convoy -- route? {MARK}")
    assert body.startswith(f"Not releasable to {ANNA}: this request is marked RESTRICTED // REL")
    assert "UNCLASSIFIED" not in body and "clearance" not in body
    assert body.endswith(f"Example: !whois {ANNA}")


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("fr", f"Non communicable à {BOB}"),
        ("de", f"Nicht freigegeben für {BOB}"),
    ],
)
async def test_the_refusal_is_in_the_senders_language(world: BotCore, lang: str, says: str) -> None:
    await ok(world, SEC, f"!lang {lang}")
    body = await refused(world, f"!request {BOB} Convoy -- route? {MARK}")
    assert body.startswith(says), body
    assert "marking=RESTRICTED rel=FRA,DEU" in body


async def test_changes_that_would_exclude_a_party_are_refused(world: BotCore) -> None:
    await ok(world, SEC, '!summit open "Plenary" from=2026-03-10')
    await ok(world, SEC, f"!actions add S-1 FR-PARIS due=2026-04-01 {MARK} -- Escort")
    await ok(world, SEC, f"!actions add S-1 {BOB} due=2026-04-01 -- Venue")
    await ok(world, SEC, f"!meeting 2026-04-01 10:00 with={BOB} -- Convoy")
    # A new owner, a re-marking, a new participant: each would leave a party out.
    body = await refused(world, f"!actions reassign A-1 {BOB}")
    assert f"Example: !edit A-1 owner={BOB} marking=RESTRICTED rel=FRA,DEU" in body
    body = await refused(world, f"!edit A-1 owner={BOB}")
    assert f"Not releasable to {BOB}: this action item is marked" in body
    body = await refused(world, "!edit A-2 marking=RESTRICTED rel=FRA")
    assert f"Not releasable to {BOB}" in body
    body = await refused(world, "!edit M-1 marking=RESTRICTED rel=FRA")
    assert "Example: !edit M-1 marking=RESTRICTED rel=FRA,DEU" in body
    await ok(world, SEC, f"!edit M-1 with=FR-PARIS {MARK}")
    body = await refused(world, f"!edit M-1 with={BOB}")
    assert "as its participant" in body
    # A summit's marking names its items with them: it may not exclude an item's owner.
    body = await refused(world, f"!edit S-1 {MARK}")
    assert f"Not releasable to {BOB}: this summit is marked" in body and "item owner" in body
    # Where it covers them, the same changes go through.
    await ok(world, SEC, f"!edit A-1 owner={BOB} marking=RESTRICTED rel=FRA,DEU")
