"""The kv table's helpers: a prefix reads only its own keys, and a key written twice keeps
its last value."""

from __future__ import annotations

from pathlib import Path

from bot import kv
from bot.store import Store


async def test_under_a_prefix_only_its_keys_without_the_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        await kv.put(store, "undecrypted:$a", "!r1:test")
        await kv.put(store, "undecrypted:$b", "!r2:test")
        await kv.put(store, "undecrypted:$b", "!r3:test")
        await kv.put(store, "dm_candidate:!dm:test", "@alice:test")
        await kv.put(store, "sync_token", "t1")
        assert sorted(await kv.under(store, "undecrypted:")) == [
            ("$a", "!r1:test"),
            ("$b", "!r3:test"),
        ]
        assert await kv.under(store, "dm_candidate:") == [("!dm:test", "@alice:test")]
        await kv.delete(store, "undecrypted:$a")
        assert await kv.under(store, "undecrypted:") == [("$b", "!r3:test")]
        assert await kv.get(store, "sync_token") == "t1"
        assert await kv.get(store, "undecrypted:$a") is None
    finally:
        await store.close()
