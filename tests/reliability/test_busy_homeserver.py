"""The bot's own rate limit left low on the real Synapse (an operator who skipped lifting
it): a burst from several people, and every command is answered or its sender told.
Before deadlines per kind, 16 of 48 replies were dropped here without a word."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import quote

import pytest

from tests.harness.bot import BotProcess
from tests.harness.synapse import SynapseServer
from tests.integration.conftest import open_dm, replied_to
from tests.integration.test_ops import samples, value

pytestmark = pytest.mark.integration

PEOPLE = 8  # the burst of the report: 8 people, 6 `!ping` each, at once
PINGS = 6
TOLD = re.compile(r"could not answer (?:(\d+) of )?your command")


def told_about(body: str) -> int:
    """How many commands a notice says went unanswered (0: not such a notice)."""
    found = TOLD.search(body)
    if found is None:
        return 0
    return int(found[1]) if found[1] else 1


async def test_a_burst_under_a_low_rate_limit_is_answered_or_its_senders_told(
    bot_factory: Any, people: Any, synapse: SynapseServer
) -> None:
    users = [await people(f"busy{i}") for i in range(PEOPLE)]
    bot: BotProcess = bot_factory(allowed_users=[u.user_id for u in users])
    rooms = list(await asyncio.gather(*(open_dm(u, bot) for u in users)))
    # The lowest limit the admin API sets (whole messages a second): one a second, no burst.
    status, _ = synapse.request(
        "POST",
        f"/_synapse/admin/v1/users/{quote(bot.user_id)}/override_ratelimit",
        {"messages_per_second": 1, "burst_count": 1},
        token=synapse.admin_token,
    )
    assert status == 200
    sent = await asyncio.gather(
        *(
            asyncio.gather(*(u.send_text(r, "!ping") for _ in range(PINGS)))
            for u, r in zip(users, rooms, strict=True)
        )
    )
    started = time.monotonic()

    def accounted(i: int) -> tuple[int, int]:
        mine = set(sent[i])
        replies = [e for e in users[i].messages(rooms[i], from_others=True)]
        pongs = sum(1 for e in replies if e.body == "pong" and replied_to(e) in mine)
        told = sum(told_about(e.body) for e in replies if replied_to(e) in mine)
        return pongs, told

    while time.monotonic() - started < 300:
        if all(sum(accounted(i)) >= PINGS for i in range(PEOPLE)):
            break
        await asyncio.sleep(1)
    results = [accounted(i) for i in range(PEOPLE)]
    assert all(p + t == PINGS for p, t in results), (results, bot.log_tail())
    answered = sum(p for p, _ in results)
    told = sum(t for _, t in results)
    metrics = samples(bot.metrics())
    # The limit really bit (429s, waited out); each answer given up on was counted and told.
    assert value(metrics, "attache_send_rate_limited_total") > 0  # type: ignore[operator]
    assert value(metrics, "attache_send_giveups_total", kind="reply", reason="expired") == told
    print(f"busy homeserver: {answered} answered, {told} told, {time.monotonic() - started:.0f}s")
