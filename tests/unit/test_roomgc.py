"""Rooms the bot is no longer in leave nothing behind in memory (per-room leak, issue 16)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nio import AsyncClient, MatrixRoom
from nio.crypto.memorystores import GroupSessionStore

from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.outbox.sending import Outbox
from bot.roomgc import RoomGC
from bot.store import Store
from bot.sync import SyncLoop
from bot.transport import MatrixTransport
from commands.context import Incoming, OutMessage
from tests.harness.fakes import BotCore, FakeClock, make_settings

ROOMS = [f"!r{i}:test" for i in range(5)]


async def test_dispatcher_keeps_no_queue_or_worker_for_idle_rooms(core: BotCore) -> None:
    for i, room in enumerate(ROOMS):
        core.dispatcher.submit(
            Incoming(event_id=f"$e{i}", room_id=room, sender="@alice:test", body="!ping")
        )
    assert await core.dispatcher.drain(timeout=10)
    await asyncio.sleep(0)  # let the workers finish their last step
    assert await core.count("handled_events") == len(ROOMS)
    assert core.dispatcher.queues._queues == {} and core.dispatcher.queues._workers == {}
    # A room that speaks again gets a fresh worker.
    core.dispatcher.submit(
        Incoming(event_id="$again", room_id=ROOMS[0], sender="@alice:test", body="!ping")
    )
    assert await core.dispatcher.drain(timeout=10)
    assert await core.count("handled_events") == len(ROOMS) + 1


class _Transport:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to=None):
        self.sent.append(room_id)
        return f"$sent{len(self.sent)}"

    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        raise AssertionError("not used")

    async def dm_room(self, user_id: str) -> str:
        raise AssertionError("not used")


async def test_outbox_keeps_no_worker_for_rooms_with_nothing_to_send(tmp_path: Path) -> None:
    store = Store(tmp_path / "o.db")
    await store.open()
    transport = _Transport()
    outbox = Outbox(store, transport, FakeClock(), Metrics())
    try:
        async with store.write() as db:
            await enqueue(
                db, [OutMessage(body="hi", room_id=r) for r in ROOMS], "2026-03-02T09:00:00Z"
            )
        runner = asyncio.create_task(outbox.run())
        assert await outbox.drain(timeout=10)
        for _ in range(50):
            if not outbox._workers:
                break
            await asyncio.sleep(0.02)
        assert sorted(transport.sent) == sorted(ROOMS)
        assert outbox._workers == {}
        await outbox.stop()
        await asyncio.gather(runner, return_exceptions=True)
    finally:
        await store.close()


def _client_in(rooms: list[str]) -> AsyncClient:
    client = AsyncClient("http://127.0.0.1:1", "@bot:test")
    inbound = GroupSessionStore()
    client.olm = SimpleNamespace(  # type: ignore[assignment]
        outbound_group_sessions={}, inbound_group_store=inbound
    )
    for room_id in rooms:
        client.rooms[room_id] = MatrixRoom(room_id, "@bot:test", encrypted=True)
        client.encrypted_rooms.add(room_id)
        client.olm.outbound_group_sessions[room_id] = object()
        inbound._entries[room_id]["sender-key"]["session"] = object()
    return client


async def test_room_gc_forgets_nio_state_and_send_lock_but_not_encryption() -> None:
    client = _client_in(ROOMS)
    transport = MatrixTransport(client)
    for room_id in ROOMS:
        transport._room_locks[room_id] = asyncio.Lock()
    busy = transport._room_locks[ROOMS[1]]
    await busy.acquire()  # a send in flight keeps its lock (one send per room at a time)
    gc = RoomGC(client, transport.forget_room)
    gc.room_left(ROOMS[0])
    gc.room_left(ROOMS[1])
    assert ROOMS[0] not in client.rooms and ROOMS[1] not in client.rooms
    assert set(client.rooms) == set(ROOMS[2:])
    assert ROOMS[0] not in client.olm.outbound_group_sessions
    assert ROOMS[0] not in client.olm.inbound_group_store._entries
    assert ROOMS[0] not in transport._room_locks
    assert transport._room_locks[ROOMS[1]] is busy
    assert ROOMS[0] in client.encrypted_rooms  # never sent to in the clear if it comes back
    busy.release()
    await client.close()


async def test_sync_reports_rooms_left_and_not_rooms_rejoined(tmp_path: Path) -> None:
    left: list[str] = []
    store = Store(tmp_path / "s.db")
    await store.open()
    loop = SyncLoop(
        client=SimpleNamespace(user_id="@bot:test", rooms={}),  # type: ignore[arg-type]
        settings=make_settings(tmp_path),
        store=store,
        dispatcher=None,  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=FakeClock(),
        on_left=left.append,
    )
    loop.refusals._told = {(ROOMS[0], "@a:test", "DEV"): 1.0, (ROOMS[2], "@a:test", "DEV"): 2.0}
    empty = SimpleNamespace(state=[], timeline=SimpleNamespace(events=[], limited=False))
    resp = SimpleNamespace(
        device_list=SimpleNamespace(changed=[], left=[]),
        rooms=SimpleNamespace(
            invite={}, join={ROOMS[1]: empty}, leave={ROOMS[0]: None, ROOMS[1]: None}
        ),
    )
    try:
        await loop._handle(resp, first=False)  # type: ignore[arg-type]
    finally:
        await store.close()
    assert left == [ROOMS[0]]
    assert loop.refusals._told == {(ROOMS[2], "@a:test", "DEV"): 2.0}
