"""A stand-in bot for trying the Element test client before the real bot exists (dev aid).

It is a plain nio client that, with ``--cross-sign``, cross-signs its own device with
:func:`bot.crypto.cross_signing.ensure_cross_signed`; without it, it is what every nio
bot was before: a device that Element's "exclude insecure devices" mode refuses.  It
auto-joins invites, greets the room once on join (so the Element side can show whether
it can decrypt the bot) and answers every text message with ``pong``.

    python tests/js/dev_bot.py --homeserver http://127.0.0.1:8008 --user @bot:localhost \\
        --password ... --store /tmp/devbot [--cross-sign]

Prints one line per event of interest to stdout (``READY``, ``GOT <body>``,
``UNDECRYPTABLE``) so a driver script can count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomMessageText,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.crypto.cross_signing import ensure_cross_signed


def say(*parts: object) -> None:
    print(*parts, flush=True)


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homeserver", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--cross-sign", action="store_true")
    ap.add_argument("--secret", default="dev-bot-secret")
    args = ap.parse_args()

    args.store.mkdir(parents=True, exist_ok=True)
    creds_path = args.store / "credentials.json"
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = AsyncClient(args.homeserver, args.user, store_path=str(args.store), config=config)
    if creds_path.exists():
        creds = json.loads(creds_path.read_text())
        client.restore_login(creds["user_id"], creds["device_id"], creds["access_token"])
    else:
        resp = await client.login(args.password, device_name="dev-bot")
        if not isinstance(resp, LoginResponse):
            say("LOGIN FAILED", resp)
            return 1
        creds_path.write_text(
            json.dumps(
                {
                    "user_id": resp.user_id,
                    "device_id": resp.device_id,
                    "access_token": resp.access_token,
                }
            )
        )
    if client.should_upload_keys:
        await client.keys_upload()

    if args.cross_sign:
        status = await ensure_cross_signed(
            args.homeserver,
            client.access_token,
            client.user_id,
            client.device_id,
            client.olm.account.identity_keys["ed25519"],
            client.olm.account.sign,
            args.password,
            args.store / "cross_signing.keys",
            args.secret,
        )
        say("XSIGN", json.dumps(status.__dict__))
        if status.problem:
            return 2

    greeted: set[str] = set()
    started_ms = int(time.time() * 1000)

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def greet(room_id: str) -> None:
        if room_id in greeted:
            return
        greeted.add(room_id)
        await client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.notice", "body": "hello"},
            ignore_unverified_devices=True,
        )

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or event.server_timestamp < started_ms - 60_000:
            return
        say("GOT", event.body)
        await client.room_send(
            room.room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": "pong"},
            ignore_unverified_devices=True,
        )

    async def on_undecryptable(room: MatrixRoom, event: MegolmEvent) -> None:
        say("UNDECRYPTABLE", event.sender, event.session_id)

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)
    client.add_event_callback(on_undecryptable, MegolmEvent)

    async def after_sync(_resp: object) -> None:
        for room_id, room in client.rooms.items():
            joined = set(room.users) - set(room.invited_users)
            if room.encrypted and len(joined) >= 2 and room_id not in greeted:
                await greet(room_id)

    client.add_response_callback(after_sync)
    await client.sync(timeout=0, full_state=True)
    greeted.update(client.rooms)  # do not greet rooms from earlier runs
    say("READY", client.device_id)
    try:
        await client.sync_forever(timeout=10_000)
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
