"""An ambiguous or non-existent time is a question with ready answers (commands/ambiguity.py):
the person's own command with the time made plain, twice, each accepted when sent back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock
from tests.unit.examples_world import last_outcome

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENDER = "@attache:test"
_CHOICE = re.compile(r"`(![^`]+)`")


@pytest.fixture
async def fresh(tmp_path: Path) -> BotCore:
    clock = FakeClock()
    clock.set(NOW)
    return await BotCore(tmp_path, clock).open()


async def choices(core: BotCore, text: str) -> tuple[str, list[str]]:
    [reply] = await core.say(SENDER, text)
    assert await last_outcome(core) == "user_error", reply.body
    return reply.body, _CHOICE.findall(reply.body)


async def test_an_ambiguous_date_is_asked_with_both_commands(fresh: BotCore) -> None:
    body, found = await choices(fresh, "!meeting 03/04/2027 10:00 -- Convoy review")
    assert body == (
        "Did you mean 3 April (`!meeting 2027-04-03 10:00 -- Convoy review`) or 4 March "
        "(`!meeting 2027-03-04 10:00 -- Convoy review`)?"
    )
    for command in found:
        await fresh.say(SENDER, command)
        assert await last_outcome(fresh) == "ok", command


# (language, zone, command, what the reply says, the two plain times)
CASES = [
    ("en", "UTC", "!remind 03/04 10:00 call Paris", "3 April", ["2026-04-03", "2026-03-04"]),
    ("en", "UTC", "!meeting 10/01 10:00 -- x", "10 January", ["2027-01-10", "2026-10-01"]),
    ("en", "UTC", "!request @b:test Visit -- dates due=03/04/2027", "4 March", ["2027-04-03"]),
    ("en", "Europe/Paris", "!meeting 2026-03-29 02:30 -- Gap", "does not exist", ["01:30"]),
    ("en", "Europe/Paris", "!visit 2026-10-25 02:30 -- Fold", "CEST (00:30 UTC)", ["00:30 UTC"]),
    ("fr", "Europe/Paris", "!meeting 2026-03-29 2h30 -- Trou", "Vouliez-vous dire", ["03:30"]),
    ("fr", "Europe/Paris", "!meeting 2026-10-25 2h30 -- Pli", "CET (01:30 UTC)", ["01:30 UTC"]),
    ("de", "Europe/Berlin", "!remind 29.03.2026 2:30 Uhr -- x", "Meinten Sie", ["01:30"]),
    ("de", "Europe/Berlin", "!meeting 25.10.2026 2:30 Uhr -- x", "CEST (00:30 UTC)", ["UTC"]),
]


@pytest.mark.parametrize(("lang", "zone", "text", "says", "plain"), CASES)
async def test_each_answer_is_the_same_command_and_is_accepted(
    fresh: BotCore, lang: str, zone: str, text: str, says: str, plain: list[str]
) -> None:
    await fresh.say(SENDER, f"!lang {lang}")
    await fresh.say(SENDER, f"!tz {zone}")
    body, found = await choices(fresh, text)
    assert says in body and len(found) == 2 and found[0] != found[1], body
    verb = text.split()[0]
    assert all(c.split()[0] == verb and "…" not in c for c in found), found
    assert all(any(p in c for c in found) for p in plain), (plain, found)
    for command in found:
        await fresh.say(SENDER, command)
        assert await last_outcome(fresh) == "ok", (command, body)


async def test_an_edit_is_asked_the_same_way(fresh: BotCore) -> None:
    await fresh.say(SENDER, "!tz Europe/Paris")
    await fresh.say(SENDER, "!meeting 2026-10-20 10:00 -- Board")
    _body, found = await choices(fresh, "!edit M-1 start=2026-10-25 02:30 Europe/Paris")
    assert found == ["!edit M-1 start=2026-10-25 00:30 UTC", "!edit M-1 start=2026-10-25 01:30 UTC"]
    await fresh.say(SENDER, found[1])
    assert await last_outcome(fresh) == "ok"
