"""A restart resumes from the saved token with the rooms the store keeps (bot/room_list.py)
instead of asking for full state; it asks for full state whenever that list may be wrong.

The sync loop runs for real against nio's own response handling; only the homeserver's
answers are given (nio's SyncResponse parsed from JSON, as nio parses Synapse's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, AsyncClientConfig, JoinError, JoinResponse, SyncResponse

from bot import kv, room_list
from bot.invites import JOINING
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.store import Store, open_store
from bot.sync import SyncLoop
from tests.harness.fakes import FakeClock, make_settings

BOT = "@bot:test"
ENCRYPTED, PLAIN, OTHER = "!enc:test", "!plain:test", "!other:test"


def _state(kind: str, content: dict[str, Any], n: int) -> dict[str, Any]:
    return {"type": kind, "state_key": "", "content": content, "event_id": f"$s{n}",
            "sender": "@alice:test", "origin_server_ts": 1}  # fmt: skip


def _room(encrypted: bool, n: int = 0) -> dict[str, Any]:
    state = [_state("m.room.name", {"name": "a room"}, n)]
    if encrypted:
        state.append(_state("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}, n + 1))
    return {"state": {"events": state}, "timeline": {"events": [], "limited": False}}


def _body(token: str, join: dict[str, Any] | None = None, leave: list[str] = ()) -> dict:  # type: ignore[assignment]
    rooms: dict[str, Any] = {"join": join or {}, "invite": {}, "leave": {}}
    for room_id in leave:
        rooms["leave"][room_id] = {"state": {"events": []}, "timeline": {"events": []}}
    return {"next_batch": token, "rooms": rooms}


class _Client(AsyncClient):
    """nio's client with the homeserver's answers given: what each sync asked for is kept."""

    def __init__(self, answers: list[dict[str, Any]], encrypted_rooms: set[str] = set()) -> None:  # noqa: B006
        config = AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
        super().__init__("http://127.0.0.1:9", BOT, config=config)
        self.user_id = BOT  # as restore_login sets it
        self.answers = answers
        self.asked: list[tuple[str | None, bool]] = []
        self.encrypted_rooms = set(encrypted_rooms)  # nio's crypto store's, as loaded
        self.joins: list[str] = []

    async def sync(self, timeout: Any = None, sync_filter: Any = None, since: Any = None,
                   full_state: Any = None, **_: Any) -> SyncResponse:  # fmt: skip
        self.asked.append((since, bool(full_state)))
        resp = SyncResponse.from_dict(self.answers.pop(0))
        assert isinstance(resp, SyncResponse), resp
        await self.receive_response(resp)
        return resp

    async def send_to_device_messages(self) -> list[Any]:
        return []

    async def join(self, room_id: str) -> JoinResponse | JoinError:  # type: ignore[override]
        self.joins.append(room_id)
        return JoinResponse(room_id)


class _Dispatcher:
    async def drain(self, timeout: float) -> bool:
        return True


async def _run(
    tmp_path: Path, client: _Client, store: Store, *, syncs: int = 1, **kw: Any
) -> SyncLoop:
    """One process of the sync loop: `syncs` syncs, then stopped."""
    done = []

    def synced() -> None:
        done.append(1)
        if len(done) == syncs:
            loop._stop.set()

    loop = SyncLoop(
        client=client,
        settings=make_settings(tmp_path),
        store=store,
        dispatcher=_Dispatcher(),  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=FakeClock(),
        on_synced=synced,
        **kw,
    )
    await loop.run()
    return loop


async def _rows(store: Store) -> dict[str, int]:
    async with store.reader.execute("SELECT room_id, encrypted FROM bot_rooms") as cur:
        return {str(r): int(e) for r, e in await cur.fetchall()}


@pytest.fixture
async def store(store_url: str):  # type: ignore[no-untyped-def]
    """The bot's store on SQLite and on PostgreSQL."""
    s = open_store(store_url)
    await s.open()
    yield s
    await s.close()


async def _first_process(tmp_path: Path, store: Store) -> None:
    client = _Client([_body("t1", {ENCRYPTED: _room(True), PLAIN: _room(False, 5)})])
    await _run(tmp_path, client, store)
    assert client.asked == [(None, True)]
    await client.close()


async def test_first_start_reads_full_state_and_marks_the_list_complete(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    assert await _rows(store) == {ENCRYPTED: 1, PLAIN: 0}
    assert await kv.get(store, room_list.KEY) == room_list.COMPLETE
    assert await kv.get(store, "sync_token") == "t1"


async def test_a_restart_resumes_from_the_token_with_the_stored_rooms(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    client = _Client([_body("t2"), _body("t3")])
    await _run(tmp_path, client, store, syncs=2)
    assert client.asked == [("t1", False), ("t2", False)]  # no full state at all
    assert set(client.rooms) == {ENCRYPTED, PLAIN}
    assert client.rooms[ENCRYPTED].encrypted is True
    assert client.rooms[PLAIN].encrypted is False  # as its full state showed: never sent to
    assert not client.rooms[ENCRYPTED].members_synced  # members asked before a send
    assert OTHER not in client.rooms  # unknown: not in the list, never sent to
    await client.close()


async def test_nio_knowing_a_room_encrypted_wins_over_a_stored_plain_flag(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    client = _Client([_body("t2")], encrypted_rooms={PLAIN})
    await _run(tmp_path, client, store)
    assert client.rooms[PLAIN].encrypted is True
    await client.close()


async def test_joins_leaves_and_encryption_since_the_token_reach_the_next_process(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    # Second process: a new room, the plain room encrypted, the encrypted one left.
    turned = {"state": {"events": []}, "timeline": {"events": [
        _state("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}, 9)]}}  # fmt: skip
    client = _Client([_body("t2", {OTHER: _room(True, 7), PLAIN: turned}, leave=[ENCRYPTED])])
    await _run(tmp_path, client, store)
    await client.close()
    third = _Client([_body("t3")])
    await _run(tmp_path, third, store)
    assert third.asked == [("t2", False)]
    assert set(third.rooms) == {OTHER, PLAIN}
    assert third.rooms[OTHER].encrypted and third.rooms[PLAIN].encrypted
    await third.close()


async def test_a_store_without_the_marker_asks_for_full_state_once(
    tmp_path: Path, store: Store
) -> None:
    """A store from before the list was kept (or whose list write failed)."""
    await _first_process(tmp_path, store)
    await kv.delete(store, room_list.KEY)
    client = _Client([_body("t2", {ENCRYPTED: _room(True)})])
    await _run(tmp_path, client, store)
    assert client.asked == [("t1", True)]
    # The full state lists every room the bot is in: the plain one is gone from the list.
    assert await _rows(store) == {ENCRYPTED: 1}
    assert await kv.get(store, room_list.KEY) == room_list.COMPLETE
    await client.close()


async def test_a_failed_list_write_makes_the_next_process_ask_for_full_state(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    client = _Client([_body("t2", {OTHER: _room(True, 7)})])
    loop = SyncLoop(
        client=client,
        settings=make_settings(tmp_path),
        store=store,
        dispatcher=_Dispatcher(),  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=FakeClock(),
    )
    loop.on_synced = loop._stop.set

    async def broken(resp: Any, *, full_state: bool = False) -> None:
        raise OSError("disk full")

    loop.membership.note_rooms = broken  # type: ignore[method-assign]
    await loop.run()
    await client.close()
    assert await kv.get(store, room_list.KEY) == room_list.INCOMPLETE
    assert await kv.get(store, "sync_token") == "t2"  # the sync itself was not held up
    again = _Client([_body("t3", {ENCRYPTED: _room(True), OTHER: _room(True, 7)})])
    await _run(tmp_path, again, store)
    assert again.asked == [("t2", True)]
    assert await _rows(store) == {ENCRYPTED: 1, OTHER: 1}
    await again.close()


async def test_after_a_restore_the_first_sync_reads_full_state(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    client = _Client([_body("t2", {ENCRYPTED: _room(True)})])
    await _run(tmp_path, client, store, full_state_first=True)
    assert client.asked == [("t1", True)]
    await client.close()


async def test_a_join_still_being_retried_is_resumed_by_the_next_process(
    tmp_path: Path, store: Store
) -> None:
    """Its invitation is before the saved token: no incremental sync shows it again."""
    await _first_process(tmp_path, store)
    await kv.put(store, JOINING + OTHER, '["@alice:test", true]')
    client = _Client([_body("t2")])
    loop = await _run(tmp_path, client, store)
    for _inviter, task in list(loop.invites._joins.values()):
        await task
    assert client.joins == [OTHER]
    assert await kv.get(store, JOINING + OTHER) is None  # settled
    assert await kv.get(store, f"dm_candidate:{OTHER}") == "@alice:test"  # a possible DM
    await client.close()


async def test_a_join_left_to_the_background_is_kept_until_settled(
    tmp_path: Path, store: Store
) -> None:
    from nio import InviteMemberEvent

    class _Down(_Client):
        async def join(self, room_id: str) -> JoinResponse | JoinError:  # type: ignore[override]
            self.joins.append(room_id)
            raise OSError("the inviting server does not answer")

    client = _Down([])
    loop = SyncLoop(
        client=client,
        settings=make_settings(tmp_path, allowed_users=["@alice:test"]),
        store=store,
        dispatcher=_Dispatcher(),  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=FakeClock(),
    )
    loop.dispatcher.limiter = RateLimiter(10, 10, FakeClock())  # type: ignore[attr-defined]
    invite = InviteMemberEvent.from_dict(
        {
            "type": "m.room.member",
            "state_key": BOT,
            "sender": "@alice:test",
            "content": {"membership": "invite", "is_direct": True},
        }
    )
    await loop.invites.handle(OTHER, [invite])
    assert client.joins == [OTHER]
    assert await kv.get(store, JOINING + OTHER) == '["@alice:test", true]'
    loop.invites.stop()
    await client.close()


async def test_a_kept_join_is_forgotten_once_its_invitation_is_declined(
    tmp_path: Path, store: Store
) -> None:
    """Seen again in a full-state sync and declined this time: never joined at a restart."""
    from nio import InviteMemberEvent

    client = _Client([])
    loop = SyncLoop(
        client=client,
        settings=make_settings(tmp_path, allowed_users=["@alice:test"]),
        store=store,
        dispatcher=_Dispatcher(),  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=FakeClock(),
    )
    await kv.put(store, JOINING + OTHER, '["@mallory:evil", false]')
    invite = InviteMemberEvent.from_dict(
        {
            "type": "m.room.member",
            "state_key": BOT,
            "sender": "@mallory:evil",
            "content": {"membership": "invite"},
        }
    )

    async def leave(room_id: str) -> None:
        client.joins.append(f"left {room_id}")

    client.room_leave = leave  # type: ignore[method-assign,assignment]
    await loop.invites.handle(OTHER, [invite])
    assert client.joins == [f"left {OTHER}"]
    assert await kv.get(store, JOINING + OTHER) is None
    await client.close()


async def test_a_kept_join_of_someone_no_longer_allowed_is_dropped(
    tmp_path: Path, store: Store
) -> None:
    await _first_process(tmp_path, store)
    await kv.put(store, JOINING + OTHER, '["@mallory:evil", true]')
    client = _Client([_body("t2")])
    await _run(tmp_path, client, store)
    assert client.joins == []
    assert await kv.get(store, JOINING + OTHER) is None
    await client.close()
