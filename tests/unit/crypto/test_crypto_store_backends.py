"""nio's crypto store on both backends: what one instance saves, a fresh instance loads.

On PostgreSQL every nio save that SQLite does with REPLACE (sessions, keys, trust, the sync
token) runs as an upsert: saved twice, it must update in place, not fail or duplicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nio.crypto import OlmAccount, OlmDevice, OutboundSession
from nio.store import SqliteStore

from bot.crypto.pgstore import CryptoStoreFenced, PostgresCryptoStore
from tests.harness.postgres import PostgresServer

USER, DEVICE, KEY = "@bot:test", "BOTDEVICE", "unit-test-pickle-key-0123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_class(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return SqliteStore
    server: PostgresServer = request.getfixturevalue("postgres")
    return PostgresCryptoStore.for_url(server.new_database("crypto"))


def _open(store_class: Any, tmp_path: Path) -> Any:
    return store_class(USER, DEVICE, str(tmp_path), KEY)


def test_account_sessions_devices_trust_and_token_survive_a_new_instance(
    store_class: Any, tmp_path: Path
) -> None:
    first = _open(store_class, tmp_path)
    account = OlmAccount()
    first.save_account(account)
    first.save_account(account)  # saved again (nio does after every key upload)

    peer = OlmAccount()
    peer.generate_one_time_keys(1)
    one_time = next(iter(peer.one_time_keys["curve25519"].values()))
    session = OutboundSession(account, peer.identity_keys["curve25519"], one_time)
    first.save_session(peer.identity_keys["curve25519"], session)
    first.save_session(peer.identity_keys["curve25519"], session)  # REPLACE -> upsert

    device = OlmDevice(
        "@alice:test",
        "ALICEDEV",
        {"ed25519": peer.identity_keys["ed25519"], "curve25519": peer.identity_keys["curve25519"]},
        display_name="Alice",
    )
    first.save_device_keys({"@alice:test": {"ALICEDEV": device}})
    first.save_device_keys({"@alice:test": {"ALICEDEV": device}})  # Keys REPLACE twice
    assert first.verify_device(device)
    assert first.blacklist_device(device)  # trust state REPLACEd in place
    first.save_sync_token("s1")
    first.save_sync_token("s2")
    first.save_encrypted_rooms(["!r:test"])
    first.database.close()

    second = _open(store_class, tmp_path)
    loaded = second.load_account()
    assert loaded is not None
    assert loaded.identity_keys == account.identity_keys
    sessions = second.load_sessions()
    assert [s.id for s in sessions[peer.identity_keys["curve25519"]]] == [session.id]
    devices = second.load_device_keys()
    alice = devices["@alice:test"]["ALICEDEV"]
    assert alice.ed25519 == peer.identity_keys["ed25519"]
    assert second.is_device_blacklisted(alice) and not second.is_device_verified(alice)
    assert second.load_sync_token() == "s2"
    assert second.load_encrypted_rooms() == {"!r:test"}
    second.database.close()


def test_pickles_are_encrypted_with_the_pickle_key(postgres: PostgresServer) -> None:
    url = postgres.new_database("crypto")
    store = PostgresCryptoStore.for_url(url)(USER, DEVICE, "/nonexistent", KEY)
    account = OlmAccount()
    store.save_account(account)
    store.database.close()
    dump = postgres.psql("SELECT encode(account, 'escape') FROM accounts", url.rsplit("/", 1)[1])
    assert account.identity_keys["curve25519"] not in dump
    with pytest.raises(Exception):  # noqa: B017 - any unpickling error: wrong key
        PostgresCryptoStore.for_url(url)(USER, DEVICE, "/nonexistent", "wrong-key").load_account()


def test_a_fenced_instance_writes_no_crypto_state(postgres: PostgresServer) -> None:
    url = postgres.new_database("crypto")
    holding = [True]
    store = PostgresCryptoStore.for_url(url, lambda: holding[0])(USER, DEVICE, "/x", KEY)
    account = OlmAccount()
    store.save_account(account)
    holding[0] = False  # the lease is gone (a pause past it, a partition)
    with pytest.raises(CryptoStoreFenced):
        store.save_account(OlmAccount())
    with pytest.raises(CryptoStoreFenced):
        store.save_sync_token("s9")
    assert store.load_account().identity_keys == account.identity_keys  # reads still work
    store.database.close()
