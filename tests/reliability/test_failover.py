"""Two bot processes on one PostgreSQL: kill -9 the active one, the standby takes over.

People send a steady stream of `!tz <zone>` commands and have reminders due during the
run; the active instance is killed (SIGKILL) and restarted as the new standby. Every
command is answered exactly once, every reminder fires exactly once, nobody sees an
undecryptable message, and the bot keeps its device and its cross-signing master key.
The takeover time after each kill is recorded (`make soak` runs 3 kills, 300 commands).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import pytest

from tests.harness.bot import BotProcess
from tests.harness.postgres import PostgresServer
from tests.harness.synapse import SynapseServer
from tests.integration.conftest import command, open_dm, replied_to
from tests.reliability.common import SOAK, record

pytestmark = pytest.mark.integration

USERS = 3
COMMANDS = 300 if SOAK else 45
KILLS = 3 if SOAK else 1
FAILOVER = 15  # the default failover_seconds
TAKEOVER_LIMIT = 60.0  # a hard bound for waiting; the figure asserted is the median


def master_key(synapse: SynapseServer, token: str, user_id: str) -> str | None:
    status, body = synapse.request(
        "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}}, token=token
    )
    assert status == 200, body
    keys = (body.get("master_keys") or {}).get(user_id, {}).get("keys", {})
    return next(iter(keys.values()), None)


async def wait_active(bot: BotProcess, timeout: float) -> float:
    """Seconds until `bot` says it is active and has completed a sync."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if bot.proc is not None and bot.proc.poll() is not None:
            raise RuntimeError(f"standby exited {bot.proc.returncode}:\n{bot.log_tail()}")
        body = await asyncio.to_thread(bot.health) or {}
        if body.get("role") == "active" and body.get("checks", {}).get("sync", {}).get("ok"):
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no takeover in {timeout}s:\n{bot.log_tail()}")


async def wait_role(bot: BotProcess, role: str, timeout: float = 60) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(bot.role) == role:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not {role} in {timeout}s:\n{bot.log_tail()}")


async def test_kill_9_the_active_instance_and_the_standby_takes_over(
    bot_factory: Any,
    people: Any,
    postgres: PostgresServer,
    synapse: SynapseServer,
    tmp_path: Path,
) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    url = postgres.new_database("failover")
    users = [await people(f"fo{i}") for i in range(USERS)]
    first: BotProcess = bot_factory(
        allowed_users=[u.user_id for u in users],
        settings={
            "database_url": url,
            "rate_limit_burst": 1000,
            "rate_limit_per_minute": 1000,
        },
        start=False,
    )
    first.start(timeout=90)
    second = first.replica(tmp_path / "replica")
    second.launch()
    try:
        await wait_role(second, "standby")
        device = first.device_id
        token = users[0].client.access_token
        master = master_key(synapse, token, first.user_id)
        assert device and master

        rooms = list(await asyncio.gather(*(open_dm(u, first, timeout=40) for u in users)))
        zones = sorted(z for z in available_timezones() if "/" in z)
        rng.shuffle(zones)
        per_user = COMMANDS // USERS
        span = 40.0 * KILLS  # seconds over which the commands go out
        # Reminders due while the active instance is dead or just replaced.
        reminders: list[tuple[int, str]] = []
        for i, user in enumerate(users):
            due = 10 + int(span * (i + 1) / (USERS + 1))
            _, confirm = await command(user, rooms[i], f"!remind in {due}s -- check {i}")
            assert confirm.body.startswith("Scheduled R-"), confirm.body
            reminders.append((i, f"check {i}"))

        sent: list[list[str]] = [[] for _ in range(USERS)]
        started = time.monotonic()

        async def send_all(i: int) -> None:
            for zone in zones[i * per_user : (i + 1) * per_user]:
                sent[i].append(await users[i].send_text(rooms[i], f"!tz {zone}"))
                await asyncio.sleep(rng.uniform(0, 2 * span / per_user))

        takeovers: list[float] = []
        bots = [first, second]

        async def killer() -> None:
            for k in range(KILLS):
                await asyncio.sleep(max(0.0, 8.0 + k * 40.0 - (time.monotonic() - started)))
                active, standby = bots
                await asyncio.to_thread(active.kill)
                takeovers.append(round(await wait_active(standby, TAKEOVER_LIMIT), 1))
                active.launch()  # the killed one comes back as the new standby
                await wait_role(active, "standby")
                bots.reverse()

        await asyncio.gather(killer(), *(send_all(i) for i in range(USERS)))

        async def collect(i: int) -> None:
            wanted = set(sent[i])
            await users[i].wait_for_messages(
                rooms[i], len(wanted), lambda e: replied_to(e) in wanted, timeout=180
            )

        await asyncio.gather(*(collect(i) for i in range(USERS)))
        for i, text in reminders:
            await users[i].wait_for_message(rooms[i], lambda e, t=text: t in e.body, timeout=120)
        await asyncio.sleep(5)  # a late duplicate would arrive now

        lost = duplicated = undecryptable = 0
        fired: list[int] = []
        for i in range(USERS):
            answers = [replied_to(e) for e in users[i].messages(rooms[i], from_others=True)]
            counts = [answers.count(eid) for eid in sent[i]]
            lost += counts.count(0)
            duplicated += sum(c - 1 for c in counts if c > 1)
            undecryptable += sum(1 for rid, _ in users[i].undecryptable if rid == rooms[i])
            fired.append(
                sum(
                    1
                    for e in users[i].messages(rooms[i], from_others=True)
                    if f"check {i}" in e.body and "Reminder" in e.body
                )
            )
        active = bots[0]
        record(
            "failover",
            seed=seed,
            commands=sum(len(s) for s in sent),
            kills=KILLS,
            takeover_s=takeovers,
            takeover_median_s=statistics.median(takeovers),
            lost=lost,
            duplicated=duplicated,
            undecryptable=undecryptable,
            reminders_fired=fired,
        )
        assert lost == 0 and duplicated == 0, f"lost {lost}, duplicated {duplicated} ({seed})"
        assert fired == [1] * USERS, f"each reminder exactly once: {fired}"
        assert undecryptable == 0
        assert active.device_id == device, "the new active instance is another device"
        assert master_key(synapse, token, first.user_id) == master
        assert statistics.median(takeovers) <= FAILOVER, takeovers
    finally:
        second.close()
