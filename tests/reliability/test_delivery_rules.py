"""The rules below every command, in process: nothing unencrypted leaves the transport, no
DM or mention reaches someone off the allow-list, and the sender hears what was not
delivered. The outbox runs for real; the homeserver is a scripted transport."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.outbox.queue import enqueue
from bot.outbox.sending import Outbox
from bot.send_error import SendError
from bot.transport import MatrixTransport
from commands.context import OutMessage, utc_iso
from tests.harness.fakes import BotCore

PLAIN, ENC = "!plain:test", "!enc:test"


class Rooms:
    """A homeserver that knows which rooms are encrypted and refuses nothing itself."""

    def __init__(self) -> None:
        self.encrypted = {PLAIN: False, ENC: True}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.dms: dict[str, str] = {}

    async def send(
        self, room_id: str, content: dict[str, Any], txn_id: str, reveal_to: Any = None
    ) -> str:
        if not self.encrypted.get(room_id, False):
            raise SendError("room is not end-to-end encrypted", unsafe=True)
        self.sent.append((room_id, content))
        return f"$e{len(self.sent)}"

    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        raise AssertionError("no uploads here")

    async def dm_room(self, user_id: str) -> str:
        room = self.dms[user_id] = f"!dm-{user_id}"
        self.encrypted[room] = True
        return room

    async def has_devices(self, user_id: str) -> bool:
        return True

    async def dm_problem(self, room_id: str, user_id: str) -> str | None:
        return None if self.dms.get(user_id) == room_id else "not the bot's DM"

    async def room_members(self, room_id: str) -> list[str]:
        return [user for user, room in self.dms.items() if room == room_id]


async def _run(core: BotCore, rooms: Rooms, messages: list[OutMessage]) -> Outbox:
    async with core.store.write() as db:
        await enqueue(db, messages, utc_iso(core.clock.now()))
    return await core.drain_outbox(rooms)


@pytest.fixture
async def core(tmp_path: Path):
    bot = await BotCore(tmp_path).open()
    yield bot
    await bot.close()


async def test_plain_room_is_refused_counted_and_admins_told_once(core: BotCore) -> None:
    rooms = Rooms()
    msgs = [OutMessage(body="secret digest", room_id=PLAIN) for _ in range(2)]
    await _run(core, rooms, msgs)
    rows = await core.query("SELECT room_id, state, error, user_id FROM outbox ORDER BY id")
    assert [(r[0], r[1]) for r in rows[:2]] == [(PLAIN, "failed")] * 2
    assert "not end-to-end encrypted" in rows[0][2]
    assert core.metrics.unsafe_refused._value.get() == 2
    assert not [room for room, _ in rooms.sent if room == PLAIN]
    # the admins' notice, once for the room, in their (encrypted) DM
    notices = [(room, c["body"]) for room, c in rooms.sent if "Security notice" in c["body"]]
    assert len(notices) == 1 and notices[0][0] == "!dm-@admin:test"
    assert PLAIN in notices[0][1] and "secret digest" not in notices[0][1]


async def test_dm_to_outsider_is_not_sent_and_the_sender_is_told(core: BotCore) -> None:
    rooms = Rooms()
    origin = {
        "user_id": "@alice:test",
        "room_id": ENC,
        "reply_to": "$cmd",
        "thread_root": None,
        "object": "A-3",
    }
    await _run(
        core,
        rooms,
        [
            OutMessage(body=text, user_id="@x:evil.example", origin=origin)
            for text in ("A-3 is yours", "A-3 is due tomorrow")
        ],
    )
    rows = await core.query("SELECT state, error FROM outbox WHERE user_id = '@x:evil.example'")
    assert len(rows) == 2
    assert all(state == "failed" and "allow-list" in error for state, error in rows)
    assert "!dm-@x:evil.example" not in rooms.dms.values()
    # Told in Alice's DM alone, never in the room she asked in (issue 22, 8).
    [(room, told)] = rooms.sent
    assert room == rooms.dms["@alice:test"] != ENC
    assert "could not deliver A-3 to @x:evil.example" in told["body"]
    # told once about A-3, though two messages failed; both are in the audit log
    assert core.metrics.undeliverable._value.get() == 2
    audit = await core.query("SELECT action, object FROM audit")
    assert [tuple(a) for a in audit] == [("delivery.failed", "A-3")] * 2


async def test_mentions_of_outsiders_notify_nobody(core: BotCore) -> None:
    rooms = Rooms()
    msg = OutMessage(body="ping", room_id=ENC, mentions=("@bob:test", "@x:evil.example"))
    await _run(core, rooms, [msg])
    [(_, content)] = rooms.sent
    assert content["m.mentions"] == {"user_ids": ["@bob:test"]}


# -- the transport itself: encrypt explicitly, never rely on nio's plaintext fallback --------


class StubClient:
    """Just enough of nio's AsyncClient to see what the transport PUTs."""

    def __init__(self, encrypted: bool) -> None:
        self.user_id = "@bot:test"
        self.rooms = {
            ENC: SimpleNamespace(encrypted=encrypted, members_synced=True, users={}),
        }
        self.olm = SimpleNamespace(
            should_share_group_session=lambda room_id: False,
            outbound_group_sessions={},  # no session yet: no device missed its key
        )
        self.access_token = "token"
        self.should_query_keys = False
        self.users_for_key_query: set[str] = set()  # nobody outdated
        self.sharing_session: dict[str, Any] = {}
        self.put: list[tuple[str, str, dict[str, Any]]] = []

    def encrypt(self, room_id: str, event_type: str, content: dict[str, Any]):
        return "m.room.encrypted", {"ciphertext": json.dumps([event_type, content])}

    async def _send(self, response_class: Any, method: str, path: str, data: str, *a: Any):
        self.put.append((method, path, json.loads(data)))
        return response_class.from_dict({"event_id": "$x"}, ENC)

    async def room_send(self, *args: Any, **kw: Any) -> Any:
        raise AssertionError("nio's room_send would fall back to plaintext; never used")


async def test_transport_sends_only_encrypted_events_reactions_too() -> None:
    client = StubClient(encrypted=True)
    transport = MatrixTransport(client)  # type: ignore[arg-type]
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": "✅"}}
    assert await transport.send(ENC, reaction, "t1", event_type="m.reaction") == "$x"
    assert await transport.send(ENC, {"msgtype": "m.notice", "body": "hi"}, "t2") == "$x"
    assert [p[1].split("/send/")[1].split("/")[0] for p in client.put] == [
        "m.room.encrypted",
        "m.room.encrypted",
    ]
    assert "m.reaction" in client.put[0][2]["ciphertext"]


async def test_transport_refuses_a_room_not_known_encrypted() -> None:
    client = StubClient(encrypted=False)
    transport = MatrixTransport(client)  # type: ignore[arg-type]
    with pytest.raises(SendError) as raised:
        await transport.send(ENC, {"msgtype": "m.notice", "body": "hi"}, "t1")
    assert raised.value.unsafe and raised.value.permanent
    assert client.put == []
