"""Fewer trips to the database thread, same rows: sync position, sent marks, pins."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bot.crypto.identities import Identities
from bot.metrics import Metrics
from bot.store import Store
from bot.sync import SyncLoop
from tests.harness.fakes import FakeClock, make_settings

PIN = "A" * 43


async def _kv(store: Store) -> dict[str, str]:
    rows = await store.reader.execute_fetchall("SELECT key, value FROM kv")
    return {r[0]: r[1] for r in rows}


async def test_sync_position_and_marks_saved_and_updated(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        loop = SyncLoop(
            client=None,  # type: ignore[arg-type]
            settings=make_settings(tmp_path),
            store=store,
            dispatcher=None,  # type: ignore[arg-type]
            metrics=Metrics(),
            clock=FakeClock(),
        )
        await loop._save_position("t1", {"!a:test": "m1", "!b:test": "m2"})
        await loop._save_position("t2", {"!a:test": "m3"})
        kv = await _kv(store)
        assert kv["sync_token"] == "t2"
        assert kv["room_mark:!a:test"] == "m3" and kv["room_mark:!b:test"] == "m2"
        many = {f"!r{i}:test": f"m{i}" for i in range(1000)}  # over one statement's share
        await loop._save_position("t3", many)
        kv = await _kv(store)
        assert kv["sync_token"] == "t3" and kv["room_mark:!r999:test"] == "m999"
        assert len(kv) == 1 + 2 + 1000
    finally:
        await store.close()


async def test_pins_of_a_room_match_one_by_one_reads(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    await store.open()
    try:
        async with store.write() as db:
            for user in ("@stored:test", "@both:test"):
                await db.execute(
                    "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by) "
                    "VALUES (?, ?, '2026-01-01T00:00:00Z', 'first sight')",
                    (user, PIN),
                )
        settings = make_settings(
            tmp_path, trusted_identities={"@both:test": "B" * 43, "@conf:test": "C" * 43}
        )
        policy = Identities(SimpleNamespace(), settings, store, Metrics())  # type: ignore[arg-type]
        users = ["@stored:test", "@both:test", "@conf:test", "@none:test"]
        pins = await policy._pins(users)
        assert pins == {u: (await policy._pin(u))[0] for u in users}
        assert pins["@both:test"] == "B" * 43  # configured pins win over the store
        assert pins["@none:test"] is None
    finally:
        await store.close()
