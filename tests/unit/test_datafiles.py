"""The data dir's identity files, kept sealed in PostgreSQL for the next active instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import datafiles
from bot.lease import Lease
from bot.store import open_store
from bot.store.postgres import PgStore
from tests.harness.postgres import PostgresServer

SECRET, USER = "unit-test-pickle-key-0123456789", "@bot:test"
NAMES = ("credentials.json", "cross_signing.keys")


async def test_published_files_restore_on_another_machine_and_are_sealed(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    store = open_store(url)
    await store.open()
    assert isinstance(store, PgStore)
    lease = Lease(url, holder="a")
    store.fence = lease.fence
    assert await lease.try_acquire()
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    creds = '{"user_id": "@bot:test", "device_id": "DEV", "access_token": "syt_secret"}'
    (first / "credentials.json").write_text(creds)
    try:
        await datafiles.publish(store, first, NAMES, SECRET, USER)
        dump = postgres.psql(
            "SELECT encode(sealed, 'escape') FROM attache_files", url.rsplit("/", 1)[1]
        )
        assert "syt_secret" not in dump and "DEV" not in dump
        await datafiles.restore(store, second, NAMES, SECRET, USER)
        assert (second / "credentials.json").read_text() == creds
        assert (second / "credentials.json").stat().st_mode & 0o777 == 0o600
        assert not (second / "cross_signing.keys").exists()
        with pytest.raises(datafiles.SealedFileError, match="wrong pickle key"):
            await datafiles.restore(store, tmp_path, NAMES, "another-key-0123456789", USER)
        with pytest.raises(datafiles.SealedFileError):  # bound to the account
            await datafiles.restore(store, tmp_path, NAMES, SECRET, "@other:test")
    finally:
        await lease.release()
        await store.close()
