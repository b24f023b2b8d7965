"""Whose devices get room keys, judged by the verdicts of the refresh just made: a verdict
the sync loop forgets meanwhile (a device-list change) no longer blacklists an allow-listed
device, and an unknown verdict fails the send instead of shutting someone out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from bot.crypto import identities as identities_module
from bot.crypto.canonical import Ed25519PrivateKey, public_key_b64, sign_json
from bot.crypto.identities import Identities
from bot.crypto.key_refresh import Requery
from bot.crypto.own_keys import CrossSigningKeys, device_signing_upload_body, sign_device_keys
from bot.crypto.room_keys import RoomKeys
from bot.metrics import Metrics
from tests.harness.fakes import BotCore

BOT, FRANZ, SAM = "@bot:test", "@franz:test", "@sam:test"
ROOM = "!summit:test"


@dataclass
class Device:
    user_id: str
    id: str
    ed25519: str
    curve25519: str
    verified: bool = False
    blacklisted: bool = False


@dataclass
class Person:
    """A user with a cross-signing identity and devices, as /keys/query shows them."""

    user_id: str
    keys: CrossSigningKeys = field(default_factory=CrossSigningKeys.generate)
    shown: dict[str, Any] = field(default_factory=dict)  # device_id -> device keys
    devices: list[Device] = field(default_factory=list)

    def add_device(self, device_id: str, *, signed: bool = True) -> Device:
        key = Ed25519PrivateKey.generate()
        obj = {
            "user_id": self.user_id,
            "device_id": device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {
                f"curve25519:{device_id}": "c" * 43,
                f"ed25519:{device_id}": public_key_b64(key),
            },
        }
        obj = sign_json(obj, self.user_id, f"ed25519:{device_id}", key)
        if signed:
            obj = sign_device_keys(obj, self.user_id, self.keys.self_signing)
        self.shown[device_id] = obj
        device = Device(self.user_id, device_id, public_key_b64(key), "c" * 43)
        self.devices.append(device)
        return device

    def answer(self) -> dict[str, Any]:
        upload = device_signing_upload_body(self.keys, self.user_id)
        return {
            "device_keys": {self.user_id: self.shown},
            "master_keys": {self.user_id: upload["master_key"]},
            "self_signing_keys": {self.user_id: upload["self_signing_key"]},
        }


class FakeClient:
    """What RoomKeys reads of nio's client; every trust change is recorded, because in nio
    each one rotates the room's Megolm session."""

    user_id = BOT
    access_token = "token"

    def __init__(self, people: list[Person]) -> None:
        users = {p.user_id: None for p in people}
        self.rooms = {ROOM: SimpleNamespace(encrypted=True, users=users)}
        devices = [d for p in people for d in p.devices]
        self.device_store = SimpleNamespace(
            active_user_devices=lambda u: [d for d in devices if d.user_id == u]
        )
        self.changes: list[tuple[str, str]] = []

    def _set(self, what: str, device: Device, attr: str, value: bool) -> None:
        if getattr(device, attr) != value:
            setattr(device, attr, value)
            self.changes.append((what, device.id))

    def verify_device(self, d: Device) -> None:
        self._set("verify", d, "verified", True)

    def unverify_device(self, d: Device) -> None:
        self._set("unverify", d, "verified", False)

    def blacklist_device(self, d: Device) -> None:
        self._set("blacklist", d, "blacklisted", True)

    def unblacklist_device(self, d: Device) -> None:
        self._set("unblacklist", d, "blacklisted", False)

    def invalidate_outbound_session(self, room_id: str) -> None:
        self.changes.append(("rotate", room_id))


class Server:
    """The homeserver's /keys/query: answers from the people, and runs `during` (the sync
    loop's work) while a query is in flight."""

    def __init__(self, people: list[Person]) -> None:
        self.people = {p.user_id: p for p in people}
        self.queried: list[list[str]] = []
        self.during: Callable[[], None] | None = None
        self.fail = False
        self.hung: set[str] = set()  # a query naming one of them waits for `go`
        self.lagging: dict[str, int] = {}  # person -> answers still without their identity
        self.go = asyncio.Event()

    def api(self, *_args: Any) -> Any:
        server = self

        class API:
            async def keys_query(self, user_ids: list[str]) -> dict[str, Any]:
                server.queried.append(sorted(user_ids))
                if server.during is not None:
                    server.during()
                if server.hung & set(user_ids):
                    await server.go.wait()
                if server.fail:
                    raise aiohttp.ClientConnectionError("homeserver unreachable")
                answer: dict[str, Any] = {"device_keys": {}, "master_keys": {}}
                answer["self_signing_keys"] = {}
                for user_id in user_ids:
                    for part, value in server.people[user_id].answer().items():
                        answer[part].update(value)
                    if server.lagging.get(user_id):  # still fetching their identity
                        server.lagging[user_id] -= 1
                        answer["master_keys"].pop(user_id)
                        answer["self_signing_keys"].pop(user_id)
                return answer

        return API()


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    core = await BotCore(tmp_path).open()
    bot, franz, sam = Person(BOT), Person(FRANZ), Person(SAM)
    bot.add_device("BOTDEVICE")
    franz.add_device("FRANZPHONE")
    sam.add_device("SAMLAPTOP")
    sam.add_device("SAMROGUE", signed=False)  # listed by the server, not vouched for by Sam
    server = Server([bot, franz, sam])
    monkeypatch.setattr(identities_module, "HomeserverKeysAPI", server.api)
    client = FakeClient([bot, franz, sam])
    identities = Identities(client, core.settings, core.store, Metrics())  # type: ignore[arg-type]
    identities._http = object()  # type: ignore[assignment]  # the fake API never uses it
    keys = RoomKeys(client, core.settings, core.store, Metrics(), core.clock, identities)  # type: ignore[arg-type]
    yield SimpleNamespace(core=core, server=server, client=client, identities=identities, keys=keys)
    await core.close()


def device(world: Any, device_id: str) -> Device:
    return next(
        d
        for u in (BOT, FRANZ, SAM)
        for d in world.client.device_store.active_user_devices(u)
        if d.id == device_id
    )


async def test_first_send_trusts_the_owner_signed_and_blacklists_the_rest(world: Any) -> None:
    await world.keys.prepare_room(ROOM)
    assert device(world, "FRANZPHONE").verified and not device(world, "FRANZPHONE").blacklisted
    assert device(world, "SAMLAPTOP").verified
    assert device(world, "SAMROGUE").blacklisted and not device(world, "SAMROGUE").verified


async def test_a_verdict_forgotten_while_another_is_queried_still_judges_this_send(
    world: Any,
) -> None:
    """The failure seen after restarts: Franz's fresh verdict was evicted by a device-list
    change while the bot's own (forgotten a moment before) was re-queried; read back as
    none, it blacklisted his phone and rotated the session twice."""
    await world.keys.prepare_room(ROOM)
    world.client.changes.clear()
    world.identities.forget([BOT])  # a device-list change of the bot's own, in a sync
    world.server.during = lambda: world.identities.forget([FRANZ])  # ... then of Franz's
    await world.keys.prepare_room(ROOM)
    assert world.server.queried[-1] == [BOT]
    assert world.client.changes == []  # nothing re-judged, no session rotated
    assert device(world, "FRANZPHONE").verified and not device(world, "FRANZPHONE").blacklisted
    # The answer that predates Franz's change is not kept: the next send asks again.
    world.server.during = None
    assert world.identities.cached(FRANZ) is None
    await world.keys.prepare_room(ROOM)
    assert world.server.queried[-1] == [FRANZ]
    assert world.client.changes == []


async def test_an_identity_the_server_is_still_fetching_is_looked_at_again(world: Any) -> None:
    """Right after the bot first shares a room with Franz, his server shows no identity
    for him twice: the send looks again (bounded) before his phone loses the room key."""
    world.keys._requery = Requery(delays=(0.0, 0.0, 0.0, 0.0))
    world.server.lagging = {FRANZ: 2}
    await world.keys.prepare_room(ROOM)
    assert world.server.queried.count([FRANZ]) == 2  # two second looks, the last one full
    assert device(world, "FRANZPHONE").verified
    assert ("blacklist", "FRANZPHONE") not in world.client.changes


async def test_a_hung_query_about_one_person_holds_up_nobody_elses_verdict(world: Any) -> None:
    """A second look at Sam (or a query naming his hung server) is in flight: Franz's
    verdict does not wait for it; another refresh naming Sam waits for its answer
    rather than asking again."""
    world.server.hung = {SAM}
    slow = asyncio.create_task(world.identities.refresh([SAM]))
    while [SAM] not in world.server.queried:
        await asyncio.sleep(0)
    franz = await asyncio.wait_for(world.identities.evaluate(FRANZ), 5)
    assert franz.trust.master_key is not None
    again = asyncio.create_task(world.identities.refresh([SAM, FRANZ]))
    await asyncio.sleep(0.05)
    assert not again.done()  # it needs Sam's verdict
    world.server.go.set()
    await slow
    assert SAM in await again
    assert world.server.queried.count([SAM]) == 1  # the waiter used the answer that came


async def test_a_device_that_loses_its_owners_signature_is_still_blacklisted(world: Any) -> None:
    await world.keys.prepare_room(ROOM)
    world.client.changes.clear()
    sam = world.server.people[SAM]
    sam.shown["SAMLAPTOP"].pop("signatures")  # the server shows it unsigned now
    world.identities.forget([SAM])
    await world.keys.prepare_room(ROOM)
    assert device(world, "SAMLAPTOP").blacklisted
    assert ("blacklist", "SAMLAPTOP") in world.client.changes
    assert world.client.changes[-1] == ("rotate", ROOM)


async def test_no_verdict_yet_fails_the_send_instead_of_shutting_people_out(world: Any) -> None:
    world.server.fail = True  # right after a restart: nothing cached, the query fails
    with pytest.raises(aiohttp.ClientError):
        await world.keys.prepare_room(ROOM)
    assert world.client.changes == []
    assert not device(world, "FRANZPHONE").blacklisted


async def test_a_failed_refresh_judges_by_the_last_verdicts(world: Any) -> None:
    await world.keys.prepare_room(ROOM)
    world.client.changes.clear()
    for cached in world.identities._cache.values():
        cached.at -= 3600  # all stale
    world.server.fail = True
    await world.keys.prepare_room(ROOM)
    assert world.server.queried[-1] == [BOT, FRANZ, SAM]
    assert world.client.changes == []
    assert device(world, "FRANZPHONE").verified
