"""The lease on a real PostgreSQL: one holder, takeover only after expiry, fencing."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.lease import Lease
from bot.store import open_store
from bot.store.postgres import FencedOff, PgStore
from tests.harness.postgres import PostgresServer


async def _store(url: str, lease: Lease) -> PgStore:
    store = open_store(url)
    await store.open()
    assert isinstance(store, PgStore)
    store.fence = lease.fence
    return store


async def test_one_holder_takeover_after_expiry_and_the_old_one_is_fenced(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    lost: list[str] = []
    a = Lease(url, failover_seconds=3, holder="a", on_lost=lambda: lost.append("a"))
    b = Lease(url, failover_seconds=3, holder="b")
    store_a = await _store(url, a)
    store_b = await _store(url, b)
    try:
        assert await a.try_acquire() and a.token == 1 and a.valid()
        assert not await b.try_acquire()  # held: the standby waits
        async with store_a.write() as db:
            await db.execute("INSERT INTO kv (key, value) VALUES ('by', 'a')")
        with pytest.raises(FencedOff):  # a standby cannot write
            async with store_b.write() as db:
                await db.execute("UPDATE kv SET value = 'b'")

        # `a` stops renewing (a pause, a partition): after the lease, `b` takes over.
        started = time.monotonic()
        assert await b.acquire()
        took = time.monotonic() - started
        assert b.token == 2
        assert took <= a.ttl + b.poll + 1.0, took
        assert not a.valid()  # locally: `a` knows it may not send, without a round trip

        async with store_b.write() as db:
            await db.execute("UPDATE kv SET value = 'b' WHERE key = 'by'")
        with pytest.raises(FencedOff):  # the old holder wakes up: nothing it writes commits
            async with store_a.write() as db:
                await db.execute("UPDATE kv SET value = 'a again' WHERE key = 'by'")
        assert lost == ["a"]
        assert not await a.renew()
        rows = await store_b.reader.execute_fetchall("SELECT value FROM kv")
        assert [r[0] for r in rows] == ["b"]
    finally:
        for store in (store_a, store_b):
            await store.close()
        for lease in (a, b):
            await lease.release()


async def test_renewal_keeps_it_and_a_clean_release_hands_over_at_once(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    store = await _store(url, Lease(url))  # runs the migrations
    await store.close()
    a = Lease(url, failover_seconds=3, holder="a")
    b = Lease(url, failover_seconds=3, holder="b")
    try:
        assert await a.try_acquire()
        a.start_renewing()
        await asyncio.sleep(a.ttl * 1.5)  # past the first expiry: renewed, still held
        assert a.valid() and not await b.try_acquire()
        await a.release()
        started = time.monotonic()
        assert await b.acquire()
        assert time.monotonic() - started < b.poll + 0.5
    finally:
        await a.release()
        await b.release()
