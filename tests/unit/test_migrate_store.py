"""migrate-store on a populated SQLite deployment: everything copied, counts verified, the
same answers from PostgreSQL, the same device in the crypto store; refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nio.crypto import OlmAccount, OlmDevice
from nio.store import SqliteStore

from bot.crypto.pgstore import PostgresCryptoStore
from bot.lock import DataDirLock
from bot.migrate_store import MigrationRefused, migrate
from tests.harness.fakes import BotCore, FakeClock
from tests.harness.postgres import PostgresServer
from tests.unit.commands.actions_fixtures import ADMIN, ROOM, SEC, seed

DEVICE = "MIGRATEDEV"


async def _populated(tmp: Path, clock: FakeClock) -> BotCore:
    core = await BotCore(tmp, clock, database_url=f"sqlite:///{tmp / 'attache.db'}").open()
    await seed(core)  # directory, a summit, two action items, their history and audit
    await core.say(SEC, "!remind in 2h -- call Paris", room_id=ROOM)
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by) "
            "VALUES ('@paris:test', 'MASTERKEY', '2026-01-01T00:00:00Z', 'operator')"
        )
    return core


def _crypto(core: BotCore) -> OlmAccount:
    settings = core.settings
    crypto_dir = settings.data_dir / "crypto"
    crypto_dir.mkdir()
    assert settings.pickle_key is not None
    store = SqliteStore(
        settings.user_id, DEVICE, str(crypto_dir), settings.pickle_key.get_secret_value()
    )
    account = OlmAccount()
    store.save_account(account)
    peer = OlmAccount()
    device = OlmDevice("@paris:test", "PARISDEV", dict(peer.identity_keys))
    store.save_device_keys({"@paris:test": {"PARISDEV": device}})
    store.verify_device(device)
    store.database.close()
    creds = {"user_id": settings.user_id, "device_id": DEVICE, "access_token": "syt_x"}
    (settings.data_dir / "credentials.json").write_text(json.dumps(creds))
    return account


async def test_migrate_copies_verifies_and_the_bot_answers_alike_on_postgresql(
    tmp_path: Path, clock: FakeClock, postgres: PostgresServer
) -> None:
    core = await _populated(tmp_path, clock)
    account = _crypto(core)
    before = [m.body for m in await core.say(ADMIN, "!actions list S-1 status=all", ROOM)]
    counts = {t: await core.count(t) for t in ("people", "posts", "action_items", "jobs")}
    await core.close()
    url = postgres.new_database("migrate")

    held = DataDirLock(core.settings.data_dir)
    held.acquire()  # a bot is running on this data dir
    with pytest.raises(MigrationRefused, match="stop it first"):
        await migrate(core.settings, url)
    held.release()

    report = await migrate(core.settings, url)
    assert report.tables["action_items"] == 2 and report.tables["identities"] == 1
    assert report.crypto["accounts"] == 1 and report.crypto["devicetruststate"] == 1
    assert report.files == ["credentials.json"]
    with pytest.raises(MigrationRefused, match="already holds a bot's data"):
        await migrate(core.settings, url)  # never merged into a used database

    on_pg = await BotCore(tmp_path / "pg", clock, database_url=url).open()
    try:
        for table, n in counts.items():
            assert await on_pg.count(table) == n, table
        after = [m.body for m in await on_pg.say(ADMIN, "!actions list S-1 status=all", ROOM)]
        assert after[-1:] == before  # (a fresh core sees the copied outbox as new too)
        # New rows get new ids after the copied ones (sequences moved past them).
        await on_pg.say(SEC, "!actions add S-1 FR-PARIS due=2026-03-26 -- more", ROOM)
        assert await on_pg.query("SELECT MAX(id) FROM action_items") == [(3,)]
    finally:
        await on_pg.close()
    assert core.settings.pickle_key is not None
    crypto = PostgresCryptoStore.for_url(url)(
        core.settings.user_id, DEVICE, "/x", core.settings.pickle_key.get_secret_value()
    )
    loaded = crypto.load_account()
    assert loaded is not None and loaded.identity_keys == account.identity_keys
    paris = crypto.load_device_keys()["@paris:test"]["PARISDEV"]
    assert crypto.is_device_verified(paris)
    crypto.database.close()
