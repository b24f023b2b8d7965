"""End-to-end check of the harness itself: real Synapse, two real E2EE nio clients."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import UserFactory
from tests.harness.clients import TestClient
from tests.harness.synapse import SynapseServer

pytestmark = pytest.mark.integration


async def test_encrypted_dm_roundtrip(
    synapse: SynapseServer, new_user: UserFactory, store_dir: Path
) -> None:
    alice = await TestClient.create(synapse, new_user("alice"), store_dir / "alice")
    bob = await TestClient.create(synapse, new_user("bob"), store_dir / "bob", auto_join=True)
    try:
        room_id = await alice.create_encrypted_dm(bob.user_id, wait_joined=10)
        t0 = time.monotonic()
        event_id = await alice.send_text(room_id, "hello bob")
        got = await bob.wait_for_message(room_id, lambda ev: ev.body == "hello bob")
        print(f"first E2EE message delivered in {(time.monotonic() - t0) * 1000:.0f} ms")
        assert got.event_id == event_id
        assert got.sender == alice.user_id
        assert got.decrypted  # arrived as m.room.encrypted and was decrypted by nio
        assert not bob.undecryptable

        reply_id = await bob.send_text(room_id, "hi alice", msgtype="m.notice", reply_to=event_id)
        reply = await alice.wait_for_message(room_id, lambda ev: ev.event_id == reply_id)
        assert reply.source["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == event_id

        stored = await synapse.aroom_messages_as_admin(room_id)
        ids = {ev["event_id"]: ev["type"] for ev in stored}
        assert ids[event_id] == "m.room.encrypted"
        assert ids[reply_id] == "m.room.encrypted"
        assert "m.room.message" not in ids.values()
    finally:
        await alice.close()
        await bob.close()


async def test_plain_room_and_restart(
    synapse: SynapseServer, new_user: UserFactory, store_dir: Path
) -> None:
    alice = await TestClient.create(synapse, new_user("alice"), store_dir / "alice")
    bob = await TestClient.create(synapse, new_user("bob"), store_dir / "bob", auto_join=True)
    try:
        room_id = await alice.create_plain_room(bob.user_id, wait_joined=10)
        port = synapse.port
        await synapse.arestart(downtime=0.5)
        assert synapse.port == port
        event_id = await alice.send_text(room_id, "after restart")
        got = await bob.wait_for_message(room_id, lambda ev: ev.body == "after restart", 20)
        assert got.event_id == event_id
        assert not got.decrypted
        stored = synapse.room_messages_as_admin(room_id)
        assert {ev["event_id"]: ev["type"] for ev in stored}[event_id] == "m.room.message"
    finally:
        await alice.close()
        await bob.close()


def _burst(server: SynapseServer, token: str, room_id: str, n: int) -> list[int]:
    statuses = []
    for i in range(n):
        status, _ = server.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/burst-{time.time_ns()}-{i}",
            {"msgtype": "m.text", "body": f"burst {i}"},
            token=token,
        )
        statuses.append(status)
        if status == 429:  # Synapse holds each 429 back ~0.5 s; one is proof enough
            break
    return statuses


def test_ratelimits_generous_vs_default(
    synapse: SynapseServer, synapse_factory: Callable[..., SynapseServer]
) -> None:
    for server, expect_429 in ((synapse, False), (synapse_factory(default_ratelimits=True), True)):
        user = server.register(f"burst-{uuid.uuid4().hex[:8]}", "pw")
        status, room = server.request(
            "POST", "/_matrix/client/v3/createRoom", {}, token=user["access_token"]
        )
        assert status == 200
        statuses = _burst(server, user["access_token"], room["room_id"], 20)
        assert (429 in statuses) is expect_429, statuses
        if expect_429:  # the admin override lifts the limit for this user
            server.override_ratelimit(user["user_id"])
            assert set(_burst(server, user["access_token"], room["room_id"], 20)) == {200}
