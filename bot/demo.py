"""`attache-bot demo`: a local Synapse, the bot, two attachés, one scripted E2EE conversation.

Dev-only (needs the repository's tests/harness): everything runs on 127.0.0.1 and is
removed at the end; the transcript shows what each person saw, decrypted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

T0 = time.monotonic()


def say(who: str, text: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    lines = text.splitlines() or [""]
    print(f"[{stamp} +{time.monotonic() - T0:5.1f}s] {who}: {lines[0]}")
    for line in lines[1:]:
        print(f"{' ' * 26}{line}")
    sys.stdout.flush()


Step = Callable[[dict[str, Any]], Awaitable[None]]


async def _conversation(workdir: Path) -> None:
    from tests.harness.bot import BotProcess
    from tests.harness.clients import TestClient
    from tests.harness.synapse import SynapseServer

    say("demo", "starting a local Synapse on 127.0.0.1 (first run installs it: ~20 s)")
    synapse = SynapseServer()
    synapse.start(workdir / "synapse")
    clients: list[TestClient] = []
    bot: BotProcess | None = None
    try:
        alice_user = synapse.register("alice", "alice-demo-password")
        bob_user = synapse.register("bob", "bob-demo-password")
        bot = BotProcess(
            synapse,
            workdir / "bot",
            localpart="attache",
            allowed_servers=[synapse.server_name],
            admins=[alice_user["user_id"]],
            log_level="INFO",
        )
        say("demo", f"starting the bot as {bot.user_id} (data in {bot.data_dir})")
        await bot.astart()
        for user in (alice_user, bob_user):
            client = await TestClient.create(
                synapse, user, workdir / "clients" / user["user_id"], auto_join=True
            )
            clients.append(client)
        alice, bob = clients
        ctx: dict[str, Any] = {"bot": bot, "alice": alice, "bob": bob, "synapse": synapse}
        for step in STEPS:
            await step(ctx)
        stored = await synapse.aroom_messages_as_admin(ctx["alice_room"])
        kinds = sorted({e["type"] for e in stored if "state_key" not in e})
        say("demo", f"what the server stored for alice's DM: {', '.join(kinds)}")
    finally:
        for client in clients:
            await client.close()
        if bot is not None:
            code = await bot.astop()
            say("demo", f"bot stopped (exit {code})")
        synapse.close()


async def exchange(ctx: dict[str, Any], who: str, body: str, timeout: float = 30) -> Any:
    client = ctx[who]
    room = ctx[f"{who}_room"]
    say(f"{who} → bot", body)
    event_id = await client.send_text(room, body)

    def is_reply(event: Any) -> bool:
        relates = (event.source.get("content") or {}).get("m.relates_to") or {}
        return (relates.get("m.in_reply_to") or {}).get("event_id") == event_id

    reply = await client.wait_for_message(room, is_reply, timeout=timeout)
    say(f"bot → {who}", reply.body)
    return reply


async def step_rooms(ctx: dict[str, Any]) -> None:
    for who in ("alice", "bob"):
        ctx[f"{who}_room"] = await ctx[who].create_encrypted_dm(ctx["bot"].user_id, wait_joined=30)
        say("demo", f"{who} opened an encrypted DM with the bot")


async def step_basics(ctx: dict[str, Any]) -> None:
    await exchange(ctx, "alice", "!help")
    await exchange(ctx, "alice", "!ping")
    await exchange(ctx, "bob", "!tz Europe/Berlin")


STEPS: list[Step] = [step_rooms, step_basics]


def main(args: argparse.Namespace) -> int:
    repo = Path(__file__).resolve().parents[1]
    if (repo / "tests" / "harness").is_dir() and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        import tests.harness.synapse  # noqa: F401
    except ImportError:
        print(
            "attache-bot demo runs from a source checkout (it needs tests/harness)", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.ERROR)  # the transcript is the output
    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        asyncio.run(_conversation(workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say("demo", "done; everything it started is stopped and removed")
    return 0
