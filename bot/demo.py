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
    ctx.setdefault(f"{who}_seen", set()).add(reply.event_id)
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


async def expect(ctx: dict[str, Any], who: str, text: str, timeout: float = 30) -> Any:
    """Wait for a bot message (any room) containing text; print it as the person saw it."""
    client = ctx[who]
    seen = ctx.setdefault(f"{who}_seen", set())

    def find() -> Any:
        for _, event in client.received:
            body = getattr(event, "body", "")
            if event.sender != client.user_id and text in body and event.event_id not in seen:
                return event
        return None

    event = await client._wait_until(find, timeout, f"a message with {text!r}")
    seen.add(event.event_id)
    say(f"bot → {who}", event.body)
    return event


async def step_liaison(ctx: dict[str, Any]) -> None:
    bob = ctx["bob"].user_id
    say("demo", "— liaison: alice (admin) puts bob on the DE-BERLIN desk and asks it —")
    await exchange(ctx, "alice", f'!dir post DE-BERLIN name="German attaché office" members={bob}')
    await exchange(ctx, "alice", "!request DE-BERLIN Visit of the CHOD -- Dates and programme?")
    await expect(ctx, "bob", "Subject: Visit of the CHOD")
    await exchange(ctx, "bob", "!ack LR-1")
    await expect(ctx, "alice", "LR-1 acknowledged")
    await exchange(ctx, "bob", "!reply LR-1 12-14 May suits us; programme follows.")
    await expect(ctx, "alice", "12-14 May suits us")
    await exchange(ctx, "alice", "!close LR-1 -- thank you")
    await expect(ctx, "bob", "closed")


async def step_actions(ctx: dict[str, Any]) -> None:
    from nio.crypto.attachments import decrypt_attachment
    from nio.events.room_events import RoomEncryptedFile

    bob = ctx["bob"].user_id
    say("demo", "— summit: alice opens one, gives bob an action item, bob does it —")
    await exchange(ctx, "alice", "!summit open Defence Ministers from=2026-12-01 to=2026-12-02")
    await exchange(ctx, "alice", f"!actions add S-1 {bob} due=2026-12-10 -- Circulate the draft")
    await expect(ctx, "bob", "A-1")
    await exchange(ctx, "bob", "!actions done A-1 -- sent to all delegations")
    await exchange(ctx, "alice", "!actions list S-1 status=all")
    await exchange(ctx, "alice", "!actions export S-1 csv")
    alice = ctx["alice"]

    def file_event() -> Any:
        found = [e for _, e in alice.received if isinstance(e, RoomEncryptedFile)]
        return found[-1] if found else None

    event = await alice._wait_until(file_event, 30, "the encrypted export")
    data = (await alice.client.download(mxc=event.url)).body
    plain = decrypt_attachment(data, event.key["k"], event.hashes["sha256"], event.iv)
    say("bot → alice", f"[encrypted file {event.body}, decrypted by alice]\n" + plain.decode())


async def step_schedule(ctx: dict[str, Any]) -> None:
    bob = ctx["bob"].user_id
    say("demo", "— schedule: a meeting with bob, the agenda in each zone, a reminder that fires —")
    await exchange(
        ctx, "alice", f'!meeting tomorrow 10:00 place="NATO HQ" with={bob} -- Attaché coordination'
    )
    await exchange(ctx, "bob", "!agenda 2")
    await exchange(ctx, "alice", "!remind in 5s -- call the Paris desk")
    await expect(ctx, "alice", "call the Paris desk", timeout=30)


async def step_languages(ctx: dict[str, Any]) -> None:
    bob = ctx["bob"].user_id
    say("demo", "— languages: alice writes in French, bob reads the bot in German —")
    await exchange(ctx, "alice", "!lang fr")
    await exchange(ctx, "bob", "!lang de")
    await exchange(ctx, "alice", "!request DE-BERLIN Visite du CEMA -- Dates et programme ?")
    await expect(ctx, "bob", "Betreff: Visite du CEMA")
    await exchange(ctx, "bob", "!ack LR-2")
    await expect(ctx, "alice", "LR-2 prise en compte par")
    await exchange(
        ctx, "alice", f"!meeting demain 10h with={bob} to=dm -- Coordination des attachés"
    )
    await expect(ctx, "bob", "hat Sie zu M-2 hinzugefügt")
    await exchange(ctx, "bob", "!help meeting")


STEPS: list[Step] = [
    step_rooms,
    step_basics,
    step_liaison,
    step_schedule,
    step_actions,
    step_languages,
]


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
