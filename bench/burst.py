"""Burst: 10 people send 50 commands each at once; time to the last reply, against the floor.

    PYTHONPATH=. python bench/burst.py [--users 10] [--each 50] [--rounds 2] [--json FILE]

Synapse runs with its default rate limits (as deployed), with per-user overrides through
the admin API for the bot, the echo peers and the senders (the senders' own limit of
0.2 messages/s would otherwise be all we measure). The bot's own per-person limit is
raised to `rate_limit_burst` = each + 50. Each sender has an encrypted DM with the bot
and one with its own echo peer (10 echo peers in one subprocess, bench/echo_peer.py).
A round is: every sender fires its messages as fast as it can (each send awaited, as a
client does), all senders at once; the clock runs from the first send to the last reply.
Floor and bot alternate, --rounds times each. Target: bot throughput >= 0.8 x floor.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from nio import MatrixRoom, RoomMessage

from bench.common import (
    EchoPeers,
    base_args,
    cpu_ms,
    machine,
    new_user,
    replied_to,
    round_trip,
    rss_mb,
    run_and_report,
    start_synapse,
    table,
)
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.postgres import PostgresServer


class Sender:
    """One person: a TestClient that notes when each answer to its messages arrived."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.answered: dict[str, float] = {}
        client.client.add_event_callback(self._on_message, RoomMessage)

    async def _on_message(self, room: MatrixRoom, event: RoomMessage) -> None:
        target = replied_to(event)
        if target and event.sender != self.client.user_id:
            self.answered.setdefault(target, time.perf_counter())

    async def fire(self, room_id: str, body: str, count: int) -> list[str]:
        return [await self.client.send_text(room_id, body) for _ in range(count)]


async def one_round(
    senders: list[Sender], rooms: list[str], body: str, each: int, timeout: float
) -> dict[str, Any]:
    started = time.perf_counter()
    sent = await asyncio.gather(
        *(s.fire(room, body, each) for s, room in zip(senders, rooms, strict=True))
    )
    sent_done = time.perf_counter()
    deadline = started + timeout
    pending = [(s, ids) for s, ids in zip(senders, sent, strict=True)]
    while time.perf_counter() < deadline:
        if all(all(i in s.answered for i in ids) for s, ids in pending):
            break
        await asyncio.sleep(0.02)
    times = [s.answered[i] for s, ids in pending for i in ids if i in s.answered]
    total = sum(len(ids) for ids in sent)
    last = max(times) if times else time.perf_counter()
    return {
        "messages": total,
        "answered": len(times),
        "send_s": round(sent_done - started, 2),
        "last_reply_s": round(last - started, 2),
        "replies_per_s": round(len(times) / (last - started), 1),
    }


# Extra bot settings: {"database_url": ...} with --postgresql (a throwaway local server).
DB: dict[str, Any] = {}


def use_postgresql() -> PostgresServer:
    """Start a local PostgreSQL and point the measured bot at a fresh database on it."""
    server = PostgresServer().start()
    DB["database_url"] = server.new_database("bench")
    return server


async def measure(tmp: Path, users: int, each: int, rounds: int) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "store": "postgresql" if DB else "sqlite",
        "machine_start": machine(),
        "users": users,
        "each": each,
    }
    synapse = start_synapse(tmp / "synapse", default_ratelimits=True)
    echo = bot = None
    clients: list[TestClient] = []
    try:
        people = [new_user(synapse, "person") for _ in range(users)]
        peers = [new_user(synapse, "echo") for _ in range(users)]
        bot = BotProcess(
            synapse,
            tmp / "bot",
            allowed_users=[p["user_id"] for p in people],
            settings={"rate_limit_burst": each + 50, **DB},
            log_level="INFO",
        )
        for u in [bot.account, *people, *peers]:
            synapse.override_ratelimit(u["user_id"])
        bot.start()
        echo = EchoPeers(synapse, peers, tmp / "echo")
        echo.start()
        clients = list(
            await asyncio.gather(
                *(TestClient.create(synapse, p, tmp / p["user_id"]) for p in people)
            )
        )
        senders = [Sender(c) for c in clients]
        floor_rooms = [
            await c.create_encrypted_dm(p["user_id"], wait_joined=60)
            for c, p in zip(clients, peers, strict=True)
        ]
        bot_rooms = [await c.create_encrypted_dm(bot.user_id, wait_joined=60) for c in clients]
        for c, fr, br in zip(clients, floor_rooms, bot_rooms, strict=True):
            await round_trip(c, fr, "hello")
            await round_trip(c, br, "!ping")
        assert bot.proc is not None and synapse.proc is not None
        pid = bot.proc.pid
        facts["bot_rss_mb_before"] = rss_mb(pid)
        results: dict[str, list[dict[str, Any]]] = {"floor": [], "bot": []}
        for _ in range(rounds):
            for side, rooms, body in (("floor", floor_rooms, "hello"), ("bot", bot_rooms, "!ping")):
                # The answerer: the bot, or the echo peers' process (10 nio clients).
                answerer = pid if side == "bot" else echo.pid
                cpu0 = cpu_ms(answerer), cpu_ms(synapse.proc.pid)
                r = await one_round(senders, rooms, body, each, timeout=600)
                r["answerer_cpu_ms_per_msg"] = round(
                    (cpu_ms(answerer) - cpu0[0]) / r["messages"], 2
                )
                r["synapse_cpu_ms_per_msg"] = round(
                    (cpu_ms(synapse.proc.pid) - cpu0[1]) / r["messages"], 2
                )
                results[side].append(r)
                await asyncio.sleep(2)  # let stragglers (key shares, receipts) settle
        facts["bot_rss_mb_after"] = rss_mb(pid)
        facts["rounds"] = results
        for side in results:
            facts[side] = {
                k: round(statistics.median(r[k] for r in results[side]), 2)
                for k in ("last_reply_s", "replies_per_s", "answerer_cpu_ms_per_msg")
            }
            facts[side]["all_answered"] = all(r["answered"] == r["messages"] for r in results[side])
        facts["ratio_throughput"] = round(
            facts["bot"]["replies_per_s"] / facts["floor"]["replies_per_s"], 2
        )
        facts["ratio_cpu"] = round(
            facts["bot"]["answerer_cpu_ms_per_msg"] / facts["floor"]["answerer_cpu_ms_per_msg"], 2
        )
        facts["machine_end"] = machine()
        return facts
    finally:
        for c in clients:
            await c.close()
        if echo is not None:
            echo.stop()
        if bot is not None:
            bot.close()
        synapse.close()


def report(f: dict[str, Any]) -> str:
    rows = []
    for side, label in (("floor", "floor (echo peers)"), ("bot", "bot !ping")):
        for i, r in enumerate(f["rounds"][side], 1):
            rows.append(
                [
                    f"{label}, round {i}",
                    f"{r['answered']}/{r['messages']}",
                    r["send_s"],
                    r["last_reply_s"],
                    r["replies_per_s"],
                    r["answerer_cpu_ms_per_msg"],
                    r["synapse_cpu_ms_per_msg"],
                ]
            )
        m = f[side]
        rows.append(
            [f"{label}, median", "", "", m["last_reply_s"], m["replies_per_s"],
             m["answerer_cpu_ms_per_msg"], ""]
        )  # fmt: skip
    rows.append(
        ["ratio bot/floor", "", "", "", f["ratio_throughput"], f["ratio_cpu"], ""]
    )  # fmt: skip
    m0, m1 = f["machine_start"], f["machine_end"]
    return table(
        f"Burst: {f['users']} people x {f['each']} at once, {m0['date']}, {m0['cores']} cores, "
        f"Python {m0['python']}, load {m0['load_avg']} -> {m1['load_avg']}; bot RSS "
        f"{f['bot_rss_mb_before']} -> {f['bot_rss_mb_after']} MiB",
        ["path", "answered", "sending s", "last reply s", "replies/s", "answerer CPU ms/msg",
         "Synapse CPU ms/msg"],
        rows,
    )  # fmt: skip


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--each", type=int, default=50, help="commands per person")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per path (median)")
    parser.add_argument(
        "--postgresql", action="store_true", help="the bot on PostgreSQL (default: SQLite)"
    )
    args = parser.parse_args()
    server = use_postgresql() if args.postgresql else None
    try:
        _run(args)
    finally:
        if server is not None:
            server.stop()


def _run(args: Any) -> None:
    run_and_report(
        "bench-burst-", args, lambda tmp: measure(tmp, args.users, args.each, args.rounds), report
    )


if __name__ == "__main__":
    main()
