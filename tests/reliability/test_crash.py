"""kill -9 during a burst: every command's effect exactly once, every reply exactly once.

Three people send `!tz <zone>` (a distinct zone per command, so each command's effect is
one identifiable `tz.set` audit row) while the bot is killed with SIGKILL at random moments
and restarted. Afterwards the store holds exactly one effect per command event, each person
saw exactly one reply per command, and each person's zone is the one they sent last (order
within a room survives the crashes).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from zoneinfo import available_timezones

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import open_dm, replied_to
from tests.reliability.common import SOAK, assert_logs_clean, read_store, record

pytestmark = pytest.mark.integration

USERS = 3
COMMANDS = 300
KILLS = 10 if SOAK else 5
SPAN = 60.0 if SOAK else 25.0  # seconds over which the commands are sent


async def test_kill_9_during_a_burst_loses_and_duplicates_nothing(bot_factory, people) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    users = [await people(f"crash{i}") for i in range(USERS)]
    bot: BotProcess = bot_factory(
        allowed_users=[u.user_id for u in users],
        settings={"rate_limit_burst": 1000, "rate_limit_per_minute": 1000},
    )
    rooms = list(await asyncio.gather(*(open_dm(u, bot, timeout=40) for u in users)))
    zones = sorted(z for z in available_timezones() if "/" in z)
    rng.shuffle(zones)
    per_user = COMMANDS // USERS
    plan = [zones[i * per_user : (i + 1) * per_user] for i in range(USERS)]
    sent: list[list[str]] = [[] for _ in range(USERS)]
    started = time.monotonic()

    async def send_all(i: int) -> None:
        for zone in plan[i]:
            sent[i].append(await users[i].send_text(rooms[i], f"!tz {zone}"))
            await asyncio.sleep(rng.uniform(0, 2 * SPAN / per_user))

    kill_log: list[float] = []

    async def killer() -> None:
        moments = sorted(rng.uniform(1.0, SPAN) for _ in range(KILLS))
        for moment in moments:
            await asyncio.sleep(max(0.0, moment - (time.monotonic() - started)))
            await asyncio.to_thread(bot.kill)
            kill_log.append(round(time.monotonic() - started, 2))
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            await bot.astart(timeout=90)

    await asyncio.gather(killer(), *(send_all(i) for i in range(USERS)))
    send_done = time.monotonic() - started

    async def collect(i: int) -> None:
        wanted = set(sent[i])
        with contextlib.suppress(TimeoutError):  # counted (as lost) below
            await users[i].wait_for_messages(
                rooms[i], len(wanted), lambda e: replied_to(e) in wanted, timeout=180
            )

    await asyncio.gather(*(collect(i) for i in range(USERS)))
    all_answered = time.monotonic() - started
    await asyncio.sleep(5)  # a late duplicate would arrive now
    lost = duplicated = undecryptable = 0
    for i in range(USERS):
        answers = [replied_to(e) for e in users[i].messages(rooms[i], from_others=True)]
        counts = {eid: answers.count(eid) for eid in sent[i]}
        lost += sum(1 for c in counts.values() if c == 0)
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        undecryptable += sum(1 for rid, _ in users[i].undecryptable if rid == rooms[i])
    assert await bot.astop() == 0, bot.log_tail()

    # The store, read after a clean stop: one effect per command, every reply sent once.
    every = {eid for ids in sent for eid in ids}
    effects = read_store(
        bot, "SELECT event_id, COUNT(*) FROM audit WHERE action = 'tz.set' GROUP BY event_id"
    )
    effect_counts = dict(effects)
    outbox = read_store(
        bot, "SELECT state, COUNT(*), COUNT(DISTINCT event_id) FROM outbox GROUP BY state"
    )
    handled = read_store(bot, "SELECT outcome, COUNT(*) FROM handled_events GROUP BY outcome")
    finals = dict(read_store(bot, "SELECT user_id, timezone FROM people"))
    log_lines = assert_logs_clean(bot, [])
    record(
        "crash",
        seed=seed,
        commands=len(every),
        kills=len(kill_log),
        kill_at_s=kill_log,
        lost=lost,
        duplicated=duplicated,
        undecryptable_replies=undecryptable,
        store_effects=sum(effect_counts.values()),
        outbox=outbox,
        sending_s=round(send_done, 1),
        all_answered_s=round(all_answered, 1),
        log_lines=log_lines,
    )
    assert len(kill_log) == KILLS
    assert lost == 0 and duplicated == 0, f"lost {lost}, duplicated {duplicated} (seed {seed})"
    assert set(effect_counts) == every, "an effect is missing or belongs to no command"
    assert set(effect_counts.values()) == {1}, "a command's effect was applied twice"
    assert outbox == [("sent", COMMANDS, COMMANDS)], f"one reply per command, all sent: {outbox}"
    assert handled == [("ok", COMMANDS)]
    for i, user in enumerate(users):
        assert finals[user.user_id] == plan[i][-1], "commands ran out of order after a crash"
