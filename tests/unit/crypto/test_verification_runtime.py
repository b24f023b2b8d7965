"""The bot's verifications with a person's device (bot/verification/runtime.py) on a real
store, with the network faked: who may verify (unknown and unsigned devices are refused),
one at a time per person, timeouts and restarts cancel, only verified admins are shown the
emoji and may answer, and a confirmed match is signed and recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.crypto.canonical import Ed25519PrivateKey, public_key_b64, sign_json
from bot.crypto.identities import Cached
from bot.crypto.own_keys import CrossSigningKeys, device_signing_upload_body, sign_device_keys
from bot.crypto.trust import evaluate_user
from bot.verification import channels, outcomes
from bot.verification.machine import TIMEOUT_SECONDS, State, Us, Verification
from bot.verification.runtime import Verifications
from commands.verified import verification_of
from commands.verifier import Decision
from tests.harness.fakes import BotCore

BOT = "@bot:test"
ADMIN = "@admin:test"
OTHER_ADMIN = "@admin2:test"
BERND = "@bernd:test"


class Person:
    """A cross-signed account: a signed device PHONE, an unsigned one TABLET."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.keys = CrossSigningKeys.generate()
        self.devices = {d: Ed25519PrivateKey.generate() for d in ("PHONE", "TABLET")}

    def device_key(self, device: str) -> str:
        return public_key_b64(self.devices[device])

    def query(self) -> dict[str, Any]:
        body = device_signing_upload_body(self.keys, self.user_id)
        devices = {}
        for device, key in self.devices.items():
            obj = {
                "user_id": self.user_id,
                "device_id": device,
                "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
                "keys": {f"ed25519:{device}": public_key_b64(key)},
            }
            obj = sign_json(obj, self.user_id, f"ed25519:{device}", key)
            if device == "PHONE":
                obj = sign_device_keys(obj, self.user_id, self.keys.self_signing)
            devices[device] = obj
        return {
            "device_keys": {self.user_id: devices},
            "master_keys": {self.user_id: body["master_key"]},
            "self_signing_keys": {self.user_id: body["self_signing_key"]},
        }


class FakeIdentities:
    def __init__(self, people: list[Person]) -> None:
        self.people = {p.user_id: p for p in people}
        self.forgotten: list[str] = []

    async def evaluate(self, user_id: str, *, max_age: float | None = None) -> Cached:
        query = self.people[user_id].query()
        return Cached(evaluate_user(user_id, query, None), query, 0.0)

    def forget(self, user_ids: list[str]) -> None:
        self.forgotten += user_ids


class FakeClient:
    user_id = BOT
    device_id = "BOTDEV"
    access_token = "token"

    def __init__(self) -> None:
        self.olm = SimpleNamespace(account=SimpleNamespace(identity_keys={"ed25519": "BOTKEY"}))
        self.to_devices: list[tuple[str, str, str, dict[str, Any]]] = []

    async def to_device(self, message: Any, tx_id: str) -> Any:
        self.to_devices.append(
            (message.type, message.recipient, message.recipient_device, message.content)
        )
        return SimpleNamespace()  # its class name ends in "Namespace": see sent_ok below


class FakeHttp:
    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Any:
    """The runtime on each store backend, its network faked."""
    core = await BotCore(
        tmp_path, database_url=store_url, admins=[ADMIN, OTHER_ADMIN], allowed_users=[BERND]
    ).open()
    bernd = Person(BERND)
    client = FakeClient()
    room_sends: list[tuple[str, dict[str, Any], str]] = []
    signed: list[tuple[str, str]] = []
    monotonic = Clock()

    async def send_in_room(room_id: str, content: dict[str, Any], txn: str, **kw: Any) -> str:
        room_sends.append((room_id, content, kw.get("event_type", "m.room.message")))
        return f"$sent{len(room_sends)}"

    async def dm_room(user_id: str) -> str:
        return "!dm-bernd"

    async def sign(http: Any, settings: Any, token: str, user_id: str, master: str) -> None:
        signed.append((user_id, master))

    monkeypatch.setattr(outcomes, "sign_master_key", sign)
    monkeypatch.setattr(channels, "to_device", _record_to_device)
    verifications = Verifications(
        client,  # type: ignore[arg-type]
        core.settings,
        core.store,
        core.clock,
        own_master_key=lambda: "BOTMASTER",
        identities=FakeIdentities([bernd]),
        send_in_room=send_in_room,
        dm_room=dm_room,
        monotonic=monotonic,
    )
    verifications._http = FakeHttp()  # type: ignore[assignment]  # signing is faked
    yield SimpleNamespace(
        core=core,
        v=verifications,
        bernd=bernd,
        client=client,
        room_sends=room_sends,
        signed=signed,
        clock=monotonic,
    )
    await core.close()


async def _record_to_device(
    client: Any, event_type: str, user_id: str, device_id: str, content: dict[str, Any]
) -> None:
    client.to_devices.append((event_type, user_id, device_id, content))


async def verify_admin(core: BotCore, user_id: str) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, verified_key, "
            "verified_by, verified_at, verified_how) VALUES (?, 'K', 'x', 'test', 'K', "
            "'console', '2026-01-01T00:00:00+00:00', 'console')",
            (user_id,),
        )


def request(device: str = "PHONE", txn: str = "t1", ts: int | None = None) -> dict[str, Any]:
    return {
        "type": "m.key.verification.request",
        "sender": BERND,
        "content": {
            "from_device": device,
            "methods": ["m.sas.v1"],
            "timestamp": ts if ts is not None else 0,
            "transaction_id": txn,
        },
    }


def now_ms(w: Any) -> int:
    return int(w.core.clock.now().timestamp() * 1000)


def sent(w: Any, kind: str) -> list[dict[str, Any]]:
    return [c for t, _u, _d, c in w.client.to_devices if t == f"m.key.verification.{kind}"]


async def test_a_request_from_a_signed_device_is_answered_ready(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    assert [c["transaction_id"] for c in sent(world, "ready")] == ["t1"]
    assert world.v.pending_with(BERND) == 1


async def test_a_request_seen_again_after_a_restart_is_not_answered_twice(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    await world.v.close()  # the restart cancels it
    world.v.running.clear()
    await world.v.on_to_device(request(ts=now_ms(world)))  # the sync replays the request
    assert len(sent(world, "ready")) == 1 and world.v.running == {}


async def test_an_unknown_device_is_refused_with_a_cancel(world: Any) -> None:
    await world.v.on_to_device(request("NOPE", ts=now_ms(world)))
    [cancel] = sent(world, "cancel")
    assert cancel["code"] == "m.user" and cancel["reason"] == "Unknown device"
    assert sent(world, "ready") == [] and world.v.pending_with(BERND) is None


async def test_a_device_not_signed_by_its_owner_is_refused(world: Any) -> None:
    await world.v.on_to_device(request("TABLET", ts=now_ms(world)))
    [cancel] = sent(world, "cancel")
    assert "not cross-signed" in cancel["reason"]
    assert world.v.pending_with(BERND) is None


async def test_a_stale_request_is_ignored(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world) - int(TIMEOUT_SECONDS * 1000) - 1))
    assert world.client.to_devices == []


async def test_a_second_request_while_one_runs_is_refused_the_first_stands(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    await world.v.on_to_device(request(txn="t2", ts=now_ms(world)))
    [cancel] = sent(world, "cancel")
    assert cancel["transaction_id"] == "t2" and cancel["code"] == "m.unexpected_message"
    assert world.v.pending_with(BERND) == 1 and "t1" in world.v.running


async def test_an_event_for_an_unknown_transaction_is_cancelled(world: Any) -> None:
    event = request(txn="gone", ts=now_ms(world))
    event["type"] = "m.key.verification.start"
    await world.v.on_to_device(event)
    [cancel] = sent(world, "cancel")
    assert cancel["code"] == "m.unknown_transaction"


async def test_ten_minutes_without_an_end_cancel_with_m_timeout(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    world.clock.t += TIMEOUT_SECONDS - 1
    await world.v.sweep()
    assert sent(world, "cancel") == []
    world.clock.t += 2
    await world.v.sweep()
    [cancel] = sent(world, "cancel")
    assert cancel["code"] == "m.timeout" and world.v.pending_with(BERND) is None


async def test_a_restart_cancels_what_runs(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    await world.v.close()
    [cancel] = sent(world, "cancel")
    assert cancel["code"] == "m.timeout" and world.v.running == {}


async def test_they_cancel(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    await world.v.on_to_device(
        {
            "type": "m.key.verification.cancel",
            "sender": BERND,
            "content": {"transaction_id": "t1", "code": "m.user", "reason": "no"},
        }
    )
    assert world.v.running == {} and sent(world, "cancel") == []


async def test_someone_else_cannot_step_into_bernds_verification(world: Any) -> None:
    await world.v.on_to_device(request(ts=now_ms(world)))
    forged = {
        "type": "m.key.verification.cancel",
        "sender": "@mallory:test",
        "content": {"transaction_id": "t1", "code": "m.user"},
    }
    await world.v.on_to_device(forged)
    assert "t1" in world.v.running


async def play_to_comparison(world: Any) -> Verification:
    """Bernd's side as a second machine: request, start, key; returns Bernd's machine."""
    await world.v.on_to_device(request(ts=now_ms(world)))
    theirs = Verification(
        1,
        Us(BERND, "PHONE", world.bernd.device_key("PHONE"), world.bernd.keys.master_pub),
        BOT,
        "t1",
        False,
        True,
        created=0.0,
    )
    theirs.bind(world.client.device_id, "BOTKEY", "BOTMASTER")
    theirs.state = State.READY  # it saw the bot's ready
    world.seen = len(world.client.to_devices)
    await pump(world, theirs, theirs._send_start())
    return theirs


async def pump(world: Any, theirs: Verification, actions: list[Any]) -> None:
    """Deliver Bernd's sends to the bot and the bot's to Bernd until both are quiet."""
    while True:
        for action in actions:
            if hasattr(action, "kind"):
                await world.v.on_to_device(_event(action))
        new = world.client.to_devices[world.seen :]
        world.seen = len(world.client.to_devices)
        actions = []
        for event_type, _user, _device, content in new:
            actions += theirs.receive(event_type.removeprefix("m.key.verification."), content)
        if not new and not any(hasattr(a, "kind") for a in actions):
            return


def _event(action: Any) -> dict[str, Any]:
    return {
        "type": f"m.key.verification.{action.kind}",
        "sender": BERND,
        "content": action.content,
    }


async def test_only_verified_admins_are_shown_the_emoji_and_may_answer(world: Any) -> None:
    await verify_admin(world.core, ADMIN)  # OTHER_ADMIN is not verified
    theirs = await play_to_comparison(world)
    assert theirs.state is State.COMPARING
    rows = await world.core.query("SELECT user_id, key FROM outbox WHERE key LIKE 'verif%'")
    assert [tuple(r) for r in rows] == [(ADMIN, f"verification:1:{ADMIN}")]
    assert await world.v.decide(1, OTHER_ADMIN, confirm=True) is Decision.NOT_ASKED
    assert await world.v.decide(9, ADMIN, confirm=True) is Decision.UNKNOWN
    # Bernd's MAC first (his screen matched), then the admin's confirm releases the bot's.
    await pump(world, theirs, theirs.confirm())
    assert sent(world, "mac") == []
    assert await world.v.decide(1, ADMIN, confirm=True) is Decision.DONE
    assert await world.v.decide(1, ADMIN, confirm=False) is Decision.UNKNOWN  # answered
    await asyncio.gather(*world.v._tasks)  # the confirm runs after the command's transaction
    await pump(world, theirs, [])
    assert len(sent(world, "mac")) == 1 and len(sent(world, "done")) == 1
    assert theirs.state is State.VERIFIED  # Bernd's side checked the bot's MAC
    assert world.signed == [(BERND, world.bernd.keys.master_pub)]
    async with world.core.store.write() as db:
        verified = await verification_of(db, BERND, world.core.settings)
    assert verified is not None and verified.by == ADMIN and verified.how == "sas"


async def test_without_a_verified_admin_it_is_cancelled_and_admins_told(world: Any) -> None:
    theirs = await play_to_comparison(world)
    assert theirs.state is State.CANCELLED and theirs.cancel_code == "m.user"  # Bernd sees why
    [cancel] = sent(world, "cancel")
    assert cancel["reason"] == "No verified admin can compare the emoji"
    rows = await world.core.query("SELECT user_id, content FROM outbox ORDER BY user_id")
    assert sorted(r[0] for r in rows) == sorted([ADMIN, OTHER_ADMIN])
    assert all("no admin whose own identity is verified" in r[1] for r in rows)
    assert world.signed == []
