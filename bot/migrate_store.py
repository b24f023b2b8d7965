"""`attache-bot migrate-store --to postgresql://...`: move a SQLite deployment to PostgreSQL.

Copies the bot's store (every table, rows in their SQLite order, ids kept and sequences
moved past them), nio's crypto store (the same device: account, sessions, devices, trust)
and the identity files (credentials, cross-signing keys, sealed with the pickle key), then
compares row counts table by table. It refuses while a bot holds the data dir (its file
lock), and refuses a target that already holds a bot's data or a live lease, so it can
never merge two deployments or run under a live instance.
"""

from __future__ import annotations

import graphlib
import logging
from dataclasses import dataclass, field

from bot import datafiles
from bot.client import CREDENTIALS_FILE, CRYPTO_DIR
from bot.crypto.policy import KEYS_FILE
from bot.lock import DataDirLock
from bot.store import sqlite_path
from bot.store.database import Store
from bot.store.postgres import PgStore
from config import Settings

log = logging.getLogger(__name__)

SKIP = {"schema_version"}


class MigrationRefused(RuntimeError):
    """The move would be unsafe (a bot running, a target in use); nothing was changed."""


@dataclass
class Report:
    tables: dict[str, int] = field(default_factory=dict)
    crypto: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


async def _tables_in_order(src: Store) -> list[str]:
    """Tables, each after the tables its foreign keys point to."""
    rows = await src.reader.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    names = [r[0] for r in rows if r[0] not in SKIP]
    deps: dict[str, set[str]] = {}
    for name in names:
        fks = await src.reader.execute_fetchall(f"PRAGMA foreign_key_list({name})")
        deps[name] = {fk[2] for fk in fks if fk[2] != name}
    try:
        # Only the tables copied: a key into a skipped table orders nothing.
        return [n for n in graphlib.TopologicalSorter(deps).static_order() if n in deps]
    except graphlib.CycleError as exc:
        raise RuntimeError(f"foreign keys form a cycle among {exc.args[1]}") from None


async def _copy_store(src: Store, dst: PgStore, report: Report) -> None:
    async with dst.write() as db:
        for table in await _tables_in_order(src):
            info = await src.reader.execute_fetchall(f"PRAGMA table_info({table})")
            cols = [r[1] for r in info]
            rows = list(
                await src.reader.execute_fetchall(
                    f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid"
                )
            )
            if rows:
                marks = ", ".join("?" * len(cols))
                await db.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(r) for r in rows],
                )
            if "id" in cols:
                await db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"GREATEST((SELECT MAX(id) FROM {table}), 1), "
                    f"(SELECT MAX(id) FROM {table}) IS NOT NULL)"
                )
            report.tables[table] = len(rows)
    for table, count in report.tables.items():
        got = await dst.reader.execute_fetchall(f"SELECT COUNT(*) FROM {table}")
        if int(got[0][0]) != count:
            raise RuntimeError(f"{table}: copied {got[0][0]} rows of {count}")


def _copy_crypto(settings: Settings, url: str, device_id: str, report: Report) -> None:
    from nio.store import SqliteStore
    from nio.store.models import StoreVersion

    from bot.crypto.pgstore import PostgresCryptoStore

    assert settings.pickle_key is not None
    key = settings.pickle_key.get_secret_value()
    crypto_dir = settings.data_dir / CRYPTO_DIR
    src = SqliteStore(settings.user_id, device_id, str(crypto_dir), key)
    dst = PostgresCryptoStore.for_url(url)(settings.user_id, device_id, str(crypto_dir), key)
    models = [m for m in SqliteStore.models if m is not StoreVersion]
    order = ["accounts", "devicekeys", "keys", "devicetruststate", "olmsessions",
             "megolminboundsessions", "forwardedchains", "encryptedrooms",
             "outgoingkeyrequests", "synctokens"]  # fmt: skip
    models.sort(key=lambda m: order.index(m._meta.table_name))
    for model in models:
        with src.database.bind_ctx([model]):
            rows = list(model.select().dicts())
        with dst.database.bind_ctx([model]), dst.database.atomic():
            for start in range(0, len(rows), 100):
                model.insert_many(rows[start : start + 100]).execute()
            pk = model._meta.primary_key
            if getattr(pk, "auto_increment", False) and rows:
                table = model._meta.table_name
                dst.database.execute_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{pk.column_name}'), "
                    f"(SELECT MAX({pk.column_name}) FROM {table}))"
                )
            count = model.select().count()
        if count != len(rows):
            raise RuntimeError(f"crypto {model._meta.table_name}: copied {count} of {len(rows)}")
        report.crypto[model._meta.table_name] = len(rows)
    src.database.close()
    dst.database.close()


async def migrate(settings: Settings, url: str) -> Report:
    if settings.on_postgresql:
        raise MigrationRefused("the bot's settings already point at PostgreSQL (database_url)")
    if not url.startswith(("postgresql://", "postgres://")):
        raise MigrationRefused("--to must be a postgresql:// URL")
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except Exception as exc:
        raise MigrationRefused(f"a bot holds {settings.data_dir}: stop it first ({exc})") from exc
    try:
        path = sqlite_path(settings.store_url)
        assert path is not None
        src = Store(path)
        if not src.path.exists():
            raise MigrationRefused(f"no store at {src.path}")
        dst = PgStore(url)
        try:  # both closed whatever fails: an open SQLite store's thread would keep us alive
            await src.open()
            await dst.open()
            busy = await dst.reader.execute_fetchall(
                "SELECT (SELECT COUNT(*) FROM handled_events) + (SELECT COUNT(*) FROM kv) "
                "+ (SELECT COUNT(*) FROM attache_files) + (SELECT COUNT(*) FROM attache_lease)"
            )
            if int(busy[0][0]):
                raise MigrationRefused(
                    "the target database already holds a bot's data; use an empty database"
                )
            report = Report()
            await _copy_store(src, dst, report)
            creds = settings.data_dir / CREDENTIALS_FILE
            if creds.exists():
                import json

                device_id = json.loads(creds.read_text(encoding="utf-8"))["device_id"]
                _copy_crypto(settings, url, device_id, report)
            names = (CREDENTIALS_FILE, KEYS_FILE)
            await datafiles.publish(
                dst, settings.data_dir, names, settings.secret_for_keys, settings.user_id
            )
            report.files = [n for n in names if (settings.data_dir / n).exists()]
            return report
        finally:
            await dst.close()
            await src.close()
    finally:
        lock.release()


def describe(report: Report) -> str:
    lines = [f"  {t}: {n}" for t, n in report.tables.items()]
    lines += [f"  crypto {t}: {n}" for t, n in report.crypto.items()]
    lines += [f"  file {f}" for f in report.files]
    return "copied and verified (rows):\n" + "\n".join(lines)
