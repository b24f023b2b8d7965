"""Device trust against real Synapse: Element's own crypto stack, and the refusals."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText

from commands.fingerprints import fingerprint
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.element import run_element_client
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration


def people_rows(bot: BotProcess) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{bot.data_dir / 'attache.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT user_id, timezone FROM people").fetchall()


async def test_element_in_exclude_insecure_mode_and_bot_read_each_other(
    bot_factory, new_user, synapse
) -> None:
    """Element's js-sdk + crypto-wasm, OnlySignedDevicesIsolationMode, against the real bot."""
    user = new_user("element")
    bot: BotProcess = bot_factory(allowed_users=[user["user_id"]])
    assert bot.health()["checks"]["cross_signing"]["ok"] is True
    result = await asyncio.to_thread(
        run_element_client,
        synapse.url,
        user["user_id"],
        user["password"],
        bot.user_id,
        "!ping",
        60,
        expect_reply="pong",
    )
    assert result["ok"], result["stderr_tail"]
    assert result["reply"] == "pong"  # Element decrypted the bot's reply ...
    assert result["decrypt_error"] is None
    assert result["bot_device_signed_by_owner"] is True  # ... and sees its device as signed
    assert "handled" in bot.log_text() and "outcome=ok" in bot.log_text()  # bot decrypted it


async def test_user_without_cross_signing_is_refused_once_and_nothing_changes(
    bot_factory, people, store_dir
) -> None:
    alice: TestClient = await people("alice", cross_sign=False)
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    first = await alice.send_text(room, "!tz Europe/Paris")
    refusal = await alice.wait_for_message(room, lambda e: replied_to(e) == first, timeout=20)
    assert "no cross-signing identity" in refusal.body
    await alice.send_text(room, "!tz Asia/Tokyo")
    await asyncio.sleep(2)
    assert len([e for e in alice.messages(room) if e.sender == bot.user_id]) == 1
    assert people_rows(bot) == []
    # Once the device is signed by its owner the same person is served.
    await alice.cross_sign(store_dir / "alice-identity")
    _, reply = await command(alice, room, "!ping", timeout=30)
    assert reply.body == "pong"


async def test_changed_identity_is_refused_until_an_admin_approves(
    bot_factory, people, store_dir
) -> None:
    admin: TestClient = await people("admin", auto_join=True)
    alice: TestClient = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], admins=[admin.user_id])
    room = await open_dm(alice, bot)
    _, pong = await command(alice, room, "!ping")
    assert pong.body == "pong"  # identity pinned on first sight
    old_key = alice.master_key
    assert old_key is not None
    new_key = await alice.cross_sign(store_dir / "alice-new", reset=True)
    _, refused = await command(alice, room, "!tz Europe/Paris", timeout=30)
    assert "identity changed" in refused.body
    assert people_rows(bot) == []
    notice = await _any_room_message(admin, "Security notice", timeout=30)
    assert alice.user_id in notice.body
    assert f"Old master key: {fingerprint(old_key)}" in notice.body  # both keys, in full
    assert f"New master key: {fingerprint(new_key)}" in notice.body
    admin_room = await open_dm(admin, bot)
    _, bare = await command(admin, admin_room, f"!trust approve {alice.user_id}")
    assert "Example: !trust approve" in bare.body  # the key is required
    _, wrong = await command(admin, admin_room, f"!trust approve {alice.user_id} {old_key}")
    assert "Nothing was approved" in wrong.body
    _, approved = await command(
        admin, admin_room, f"!trust approve {alice.user_id} {fingerprint(new_key)}"
    )
    assert "Approved" in approved.body
    _, ok = await command(alice, room, "!tz Europe/Paris", timeout=30)
    assert "Time zone set" in ok.body


async def test_unsigned_login_of_an_allowed_user_is_refused_and_gets_no_keys(
    bot_factory, people, synapse, store_dir
) -> None:
    alice: TestClient = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")
    # Someone with Alice's password logs in a new device and does not (cannot) sign it.
    intruder = await TestClient.create(
        synapse, alice.user, store_dir / "intruder", new_device=True, cross_sign=False
    )
    try:
        await intruder.wait_room(room)
        bad = await intruder.send_text(room, "!tz Asia/Tokyo")
        warning = await alice.wait_for_message(room, lambda e: replied_to(e) == bad, timeout=30)
        assert intruder.device_id in warning.body  # Alice sees which session was refused
        assert people_rows(bot) == []
        # The bot's next message is not readable by the intruder's device.
        _, reply = await command(alice, room, "!ping", timeout=30)
        assert reply.body == "pong"
        await intruder._wait_until(
            lambda: any(e.event_id == reply.event_id for _, e in intruder.undecryptable) or None,
            20,
            "the reply to reach the intruder (undecryptable)",
        )
        assert not any(e.event_id == reply.event_id for _, e in intruder.received)
    finally:
        await intruder.close()


async def _any_room_message(client: TestClient, text: str, timeout: float):
    def find():
        for _, event in client.received:
            if text in getattr(event, "body", ""):
                return event
        return None

    return await client._wait_until(find, timeout, f"a message containing {text!r}")


async def test_control_a_plain_nio_bot_is_not_readable_in_exclude_insecure_mode(
    new_user, synapse, tmp_path
) -> None:
    """The failure this project's cross-signing removes, so the Element test above can fail.

    A nio bot as every nio bot was (its device not cross-signed) answers `!ping`; Element
    in "exclude insecure devices" mode withholds its keys from the bot and refuses the bot's
    reply (UNSIGNED_SENDER_DEVICE), and reports the bot's device as not owner-signed.
    """
    user = new_user("element")
    bot_user = new_user("plainbot")
    client = AsyncClient(
        synapse.url,
        bot_user["user_id"],
        store_path=str(tmp_path),
        config=AsyncClientConfig(encryption_enabled=True),
    )
    client.restore_login(bot_user["user_id"], bot_user["device_id"], bot_user["access_token"])
    got: list[str] = []

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != client.user_id:
            got.append(event.body)
            await client.room_send(
                room.room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": "pong"},
                ignore_unverified_devices=True,
            )

    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_text, RoomMessageText)
    await client.keys_upload()
    await client.sync(timeout=0)
    syncing = asyncio.create_task(client.sync_forever(timeout=2_000))
    try:
        result = await asyncio.to_thread(
            run_element_client,
            synapse.url,
            user["user_id"],
            user["password"],
            bot_user["user_id"],
            "!ping",
            15,
            expect_reply="pong",
        )
    finally:
        syncing.cancel()
        await asyncio.gather(syncing, return_exceptions=True)
        await client.close()
    assert not result["ok"]
    assert result["bot_device_signed_by_owner"] is False
    assert result["reply"] is None
    assert got == []  # the bot never read the message: Element withheld the room key


async def test_strict_mode_trusts_only_configured_identities(bot_factory, people) -> None:
    alice: TestClient = await people("alice")
    bob: TestClient = await people("bob")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id, bob.user_id],
        settings={"trust_mode": "strict", "trusted_identities": {alice.user_id: alice.master_key}},
    )
    room_a = await open_dm(alice, bot)
    _, pong = await command(alice, room_a, "!ping")
    assert pong.body == "pong"
    room_b = await open_dm(bob, bot)
    _, refused = await command(bob, room_b, "!tz Europe/Paris")
    assert "only trusts people whose cross-signing identity an operator has configured" in (
        refused.body
    )
    assert people_rows(bot) == []
