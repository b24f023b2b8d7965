"""The Monday brief over real E2EE against Synapse: two people in two zones each get their
week in their own DM, once, one on time and one late after the bot was down.

The bot runs on the real clock (no fake clock here). Monday 08:00 is days away, so the
test checks that the bot planned each brief at 08:00 on the coming Monday of each
person's wall clock, then, with the bot stopped, moves only *when* those jobs fire (their
`due_at` in the bot's store: one a few seconds ahead, one an hour past as if the bot had
been down over it). What each brief holds (the Monday it is for, its zone) stays as the
bot planned it, so what arrives is the brief for that Monday, sent by the real bot's
scheduler through the outbox, encrypted, to each person's DM.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"


def coming_monday_0800(zone: str, now: datetime) -> tuple[datetime, date]:
    """The first Monday 08:00 on the zone's wall clock after now, and that Monday."""
    tz = ZoneInfo(zone)
    day = now.astimezone(tz).date()
    day -= timedelta(days=day.weekday())
    while (at := datetime.combine(day, time(8), tzinfo=tz)) <= now:
        day += timedelta(days=7)
    return at.astimezone(UTC), day


def move_brief(bot: BotProcess, user_id: str, due: datetime) -> None:
    """With the bot stopped: when this person's pending brief fires (nothing else of it)."""
    with contextlib.closing(sqlite3.connect(bot.data_dir / "attache.db")) as db:
        changed = db.execute(
            "UPDATE jobs SET due_at = ? WHERE kind = 'brief.weekly' AND state = 'pending' "
            "AND ref = ?",
            (due.isoformat(), user_id),
        ).rowcount
        db.commit()
    assert changed == 1


async def test_a_brief_on_a_monday_in_two_zones(bot_factory, people) -> None:
    alice = await people("alice")
    bob = await people("bob")
    # A slow start on a loaded machine must not make Alice's on-time brief "late".
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id, bob.user_id], settings={"schedule_late_after": 600}
    )
    room_a = await open_dm(alice, bot)
    room_b = await open_dm(bob, bot)
    await command(alice, room_a, f"!tz {PARIS}")
    await command(bob, room_b, f"!tz {NEW_YORK}")
    await command(bob, room_b, "!lang fr")
    _, on = await command(alice, room_a, "!brief weekly on")
    assert on.body.startswith("Weekly brief on: each Monday at 08:00 in your time zone"), on.body
    await command(bob, room_b, "!brief weekly on")

    now = datetime.now(UTC)
    due_a, monday_a = coming_monday_0800(PARIS, now)
    due_b, monday_b = coming_monday_0800(NEW_YORK, now)
    planned = {
        ref: (datetime.fromisoformat(due), payload)
        for ref, due, payload in bot.query(
            "SELECT ref, due_at, payload FROM jobs WHERE kind = 'brief.weekly' "
            "AND state = 'pending'"
        )
    }
    assert planned[alice.user_id][0] == due_a and planned[bob.user_id][0] == due_b
    assert f'"week": "{monday_a}"' in planned[alice.user_id][1]

    # A meeting on the Tuesday of Alice's coming week, 10:00 in Paris, with Bob.
    tuesday = monday_a + timedelta(days=1)
    await command(alice, room_a, f"!meeting {tuesday} 10:00 with={bob.user_id} -- Convoy review")
    # Something waiting for Alice: Bob's request to her.
    await command(bob, room_b, f"!request {alice.user_id} Fuel for the C-130")

    # Bot down; Alice's brief now comes due a few seconds after the restart, Bob's was due
    # an hour ago (missed while the bot was down: it must come once, marked late).
    assert await bot.astop() == 0, bot.log_tail()
    move_brief(bot, alice.user_id, datetime.now(UTC) + timedelta(seconds=8))
    move_brief(bot, bob.user_id, datetime.now(UTC) - timedelta(hours=1))
    await bot.astart()

    brief_b = await bob.wait_for_message(room_b, lambda e: "Votre semaine" in e.body, timeout=60)
    assert brief_b.decrypted
    assert brief_b.body.startswith("Votre semaine du lun. "), brief_b.body
    assert "(heures en America/New_York) (envoyé en retard" in brief_b.body.splitlines()[0]
    assert "En attente de votre part" not in brief_b.body  # Bob waits; nothing waits for him
    assert "Vous attendez (1)" in brief_b.body and "Fuel for the C-130" in brief_b.body
    if monday_b == monday_a:  # (not so on a Monday morning between Paris's 08:00 and his)
        assert "Convoy review · pas encore de réponse" in brief_b.body  # in his zone

    brief_a = await alice.wait_for_message(room_a, lambda e: "Your week" in e.body, timeout=60)
    assert brief_a.decrypted
    first, *rest = brief_a.body.splitlines()
    assert first.startswith("Your week from Mon ") and first.endswith(f"(times in {PARIS})")
    assert monday_a.strftime("%d %b %Y") in first and "late" not in first
    assert "Waiting for you (1)" in rest and any("Fuel for the C-130" in x for x in rest)
    assert f"• M-1 {tuesday.strftime('%a %d %b %Y')} 10:00: Convoy review" in rest
    assert rest[-1] == "Sent each Monday at 08:00 your time; !brief weekly off stops it."

    # Another restart sends neither again; each has its next Monday planned.
    await bot.astop()
    await bot.astart()
    await command(alice, room_a, "!ping")
    await command(bob, room_b, "!ping")
    assert len([e for e in alice.messages(room_a) if "Your week" in e.body]) == 1
    assert len([e for e in bob.messages(room_b) if "Votre semaine" in e.body]) == 1
    after = {
        ref: (state, datetime.fromisoformat(due))
        for ref, state, due in bot.query(
            "SELECT ref, state, due_at FROM jobs WHERE kind = 'brief.weekly' AND state = 'pending'"
        )
    }
    assert after[alice.user_id][1] == coming_monday_0800(PARIS, due_a)[0]
    assert after[bob.user_id][1] == coming_monday_0800(NEW_YORK, due_b)[0]
