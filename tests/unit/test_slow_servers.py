"""One slow homeserver answer holds up nobody else: sender checks off the sync loop
(bot/second_looks.py), per-name locks (bot/keyed_locks.py), and a room's send waiting
only for key queries about its own members (bot/transport.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from nio import AsyncClient, MatrixRoom

from bot.keyed_locks import KeyedLocks
from bot.second_looks import SecondLooks
from bot.sync import SyncLoop
from bot.transport import MatrixTransport


async def test_a_persons_checks_run_in_order_and_others_do_not_wait() -> None:
    looks = SecondLooks()
    done: list[str] = []
    slow = asyncio.Event()

    async def check(name: str, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(name)

    looks.run("@bob:a", lambda: check("bob 1", slow))
    assert looks.waiting("@bob:a") and looks.pending
    looks.run("@bob:a", lambda: check("bob 2"))  # queued behind his first
    looks.run("@alice:a", lambda: check("alice"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == ["alice"]
    assert not looks.waiting("@alice:a") and looks.waiting("@bob:a")
    slow.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert done == ["alice", "bob 1", "bob 2"]
    assert not looks.pending


async def test_a_failed_check_does_not_stop_the_next_one() -> None:
    looks = SecondLooks()
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        done.append("next")

    looks.run("@bob:a", fails)
    looks.run("@bob:a", fine)
    for _ in range(10):
        await asyncio.sleep(0)
    assert done == ["next"] and not looks.pending


async def test_stopping_cancels_what_is_pending() -> None:
    looks = SecondLooks()
    never = asyncio.Event()
    looks.run("@bob:a", never.wait)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    looks.stop()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not looks.pending


async def test_keyed_locks_hold_only_their_names_and_are_dropped_after() -> None:
    locks = KeyedLocks()
    held = asyncio.Event()
    let_go = asyncio.Event()

    async def hold_bob() -> None:
        async with locks.hold(["@bob:a"]):
            held.set()
            await let_go.wait()

    task = asyncio.create_task(hold_bob())
    await held.wait()
    async with asyncio.timeout(5), locks.hold(["@alice:a"]):
        pass  # another name: no wait
    both = asyncio.create_task(_hold(locks, ["@alice:a", "@bob:a"]))
    await asyncio.sleep(0.05)
    assert not both.done()  # Bob's is held
    let_go.set()
    await asyncio.wait_for(asyncio.gather(task, both), 5)
    assert len(locks) == 0


async def _hold(locks: KeyedLocks, names: list[str]) -> None:
    async with locks.hold(names):
        pass


async def test_a_key_query_about_someone_elsewhere_does_not_hold_this_rooms_send() -> None:
    """nio asks about everyone outdated at once; a query naming a hung server's person
    holds up only the sends to rooms that person is in."""
    client = AsyncClient("http://127.0.0.1:1", "@bot:test")
    outdated = {"@far:hung"}
    client.olm = SimpleNamespace(users_for_key_query=outdated)  # type: ignore[assignment]
    for room_id, person in (("!here:test", "@alice:test"), ("!there:test", "@far:hung")):
        room = MatrixRoom(room_id, "@bot:test", encrypted=True)
        room.add_member("@bot:test", None, None)
        room.add_member(person, None, None)
        room.members_synced = True
        client.rooms[room_id] = room
    asked, answer = asyncio.Event(), asyncio.Event()

    async def keys_query() -> None:
        asked.set()
        await answer.wait()
        outdated.clear()

    async def catch_up(*_args: object) -> None:
        return None

    client.keys_query = keys_query  # type: ignore[method-assign]
    transport = MatrixTransport(client)
    transport._missed = SimpleNamespace(catch_up=catch_up)  # type: ignore[assignment]
    there = asyncio.create_task(transport._keys("!there:test"))
    await asyncio.wait_for(asked.wait(), 5)
    await asyncio.wait_for(transport._keys("!here:test"), 5)  # not held by the hung query
    outdated.add("@alice:test")  # now someone here is outdated too: that send waits
    here = asyncio.create_task(transport._keys("!here:test"))
    await asyncio.sleep(0.05)
    assert not here.done() and not there.done()
    answer.set()
    await asyncio.wait_for(asyncio.gather(here, there), 5)
    await client.close()


async def test_the_sync_loops_device_tracking_does_not_wait_for_the_answer() -> None:
    """After a sync nio asks about everyone whose devices changed; a query naming a hung
    server's person must not hold the loop (and so everyone's commands) until it is
    answered or bounded: it runs beside the loop, one at a time."""
    asked, answer = asyncio.Event(), asyncio.Event()
    queries: list[int] = []

    async def keys_query() -> None:
        queries.append(1)
        asked.set()
        await answer.wait()

    async def retry(_route: object) -> None:
        return None

    client = SimpleNamespace(
        should_upload_keys=False,
        should_query_keys=True,
        should_claim_keys=False,
        keys_query=keys_query,
    )
    loop: Any = SimpleNamespace(
        client=client,
        _key_query=None,
        undecrypted=SimpleNamespace(retry=retry),
        gate=SimpleNamespace(route=None),
    )
    loop._query_keys = lambda: SyncLoop._query_keys(loop)
    await asyncio.wait_for(SyncLoop._after_sync(loop), 5)  # returns with the answer held
    await asyncio.wait_for(asked.wait(), 5)
    first = loop._key_query
    await asyncio.wait_for(SyncLoop._after_sync(loop), 5)  # still outdated: no second query
    assert loop._key_query is first and not first.done() and len(queries) == 1
    answer.set()
    await asyncio.wait_for(first, 5)
