"""Long federation outage runs, outside `make test` (`make federation-outage`).

Not collected by default (the name does not start with test_): run explicitly with
    .venv/bin/python -m pytest -q tests/integration/outage_federation.py
"""

from __future__ import annotations

import asyncio
import shutil
import uuid

import pytest

from tests.harness.clients import TestClient
from tests.harness.federation import join_invited
from tests.integration.conftest import command, replied_to

pytest_plugins = ["tests.integration.federation_fixtures"]  # federation, home, remote, ...
pytestmark = pytest.mark.integration


async def test_device_added_while_its_server_is_down_gets_keys_after_it_returns(
    fed_bot, person, home, remote, store_dir
) -> None:
    """Bob's new device is known to the bot, but its server hangs when the bot shares a
    room key: the claim fails and nio leaves the device out of that session. Once the
    server is back, the bot's next message in the room is readable on the new device."""
    bot = fed_bot(allowed_servers=[home.server_name, remote.server_name])
    alice = await person(home, "alice", auto_join=True)
    bob = await person(remote, "bob")
    room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
    await alice.client.room_invite(room, bob.user_id)
    await bob.wait_invited(timeout=60)
    await join_invited(bob, room)
    await alice.wait_joined(room, bob.user_id, timeout=60)
    assert (await command(alice, room, "!ping", timeout=60))[1].body == "pong"
    # A second device of Bob's, signed by his own identity (the same key file).
    second_store = store_dir / f"bob-second-{uuid.uuid4().hex[:6]}"
    second_store.mkdir()
    first_store = store_dir / bob.user_id
    shutil.copy(first_store / "xsign.keys", second_store / "xsign.keys")
    second = await TestClient.create(remote, bob.user, second_store, new_device=True)
    try:
        # Wait until the home server shows the new device to people in the room.
        await alice._wait_until(
            lambda: any(
                d.id == second.device_id
                for d in alice.client.device_store.active_user_devices(bob.user_id)
            ),
            60,
            "Bob's second device, as the home server shows it",
        )
        remote.freeze()
        try:
            _, during = await command(alice, room, "!ping", timeout=60)
            assert during.body == "pong"
        finally:
            remote.thaw()
        # After the server's return: within 30 s, the bot's answers reach the new device.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            event_id, _reply = await command(alice, room, "!ping", timeout=60)
            try:
                got = await second.wait_for_message(
                    room, lambda e, asked=event_id: replied_to(e) == asked, timeout=3
                )
                break
            except TimeoutError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
        assert got.decrypted and got.body == "pong"
    finally:
        await second.close()
