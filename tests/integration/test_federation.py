"""Two homeservers federating over TLS on loopback: the bot on the first, people on both.

The servers are started once per session, and only when a test here runs. The bot lives on
`home`; `remote` is another nation's server. Every MXID carries the server's port.
"""

from __future__ import annotations

import asyncio

import pytest
from nio import RoomCreateResponse, RoomPreset

from tests.harness.bot import BotProcess
from tests.harness.clients import ENCRYPTION_STATE
from tests.harness.federation import join_invited
from tests.integration.conftest import command, replied_to

pytest_plugins = ["tests.integration.federation_fixtures"]  # federation, home, remote, ...
pytestmark = pytest.mark.integration


async def dm_of(bot: BotProcess, user_id: str, timeout: float = 30) -> str | None:
    """The room the bot registered as this person's DM (waits for it to appear)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await asyncio.to_thread(
            bot.query, "SELECT room_id FROM dm_rooms WHERE user_id = ?", user_id
        )
        if rows or asyncio.get_running_loop().time() > deadline:
            return str(rows[0][0]) if rows else None
        await asyncio.sleep(0.3)


async def test_servers_federate_over_tls(home, remote, person) -> None:
    """The fixture itself: a remote person joins a room on home and reads its E2EE messages."""
    assert home.server_name != remote.server_name and ":" in home.server_name
    alice = await person(home, "alice")
    bob = await person(remote, "bob", auto_join=True)
    room = await alice.create_encrypted_dm(bob.user_id, wait_joined=60)
    await bob.wait_joined(room, alice.user_id, timeout=30)
    await alice.send_text(room, "hello across servers")
    got = await bob.wait_for_message(room, lambda e: e.sender == alice.user_id, timeout=30)
    assert got.body == "hello across servers" and got.decrypted
    stored = await home.aroom_messages_as_admin(room)
    assert {e["type"] for e in stored if "state_key" not in e} == {"m.room.encrypted"}


async def test_remote_person_is_answered_first_time_and_gets_a_dm(fed_bot, person, remote) -> None:
    """Fresh remote people: the first command is answered (not refused for a key state the
    bot's server is still fetching), and their DM is registered as theirs."""
    bot = fed_bot(allowed_servers=[remote.server_name])
    for n in range(3):
        bob = await person(remote, f"bob{n}")
        room = await bob.create_encrypted_dm(bot.user_id, wait_joined=60)
        _, reply = await command(bob, room, "!ping", timeout=60)
        assert reply.body == "pong", f"person {n}: {reply.body}"
        assert reply.decrypted
        assert await dm_of(bot, bob.user_id) == room, f"person {n}: DM not registered"
    assert "no cross-signing identity" not in " ".join(
        e.body for _r, e in bob.received if e.sender == bot.user_id
    )


async def test_join_is_retried_when_the_inviting_server_drops_out(fed_bot, person, remote) -> None:
    """The inviting server vanishes right after its invite: the bot's join fails, is
    retried with backoff, and succeeds once the server is back."""
    bot = fed_bot(allowed_servers=[remote.server_name])
    bob = await person(remote, "bob")
    resp = await bob.client.room_create(
        is_direct=True,
        invite=[bot.user_id],
        preset=RoomPreset.trusted_private_chat,
        initial_state=[ENCRYPTION_STATE],
    )
    assert isinstance(resp, RoomCreateResponse), resp
    remote.freeze()  # the invite is on the bot's server; the room's server is not answering
    try:
        await asyncio.sleep(1)
        await asyncio.to_thread(remote.kill)
        await asyncio.sleep(2)
    finally:
        remote.thaw()
    await asyncio.to_thread(remote._spawn)
    await bob.wait_joined(resp.room_id, bot.user_id, timeout=90)
    _, reply = await command(bob, resp.room_id, "!ping", timeout=60)
    assert reply.body == "pong"
    assert "could not join" not in bot.log_text()


async def test_allow_list_is_enforced_against_remote_people(fed_bot, person, home, remote) -> None:
    """allowed_servers names the home server only: a remote person in the same room gets no
    answer and no readable message, and their own DM invite is declined."""
    alice = await person(home, "alice", auto_join=True)
    mallory = await person(remote, "mallory")
    bot = fed_bot(allowed_servers=[home.server_name])
    dm = await mallory.create_encrypted_dm(bot.user_id)
    room = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
    await alice.client.room_invite(room, mallory.user_id)
    await mallory._wait_until(lambda: room in mallory.client.invited_rooms, 60, "invite")
    await join_invited(mallory, room)
    await alice.wait_joined(room, mallory.user_id, timeout=60)
    ignored = await mallory.send_text(room, "!ping")
    _, reply = await command(alice, room, "!ping", timeout=60)
    assert reply.body == "pong"
    # Mallory sees the bot's reply only as ciphertext she has no key for.
    await mallory._wait_until(
        lambda: [e for r, e in mallory.undecryptable if r == room and e.sender == bot.user_id],
        60,
        "the bot's reply, undecryptable",
    )
    assert not [e for e in mallory.messages(room) if e.sender == bot.user_id]
    assert not [e for e in mallory.messages(room) if replied_to(e) == ignored]
    with pytest.raises(TimeoutError):
        await mallory.wait_joined(dm, bot.user_id, timeout=3)
    assert await dm_of(bot, mallory.user_id, timeout=0) is None


async def test_frozen_server_does_not_hold_up_a_local_room(fed_bot, person, home, remote) -> None:
    """While the remote server hangs (SIGSTOP), a person on the bot's own server is still
    answered: in a room without remote people, and in a room shared with the frozen
    server's people (their devices hold the room key already; nothing waits on them)."""
    bot = fed_bot(allowed_servers=[home.server_name, remote.server_name])
    alice = await person(home, "alice")
    bob = await person(remote, "bob")
    local = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
    far = await bob.create_encrypted_dm(bot.user_id, wait_joined=60)
    assert (await command(bob, far, "!ping", timeout=60))[1].body == "pong"
    shared = await alice.create_encrypted_dm(bot.user_id, wait_joined=60)
    await alice.client.room_invite(shared, bob.user_id)
    await join_invited(bob, shared)
    await alice.wait_joined(shared, bob.user_id, timeout=60)
    assert (await command(alice, shared, "!ping", timeout=60))[1].body == "pong"
    remote.freeze()
    try:
        for room in (local, shared, local, shared):
            _, reply = await command(alice, room, "!ping", timeout=30)
            assert reply.body == "pong"
        assert remote.proc is not None and remote.proc.poll() is None
    finally:
        remote.thaw()
    assert (await command(bob, far, "!ping", timeout=90))[1].body == "pong"
