"""Element's edits over real E2EE: a refused command's edit runs once, an applied one's is
answered, not applied again; an edit by someone else is ignored. The ledger says which."""

from __future__ import annotations

import sqlite3

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration


def ledger(bot: BotProcess, event_id: str) -> tuple[str | None, str | None] | None:
    """(outcome, replaces) the bot recorded for an event."""
    with sqlite3.connect(f"file:{bot.data_dir / 'attache.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT outcome, replaces FROM handled_events WHERE event_id = ?", (event_id,)
        ).fetchone()
    return (row[0], row[1]) if row else None


async def test_edit_of_a_typo_runs_once_and_an_applied_edit_is_answered(
    bot_factory, people
) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    typo, refused = await command(alice, room, "!pnig")
    assert "Unknown command" in refused.body
    edit = await alice.send_edit(room, typo, "!ping")
    pong = await alice.wait_for_message(
        room, lambda e: replied_to(e) == typo and e.body == "pong", timeout=20
    )
    assert pong.decrypted
    assert ledger(bot, typo) == ("user_error", None)
    assert ledger(bot, edit) == ("ok", typo)
    pongs = [e for e in alice.messages(room) if e.sender == bot.user_id and e.body == "pong"]
    assert len(pongs) == 1
    # A command that changed something is not run again by an edit; the bot says how.
    zone, done = await command(alice, room, "!tz Europe/Paris")
    assert "Time zone set to Europe/Paris" in done.body
    again = await alice.send_edit(room, zone, "!tz Asia/Tokyo")
    told = await alice.wait_for_message(
        room, lambda e: replied_to(e) == zone and "not applied" in e.body, timeout=20
    )
    assert "!tz Asia/Tokyo" in told.body
    assert ledger(bot, again) == ("edit_not_applied", zone)
    _, shown = await command(alice, room, "!tz")
    assert "Europe/Paris" in shown.body


async def test_edit_of_a_meeting_is_not_applied_and_says_how(bot_factory, people) -> None:
    alice = await people("alice")
    mallory = await people("mallory", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id, mallory.user_id])
    room = await open_dm(alice, bot)
    await alice.client.room_invite(room, mallory.user_id)
    await alice.wait_joined(room, mallory.user_id, timeout=20)
    original, made = await command(alice, room, "!meeting tomorrow 09:00 -- Sync")
    assert "Scheduled M-1" in made.body
    # Someone else's "edit" of Alice's command is ignored (Element would not show it).
    forged = await mallory.send_edit(room, original, "!meeting tomorrow 11:00 -- Sync")
    edit = await alice.send_edit(room, original, "!meeting tomorrow 10:00 -- Sync")
    told = await alice.wait_for_message(
        room, lambda e: replied_to(e) == original and "not applied" in e.body, timeout=20
    )
    assert "!edit M-1 start=" in told.body
    assert ledger(bot, edit) == ("edit_not_applied", original)
    assert ledger(bot, forged) == ("edit_ignored", original)
    assert ledger(bot, original) == ("ok", None)
    _, shown = await command(alice, room, "!show M-1")
    assert "09:00" in shown.body and "10:00" not in shown.body and "11:00" not in shown.body
