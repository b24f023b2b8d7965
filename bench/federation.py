"""A remote person's `!ping` round trip against a local one's, on the same run.

    PYTHONPATH=. python bench/federation.py [--n 60] [--block 10] [--frozen 10] [--json FILE]

Two Synapses federating over TLS on loopback (tests/harness/federation.py). The bot lives
on the first; Alice (cross-signed nio client) is on the first, Bob on the second, each in
an encrypted DM with the bot. Alternating blocks of --block pings from each, so machine
load hits both alike. Then the second server is frozen (SIGSTOP) and Alice pings --frozen
times in her DM, and --frozen times in a room she shares with Bob and the bot: what an
outage of another nation's server costs the bot's own people, in rooms without and with
that server's people.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from bench.common import base_args, machine, pcts, round_trip, run_and_report, table
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.federation import start_federation

WARMUP = 5


async def measure(tmp: Path, n: int, block: int, frozen: int) -> dict[str, Any]:
    home, remote = start_federation(tmp / "servers", 2)
    bot = BotProcess(
        home,
        tmp / "bot",
        allowed_servers=[home.server_name, remote.server_name],
        log_level="INFO",
    )
    clients: list[TestClient] = []
    try:
        await asyncio.to_thread(bot.start)
        for server, name in ((home, "alice"), (remote, "bob")):
            user = await server.aregister(f"{name}-{uuid.uuid4().hex[:6]}", "bench-pass")
            clients.append(await TestClient.create(server, user, tmp / "stores" / name))
        rooms = [await c.create_encrypted_dm(bot.user_id, wait_joined=60) for c in clients]
        shared = await shared_room(clients[0], clients[1], bot.user_id)
        for client, room in zip(clients, rooms, strict=True):
            for _ in range(WARMUP):
                await round_trip(client, room, "!ping")
        for _ in range(WARMUP):  # Bob's devices hold the room key before his server stops
            await round_trip(clients[0], shared, "!ping")
        local: list[float] = []
        far: list[float] = []
        while len(local) < n:
            for client, room, out in zip(clients, rooms, (local, far), strict=True):
                for _ in range(block):
                    out.append(await round_trip(client, room, "!ping"))
        during: list[float] = []
        with_frozen: list[float] = []
        remote.freeze()
        try:
            for _ in range(frozen):
                during.append(await round_trip(clients[0], rooms[0], "!ping", timeout=60))
                with_frozen.append(await round_trip(clients[0], shared, "!ping", timeout=60))
        finally:
            remote.thaw()
        return {
            "machine": machine(),
            "local": pcts(local),
            "remote": pcts(far),
            "local_while_remote_frozen": pcts(during),
            "with_frozen_people": pcts(with_frozen),
        }
    finally:
        for client in clients:
            await client.close()
        bot.close()
        home.close()
        remote.close()


async def shared_room(alice: TestClient, bob: TestClient, bot: str) -> str:
    """An encrypted room of Alice's with the bot and Bob (from the other server) joined."""
    room = await alice.create_encrypted_dm(bot, wait_joined=60)
    await alice.client.room_invite(room, bob.user_id)
    await bob.join(room, timeout=60)
    await alice.wait_joined(room, bob.user_id, 60)
    return room


def report(facts: dict[str, Any]) -> str:
    rows = [
        [label, f["n"], f["p50"], f.get("p90", "-"), f.get("p99", "-")]
        for label, f in (
            ("local person (bot's server)", facts["local"]),
            ("remote person (other server)", facts["remote"]),
            ("local person, other server frozen", facts["local_while_remote_frozen"]),
            ("same, in a room with its people", facts["with_frozen_people"]),
        )
    ]
    m = facts["machine"]
    title = f"!ping round trip, ms ({m['date']}, {m['cores']} cores, load {m['load_avg']})"
    return table(title, ["who", "n", "p50", "p90", "p99"], rows)


def main() -> None:
    parser = base_args(__doc__)
    parser.add_argument("--n", type=int, default=60, help="pings per person")
    parser.add_argument("--block", type=int, default=10, help="pings per alternating block")
    parser.add_argument("--frozen", type=int, default=10, help="pings while the other is frozen")
    args = parser.parse_args()
    run_and_report(
        "attache-fed-bench-",
        args,
        lambda tmp: measure(tmp, args.n, args.block, args.frozen),
        report,
    )


if __name__ == "__main__":
    main()
