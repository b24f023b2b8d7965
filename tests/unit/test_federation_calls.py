"""Federation-facing mechanisms with a fake clock and transport: bounded re-queries, join
retries, the server timeout in key requests, and room keys for left-out devices."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from nio import JoinError, JoinResponse

from bot import joins
from bot.crypto.key_refresh import Requery
from bot.crypto.missed_devices import MissedDevices
from bot.federation_calls import (
    FEDERATION_TIMEOUT_MS,
    is_join,
    is_keys_call,
    with_server_timeout,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _requery(clock: Clock) -> Requery:
    return Requery(delays=(0.25, 0.5, 1.0), every=600, sleep=clock.sleep, monotonic=clock.monotonic)


async def test_a_lagging_verdict_is_looked_at_again_until_final() -> None:
    clock = Clock()
    answers = iter(["no identity", "no identity", None])

    async def again() -> str | None:
        return next(answers)

    verdict = await _requery(clock).settle("@bob:b", "no identity", lambda v: v is not None, again)
    assert verdict is None
    assert clock.slept == [0.25, 0.5, 1.0]


async def test_requery_is_bounded_and_taken_once_per_window() -> None:
    clock = Clock()
    calls = 0

    async def again() -> str:
        nonlocal calls
        calls += 1
        return "no identity"

    requery = _requery(clock)
    first = await requery.settle("@bob:b", "no identity", lambda v: v is not None, again)
    assert first == "no identity" and calls == 3  # bounded: three looks, then refused
    await requery.settle("@bob:b", "no identity", lambda v: v is not None, again)
    assert calls == 3  # the same person within the window: no second wait
    clock.now += 601
    await requery.settle("@bob:b", "no identity", lambda v: v is not None, again)
    assert calls == 6


async def test_a_final_verdict_costs_nothing() -> None:
    clock = Clock()

    async def again() -> str:
        raise AssertionError("not asked again")

    assert await _requery(clock).settle("@a:b", "changed", lambda v: v == "x", again) == "changed"
    assert clock.slept == []


class JoiningClient:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    async def join(self, room_id: str) -> Any:
        self.calls += 1
        return self.answers.pop(0)


def _forbidden() -> JoinError:
    return JoinError("not invited yet", "M_FORBIDDEN")


async def test_transient_join_failures_are_retried_with_backoff() -> None:
    clock = Clock()
    client = JoiningClient([_forbidden(), JoinError("bad gateway", None), JoinResponse("!r:b")])
    resp = await joins.join_with_retry(client, "!r:b", delays=(1, 2, 4, 8), sleep=clock.sleep)  # type: ignore[arg-type]
    assert isinstance(resp, JoinResponse) and client.calls == 3
    assert clock.slept == [1, 2, 4]


async def test_join_retries_are_bounded() -> None:
    clock = Clock()
    client = JoiningClient([_forbidden() for _ in range(10)])
    resp = await joins.join_with_retry(client, "!r:b", delays=(1, 2), sleep=clock.sleep)  # type: ignore[arg-type]
    assert isinstance(resp, JoinError) and client.calls == 2


async def test_a_permanent_join_refusal_is_not_retried() -> None:
    clock = Clock()
    client = JoiningClient([JoinError("no such room", "M_NOT_FOUND"), JoinResponse("!r:b")])
    resp = await joins.join_with_retry(client, "!r:b", delays=(1, 2), sleep=clock.sleep)  # type: ignore[arg-type]
    assert isinstance(resp, JoinError) and client.calls == 1
    assert not joins.transient(resp) and joins.transient(None) and joins.transient(_forbidden())


def test_key_requests_carry_a_timeout_for_the_server() -> None:
    assert is_keys_call("/_matrix/client/v3/keys/claim?access_token=x")
    assert is_keys_call("/_matrix/client/r0/keys/query")
    assert not is_keys_call("/_matrix/client/v3/keys/upload")
    assert is_join("/_matrix/client/r0/join/%21r%3Ab") and not is_join("/_matrix/client/v3/sync")
    body = json.loads(with_server_timeout(json.dumps({"one_time_keys": {}})))
    assert body["timeout"] == FEDERATION_TIMEOUT_MS
    assert json.loads(with_server_timeout('{"timeout": 5}'))["timeout"] == 5
    assert with_server_timeout(None) is None


class _Device(SimpleNamespace):
    blacklisted = False


class MissedClient:
    """What MissedDevices reads of nio: the room's outbound session, devices, Olm sessions."""

    def __init__(self) -> None:
        self.user_id, self.device_id = "@bot:a", "BOT"
        session = SimpleNamespace(shared=True, users_shared_with={("@bob:b", "OLD")})
        self.sessions: dict[str, Any] = {"curveOLD": object()}
        self.olm = SimpleNamespace(
            outbound_group_sessions={"!r:a": session},
            session_store=SimpleNamespace(get=self.sessions.get),
        )
        self.rooms = {"!r:a": SimpleNamespace(users={"@bot:a": None, "@bob:b": None})}
        self.devices = {
            "@bob:b": [
                _Device(id="OLD", curve25519="curveOLD"),
                _Device(id="NEW", curve25519="curveNEW"),
            ],
            "@bot:a": [_Device(id="BOT", curve25519="curveBOT")],
        }
        self.device_store = SimpleNamespace(active_user_devices=lambda u: self.devices[u])
        self.claims: list[dict[str, list[str]]] = []
        self.reachable = False
        self.rotated: list[str] = []

    async def keys_claim(self, users: dict[str, list[str]]) -> Any:
        self.claims.append(users)
        if self.reachable:
            self.sessions["curveNEW"] = object()
        return SimpleNamespace()

    def invalidate_outbound_session(self, room_id: str) -> None:
        self.rotated.append(room_id)


async def test_a_device_left_out_of_a_room_key_gets_it_once_reachable() -> None:
    clock = Clock()
    client = MissedClient()
    missed = MissedDevices(monotonic=clock.monotonic)
    assert not await missed.catch_up(client, "!r:a")  # type: ignore[arg-type]
    assert client.claims == [{"@bob:b": ["NEW"]}] and client.rotated == []
    assert not await missed.catch_up(client, "!r:a")  # type: ignore[arg-type]
    assert len(client.claims) == 1  # a dead server is not asked again at every send
    clock.now += 6
    client.reachable = True
    assert await missed.catch_up(client, "!r:a")  # type: ignore[arg-type]
    assert client.rotated == ["!r:a"]  # the next message's key reaches the device
    client.devices["@bob:b"][1].blacklisted = True
    assert missed.left_out(client, "!r:a") == []  # type: ignore[arg-type]
