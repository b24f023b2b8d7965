"""Homeserver outage, default rate limits, and the bot's own per-person limits, for real.

Each test here that needs to disturb Synapse uses a dedicated server from
`synapse_factory`, so the shared one is not affected.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to
from tests.reliability.common import SOAK, assert_logs_clean, read_store, record
from tests.reliability.test_busy_homeserver import told_about

pytestmark = pytest.mark.integration

DOWNTIME = 60.0 if SOAK else 30.0
RECOVERY_LIMIT = 10.0


async def test_bot_recovers_from_a_homeserver_outage_without_restart(
    synapse_factory, people_on, bot_factory
) -> None:
    server = await asyncio.to_thread(synapse_factory)
    alice = await people_on(server, "alice")
    bot: BotProcess = bot_factory(
        synapse_server=server,
        allowed_users=[alice.user_id],
        settings={"schedule_late_after": 5},  # held up longer than this = "late"
    )
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")
    # A reminder that comes due while the homeserver is down.
    _, scheduled = await command(alice, room, "!remind in 8s -- call the Paris desk")
    assert scheduled.body.startswith("Scheduled R-1")
    pid = bot.proc.pid if bot.proc else None
    # A reply the bot is sending as the server goes away must still arrive once.
    last_before = await alice.send_text(room, "!ping")
    await asyncio.to_thread(server.stop)
    down_at = time.monotonic()
    # While it is down, the person keeps typing: the client queues and retries each send.
    markers = [f"Outage/Zone-{uuid.uuid4().hex}" for _ in range(3)]
    queued = [asyncio.create_task(alice.send_text(room, f"!tz {m}")) for m in markers]
    queued.append(asyncio.create_task(alice.send_text(room, "!tz Asia/Tokyo")))
    await asyncio.sleep(max(0.0, DOWNTIME - (time.monotonic() - down_at)))
    await asyncio.to_thread(server._spawn)
    up_at = time.monotonic()
    event_ids = list(await asyncio.wait_for(asyncio.gather(*queued), timeout=60))
    wanted = {last_before, *event_ids}
    first = await alice.wait_for_message(room, lambda e: replied_to(e) in wanted, timeout=60)
    first_reply_s = time.monotonic() - up_at
    await alice.wait_for_messages(room, len(wanted), lambda e: replied_to(e) in wanted, timeout=90)
    all_replies_s = time.monotonic() - up_at
    answers = [replied_to(e) for e in alice.messages(room, from_others=True)]
    reminder = await alice.wait_for_message(
        room, lambda e: "Reminder R-1: call the Paris desk" in e.body, timeout=30
    )
    assert reminder.body.startswith("(Delivered late: the homeserver was unreachable."), (
        reminder.body
    )
    assert bot.proc is not None and bot.proc.pid == pid and bot.starts == 1, "bot was restarted"
    assert bot.proc.poll() is None
    await asyncio.sleep(2)
    assert sorted(a for a in answers if a in wanted) == sorted(wanted), "lost or doubled reply"
    reminders = [e for e in alice.messages(room) if "Reminder R-1" in e.body]
    assert len(reminders) == 1, "the reminder must arrive exactly once"
    assert first.sender == bot.user_id
    log = bot.log_text()
    assert "sync failed" in log and "sync recovered" in log
    assert await bot.astop() == 0
    zone = read_store(bot, "SELECT timezone FROM people WHERE user_id = ?", alice.user_id)
    assert zone == [("Asia/Tokyo",)]
    assert_logs_clean(bot, markers)
    record(
        "outage",
        downtime_s=DOWNTIME,
        commands=len(wanted),
        lost=0,
        first_reply_after_up_s=round(first_reply_s, 2),
        all_replies_after_up_s=round(all_replies_s, 2),
    )
    assert first_reply_s <= RECOVERY_LIMIT, f"first reply {first_reply_s:.1f}s after recovery"


RATE_COMMANDS = 50  # the figure; ~4 min at 0.2 msg/s after a burst of 10


async def test_every_reply_arrives_at_synapse_default_rate_limits(
    synapse_factory, people_on, bot_factory
) -> None:
    server = await asyncio.to_thread(synapse_factory, default_ratelimits=True)
    alice = await people_on(server, "alice")
    # Only the bot is held to the defaults: the person's own sends are not what is tested.
    await asyncio.to_thread(server.override_ratelimit, alice.user_id)
    bot: BotProcess = bot_factory(
        synapse_server=server,
        allowed_users=[alice.user_id],
        settings={"rate_limit_burst": 200, "rate_limit_per_minute": 200},
    )
    room = await open_dm(alice, bot, timeout=60)
    started = time.monotonic()
    ids = list(
        await asyncio.gather(*(alice.send_text(room, "!ping") for _ in range(RATE_COMMANDS)))
    )
    wanted = set(ids)

    def accounted() -> tuple[list[str | None], int]:
        mine = [e for e in alice.messages(room, from_others=True) if replied_to(e) in wanted]
        pongs = [replied_to(e) for e in mine if e.body == "pong"]
        return pongs, sum(told_about(e.body) for e in mine)

    # Answers past their deadline (60 s) are not sent: Alice is told instead, once a send
    # gets through (bot/send_policy.py).
    deadline = time.monotonic() + RATE_COMMANDS * 6 + 60
    while time.monotonic() < deadline:
        answers, told = accounted()
        if len(set(answers)) + told >= len(wanted):
            break
        await asyncio.sleep(1)
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)
    answers, told = accounted()
    retries = _metric(bot.metrics(), "attache_send_retries_total")
    assert await bot.astop() == 0
    failed = read_store(bot, "SELECT COUNT(*) FROM outbox WHERE state != 'sent'")[0][0]
    record(
        "rate_limits",
        commands=RATE_COMMANDS,
        answered=len(set(answers)),
        told=told,
        duplicated=len(answers) - len(set(answers)),
        send_retries_429=retries,
        seconds=round(elapsed, 1),
    )
    assert len(set(answers)) + told == len(wanted), (len(set(answers)), told)
    assert len(answers) == len(set(answers))
    assert failed == told  # every answer not sent is one she was told about
    assert retries > 0, "the default limits were never hit, so this proved nothing"
    assert "rate limited" in bot.log_text()
    assert_logs_clean(bot, [])


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_per_person_limit_and_length_limit_for_real(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id],
        # A burst of 5: the invitation to the DM and the refused long command are paid
        # from the same budget (one limiter for everything a person makes the bot do),
        # which leaves 3 for the commands.
        settings={"rate_limit_burst": 5, "rate_limit_per_minute": 1, "max_command_length": 100},
    )
    room = await open_dm(alice, bot)
    marker = uuid.uuid4().hex
    _, long_reply = await command(alice, room, f"!tz Europe/{marker}" + "x" * 120)
    assert "the limit is 100" in long_reply.body and "Nothing was done" in long_reply.body
    zones = ["Europe/Paris", "Europe/Rome", "Europe/Oslo", "Asia/Tokyo", "Asia/Seoul", "UTC"]
    ids = [await alice.send_text(room, f"!tz {z}") for z in zones]
    wanted = set(ids)
    await alice.wait_for_messages(room, 4, lambda e: replied_to(e) in wanted, timeout=30)
    await asyncio.sleep(4)  # nothing more may come
    replies = {replied_to(e): e.body for e in alice.messages(room, from_others=True)}
    answered = [i for i in ids if i in replies]
    assert answered == ids[:4], "three commands in the burst, then one warning, then silence"
    assert all(replies[i].startswith("Time zone set") for i in ids[:3])
    assert "faster than I accept" in replies[ids[3]]
    assert await bot.astop() == 0
    outcomes = dict(
        read_store(bot, "SELECT outcome, COUNT(*) FROM handled_events GROUP BY outcome")
    )
    assert outcomes == {"too_long": 1, "ok": 3, "rate_limited": 3}
    assert read_store(bot, "SELECT detail FROM audit WHERE action = 'tz.set' ORDER BY id") == [
        (z,) for z in zones[:3]
    ]
    assert read_store(bot, "SELECT timezone FROM people") == [("Europe/Oslo",)]
    assert_logs_clean(bot, [marker])
