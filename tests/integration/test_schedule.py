"""Reminders over real E2EE against Synapse: on time, and across a bot restart (late, once)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


def _when(confirmation: str) -> str:
    match = re.search(r"^When: (.+)$", confirmation, re.MULTILINE)
    assert match, confirmation
    return match[1]


async def test_reminder_arrives_on_time(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    _, reply = await command(alice, room, "!remind in 5s -- integration ping")
    assert reply.body.startswith("Scheduled R-1: integration ping"), reply.body
    asked = time.monotonic()
    reminder = await alice.wait_for_message(room, lambda e: "Reminder R-1" in e.body, timeout=30)
    waited = time.monotonic() - asked
    assert reminder.body.startswith("⏰ Reminder R-1: integration ping"), reminder.body
    assert "Late" not in reminder.body
    assert reminder.decrypted
    assert 3.5 <= waited <= 10, f"reminder after {waited:.1f}s"
    print(f"\nreminder due in 5 s arrived after {waited:.2f} s")


async def test_reminder_due_while_down_arrives_once_marked_late(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id], settings={"schedule_late_after": 2}
    )
    room = await open_dm(alice, bot)
    _, reply = await command(alice, room, "!remind in 6s -- across the restart")
    due_shown = _when(reply.body)
    assert await bot.astop() == 0, bot.log_tail()
    await asyncio.sleep(10)  # the due time passes while the bot is down
    assert not [e for e in alice.messages(room) if "R-1" in e.body and "Reminder" in e.body]
    await bot.astart()
    late = await alice.wait_for_message(room, lambda e: "reminder R-1" in e.body, timeout=30)
    assert late.body.startswith("⏰ Late reminder R-1 (was due "), late.body
    assert f"was due {due_shown}" in late.body
    assert late.body.splitlines()[0].endswith("across the restart")
    # another restart must not send it again
    await bot.astop()
    await bot.astart()
    await command(alice, room, "!ping")
    reminders = [e for e in alice.messages(room) if "R-1" in e.body and "eminder" in e.body]
    assert len(reminders) == 1, [e.body for e in reminders]
