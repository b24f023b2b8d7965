"""Element's "exclude insecure devices" mode accepts a nio bot only once it is cross-signed.

Needs a Synapse: set ATTACHE_SYNAPSE_URL and ATTACHE_SYNAPSE_SHARED_SECRET (its
``registration_shared_secret``; raise ``rc_room_creation`` and ``rc_message`` in its
config), plus Node and npm for tests/js.  Skipped otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

import aiohttp
import pytest
from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText

from bot.crypto.cross_signing import ensure_cross_signed
from tests.harness.element import run_element_client

HS = os.environ.get("ATTACHE_SYNAPSE_URL")
SHARED = os.environ.get("ATTACHE_SYNAPSE_SHARED_SECRET")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (HS and SHARED), reason="no Synapse configured"),
    pytest.mark.skipif(shutil.which("node") is None, reason="no node"),
]


async def register(localpart: str, password: str) -> str:
    url = f"{HS}/_synapse/admin/v1/register"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            nonce = (await resp.json())["nonce"]
        mac = hmac.new(SHARED.encode(), digestmod=hashlib.sha1)  # type: ignore[union-attr]
        mac.update(f"{nonce}\0{localpart}\0{password}\0notadmin".encode())
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": False,
            "mac": mac.hexdigest(),
        }
        async with http.post(url, json=body) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["user_id"]


async def start_bot(user_id: str, password: str, store: Path, cross_sign: bool) -> AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(
        HS, user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=True)
    )
    await client.login(password, device_name="bot")
    await client.keys_upload()
    if cross_sign:
        status = await ensure_cross_signed(
            HS,  # type: ignore[arg-type]
            client.access_token,
            user_id,
            client.device_id,
            client.olm.account.identity_keys["ed25519"],
            client.olm.account.sign,
            password,
            store / "xsign.keys",
            "test-secret",
        )
        assert status.problem is None and status.device_signed

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != client.user_id:
            await client.room_send(
                room.room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": "pong"},
                ignore_unverified_devices=True,
            )

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)
    await client.sync(timeout=0)
    return client


@pytest.mark.parametrize("cross_sign", [False, True])
async def test_element_exclude_insecure_mode(tmp_path: Path, cross_sign: bool) -> None:
    suffix = secrets.token_hex(4)
    bot_id = await register(f"xbot{suffix}", "bot-pw")
    user_id = await register(f"xuser{suffix}", "user-pw")
    bot = await start_bot(bot_id, "bot-pw", tmp_path / "bot", cross_sign)
    syncing = asyncio.create_task(bot.sync_forever(timeout=5_000))
    try:
        result = await asyncio.to_thread(
            run_element_client, HS, user_id, "user-pw", bot_id, "!ping", 20, expect_reply="pong"
        )
    finally:
        syncing.cancel()
        await bot.close()
    if cross_sign:
        assert result["ok"], result
        assert result["reply"] == "pong"
        assert result["bot_device_signed_by_owner"] is True
    else:
        assert not result["ok"]
        assert result["bot_device_signed_by_owner"] is False
        assert result["decrypt_error"] in (None, "UNSIGNED_SENDER_DEVICE")
