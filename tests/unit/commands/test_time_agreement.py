"""Every command that takes a time reads the same text the same way (commands/time/).

The same inputs go to liaison `due=`, action `due=`, meetings, visits and reminders, sent by
someone in Europe/Paris on Monday 2026-03-02 09:17Z. Deadlines (`due=`) agree with each
other to the second; starts (meetings, visits, reminders) agree with each other and, where a
time of day is given, with the deadlines. A refusal is the same question everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.context import parse_utc
from tests.harness.fakes import BotCore
from tests.unit.commands.actions_fixtures import ROOM, SEC, seed

NOW = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)  # a Monday; Paris is UTC+1 until 29 March

# What each kind of command sends for a time written `t`.
DEADLINES = {
    "liaison due=": '!request FR-PARIS Timing question due="{t}"',
    "action due=": '!actions add S-1 FR-PARIS due="{t}" -- agree the timing',
}
STARTS = {
    "meeting": "!meeting {t} -- Timing sync",
    "visit": "!visit {t} -- Timing visit",
    "reminder": "!remind {t} -- timing",
}

END_OF_FRIDAY = datetime(2026, 3, 6, 22, 59, 59, tzinfo=UTC)
NO_TIME = "has no time of day"

# input -> (what a deadline becomes, what a start becomes): an instant or a refusal's words.
TABLE: dict[str, tuple[datetime | str, datetime | str]] = {
    "2026-03-29 02:30": ("does not exist in Europe/Paris", "does not exist in Europe/Paris"),
    "2026-10-25 02:30": ("happens twice in Europe/Paris", "happens twice in Europe/Paris"),
    "03/04/2026 10:00": ("Did you mean 3 April (`", "Did you mean 3 April (`"),
    "friday": (END_OF_FRIDAY, NO_TIME),
    "friday 10:00": (datetime(2026, 3, 6, 9, 0, tzinfo=UTC),) * 2,
    "tomorrow": (datetime(2026, 3, 3, 22, 59, 59, tzinfo=UTC), NO_TIME),
    "tomorrow 09:30": (datetime(2026, 3, 3, 8, 30, tzinfo=UTC),) * 2,
    "2026-03-06": (END_OF_FRIDAY, NO_TIME),
    "2026-03-06 17:00": (datetime(2026, 3, 6, 16, 0, tzinfo=UTC),) * 2,
    "2026-01-01 10:00": ("is in the past", "is in the past"),
    "in 2h": (datetime(2026, 3, 2, 11, 17, tzinfo=UTC),) * 2,
}


@pytest.fixture
async def world(core: BotCore) -> BotCore:
    await seed(core)
    await core.say(SEC, "!tz Europe/Paris", room_id=ROOM)
    core.clock.set(NOW)
    return core


async def _stored(core: BotCore, name: str) -> datetime | None:
    """The instant the last command stored, or None if it stored nothing."""
    sql = {
        "liaison due=": "SELECT due_at FROM liaison_requests ORDER BY id DESC LIMIT 1",
        "action due=": "SELECT due_at FROM action_items WHERE id > 2 ORDER BY id DESC LIMIT 1",
    }.get(name, "SELECT start_at FROM schedule_items ORDER BY id DESC LIMIT 1")
    rows = await core.query(sql)
    return parse_utc(rows[0][0]) if rows else None


@pytest.mark.parametrize("text", list(TABLE))
async def test_every_command_reads_a_time_the_same_way(world: BotCore, text: str) -> None:
    for commands, expected in ((DEADLINES, TABLE[text][0]), (STARTS, TABLE[text][1])):
        for name, template in commands.items():
            before = await _stored(world, name)
            sent = await world.say(SEC, template.format(t=text), room_id=ROOM)
            reply = sent[0].body if sent else ""
            after = await _stored(world, name)
            if isinstance(expected, str):
                assert expected in reply, (name, text, reply)
                # A refusal shows an example; a question, the commands to send instead.
                assert "Example:" in reply or "(`!" in reply, (name, text, reply)
                assert after == before, (name, text, "a refused time changed the store")
            else:
                assert after == expected, (name, text, reply)
