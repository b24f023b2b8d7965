"""`attache-bot restore SRC`: put a backup archive back, so the next start recovers from it.

Refused while a bot holds the data dir (its file lock) or, on PostgreSQL, the lease; and
refused for an archive of another account, another backend, a newer schema, or damaged
files (checksums in the manifest).

A restore never brings the old device back to life. The homeserver, and every peer, moved
on after the backup: one-time keys the restored Olm account no longer has were handed
out, Olm sessions ratcheted, Megolm sessions were shared with the device after the backup
(a person first seen since then shared theirs only then), and an outbound Megolm session
of the old state would reuse message indexes. So the restore leaves a marker in the store
(kv `restore:pending`) naming the superseded devices, with their access tokens sealed
with the pickle key, and removes the device credentials: the next start logs in as a
fresh device, cross-signs it with the saved cross-signing keys (people see the same
identity), logs the superseded devices out, and reads the homeserver's ledger of what was
already answered (bot/recovery.py). That needs the password, so restore requires it.

What the restore replaced is kept in `data_dir/pre-restore-<time>/` (SQLite), never
deleted. On PostgreSQL the import is not one transaction (tables are recreated by the
migrations of the backup's schema version): if it fails half-way, run it again.
"""

from __future__ import annotations

import graphlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import datafiles
from bot.archive import ArchiveError, Manifest, read_archive
from bot.client import CREDENTIALS_FILE, CRYPTO_DIR
from bot.crypto.policy import KEYS_FILE
from bot.lock import AlreadyRunning, DataDirLock
from bot.private_files import write_private
from bot.recovery import MARKER, RETIRED
from bot.store import open_store, sqlite_path
from bot.store.migrations import MIGRATIONS
from config import Settings


class RestoreRefused(RuntimeError):
    """Restoring would be unsafe or cannot work; nothing was changed."""


@dataclass
class Restored:
    manifest: Manifest
    kept: Path | None  # where the replaced data went (SQLite)


def check_manifest(manifest: Manifest, settings: Settings) -> None:
    backend = "postgresql" if settings.on_postgresql else "sqlite"
    if manifest.user_id != settings.user_id:
        raise RestoreRefused(
            f"the backup is of {manifest.user_id}, these settings are for {settings.user_id}"
        )
    if manifest.backend != backend:
        raise RestoreRefused(
            f"the backup is of a {manifest.backend} store and these settings use {backend}; "
            "restore it with settings of its backend, then use migrate-store"
        )
    newest = MIGRATIONS[-1].number
    if manifest.schema_version > newest:
        raise RestoreRefused(
            f"the backup is at schema version {manifest.schema_version}, newer than this bot "
            f"({newest}); restore it with the version that made it ({manifest.bot_version})"
        )


def _retired_creds(*sources: bytes | None) -> list[dict[str, str]]:
    """The devices a restore supersedes: the current one and the backup's (may be one)."""
    out: dict[str, dict[str, str]] = {}
    for raw in sources:
        if not raw:
            continue
        try:
            doc = json.loads(raw)
            out[str(doc["device_id"])] = {
                "device_id": str(doc["device_id"]),
                "access_token": str(doc["access_token"]),
            }
        except (KeyError, TypeError, ValueError):
            continue
    return list(out.values())


async def _mark(settings: Settings, manifest: Manifest, retired: list[dict[str, str]]) -> None:
    """Open the restored store (migrating an older backup) and leave the marker in it."""
    sealed = datafiles.seal(
        json.dumps(retired).encode(), settings.secret_for_keys, settings.user_id, RETIRED
    )
    marker = {
        "backup_created_at": manifest.created_at,
        "restored_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "retired_devices": [r["device_id"] for r in retired],
        "retired_sealed": sealed.hex(),
    }
    store = open_store(settings.store_url)
    await store.open()
    try:
        async with store.write() as db:
            await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (MARKER, json.dumps(marker)),
            )
            if settings.on_postgresql:  # the next active instance must not reuse it
                await db.execute("DELETE FROM attache_files WHERE name = ?", (CREDENTIALS_FILE,))
    finally:
        await store.close()


async def restore(settings: Settings, src: Path) -> Restored:
    if settings.password is None:
        raise RestoreRefused(
            "the bot logs in as a fresh device after a restore and needs its password: "
            "set password_file (ATTACHE_PASSWORD_FILE) for the restore and the next start"
        )
    if settings.on_postgresql:
        return await _restore_postgresql(settings, src)
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        raise RestoreRefused(f"{exc}") from None
    try:
        return await _restore_sqlite(settings, src)
    finally:
        lock.release()


async def _restore_sqlite(settings: Settings, src: Path) -> Restored:
    data = settings.data_dir
    store = sqlite_path(settings.store_url)
    assert store is not None
    with tempfile.TemporaryDirectory(dir=data, prefix=".restore-") as tmp:
        work = Path(tmp)
        manifest = read_archive(src, work)
        check_manifest(manifest, settings)
        if "store/attache.db" not in manifest.files:
            raise RestoreRefused(f"{src}: holds no store")
        creds = data / CREDENTIALS_FILE
        retired = _retired_creds(
            creds.read_bytes() if creds.exists() else None,
            (work / "files" / CREDENTIALS_FILE).read_bytes()
            if (work / "files" / CREDENTIALS_FILE).exists()
            else None,
        )
        # Keep what is replaced: it is the only copy of what happened since the backup.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = data / f"pre-restore-{stamp}"
        kept.mkdir(mode=0o700)
        moved = False
        for path in (
            store,
            Path(f"{store}-wal"),
            Path(f"{store}-shm"),
            data / CRYPTO_DIR,
            creds,
            data / KEYS_FILE,
        ):
            if path.exists():
                shutil.move(str(path), kept / path.name)
                moved = True
        if not moved:
            kept.rmdir()
        store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _place(work / "store" / "attache.db", store)
        crypto = data / CRYPTO_DIR
        crypto.mkdir(mode=0o700, exist_ok=True)
        for name in manifest.files:
            if name.startswith("crypto/"):
                _place(work / name, crypto / Path(name).name)
        keys = work / "files" / KEYS_FILE
        if keys.exists():
            write_private(data / KEYS_FILE, keys.read_text(encoding="utf-8"))
        # credentials.json is not restored: the next start is a fresh device.
        await _mark(settings, manifest, retired)
    return Restored(manifest, kept if moved else None)


def _place(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o600)


async def _restore_postgresql(settings: Settings, src: Path) -> Restored:
    from bot.store import pgconn
    from bot.store.postgres import PgStore

    with tempfile.TemporaryDirectory(prefix="attache-restore-") as tmp:
        work = Path(tmp)
        manifest = read_archive(src, work)
        check_manifest(manifest, settings)
        layout: dict[str, list[str]] = json.loads(
            (work / "postgresql" / "tables.json").read_text(encoding="utf-8")
        )
        url = settings.store_url
        conn = await pgconn.connect(url, timeout=30)
        db = pgconn.PgConnection(conn)
        try:
            existing = {
                r[0]
                for r in await db.execute_fetchall(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            }
            current_creds = None
            if "attache_lease" in existing:
                held = await db.fetchval(
                    "SELECT holder FROM attache_lease WHERE expires_at > now() LIMIT 1"
                )
                if held is not None:
                    raise RestoreRefused(
                        f"an instance holds the lease ({held}); stop every instance first"
                    )
            others = await db.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            if others:
                raise RestoreRefused(
                    f"{others} other connection(s) to the database (a standby, a tool?); "
                    "stop every instance first"
                )
            if "attache_files" in existing:
                current_creds = await db.fetchval(
                    "SELECT sealed FROM attache_files WHERE name = ?", (CREDENTIALS_FILE,)
                )
            async with conn.transaction():
                for table in sorted((set(layout) | {"schema_version", "attache_lease"}) & existing):
                    await db.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
        finally:
            await conn.close()
        # The tables as the backup's version made them, then its rows.
        schema = PgStore(url, tuple(m for m in MIGRATIONS if m.number <= manifest.schema_version))
        await schema.open()
        await schema.close()
        _create_crypto_tables(settings, manifest)
        conn = await pgconn.connect(url, timeout=30)
        db = pgconn.PgConnection(conn)
        try:
            async with conn.transaction():
                known = [t for t in layout if t != "schema_version"]
                await db.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in known) + " CASCADE")
                for table in _fk_order(
                    known,
                    await db.execute_fetchall(
                        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text "
                        "AS parent FROM pg_constraint WHERE contype = 'f'"
                    ),
                ):
                    await pgconn.copy_in(
                        conn, table, layout[table], str(work / "postgresql" / f"{table}.copy")
                    )
                    for col in layout[table]:
                        seq = await db.fetchval("SELECT pg_get_serial_sequence(?, ?)", (table, col))
                        if seq:
                            top = f'(SELECT MAX("{col}") FROM "{table}")'
                            await db.execute(
                                f"SELECT setval(?, GREATEST({top}, 1), {top} IS NOT NULL)", (seq,)
                            )
                archive_creds = await db.fetchval(
                    "SELECT sealed FROM attache_files WHERE name = ?", (CREDENTIALS_FILE,)
                )
        finally:
            await conn.close()
    plain = []
    for sealed in (current_creds, archive_creds):
        if sealed is None:
            continue
        try:
            plain.append(
                datafiles.unseal(
                    bytes(sealed), settings.secret_for_keys, settings.user_id, CREDENTIALS_FILE
                )
            )
        except datafiles.SealedFileError as exc:
            raise ArchiveError(str(exc)) from None
    await _mark(settings, manifest, _retired_creds(*plain))
    return Restored(manifest, None)


def _create_crypto_tables(settings: Settings, manifest: Manifest) -> None:
    """nio's tables, made by nio's own models (as the bot makes them at first start)."""
    from bot.crypto.pgstore import PostgresCryptoStore

    assert settings.pickle_key is not None
    store = PostgresCryptoStore.for_url(settings.store_url)(
        settings.user_id,
        manifest.device_id or "RESTORE",
        str(settings.data_dir / CRYPTO_DIR),
        settings.pickle_key.get_secret_value(),
    )
    store.database.close()


def _fk_order(tables: list[str], edges: Any) -> list[str]:
    """Each table after the tables its foreign keys point to."""
    names = set(tables)
    deps = {t: set() for t in tables}  # type: dict[str, set[str]]
    for edge in edges:
        child, parent = str(edge["child"]).strip('"'), str(edge["parent"]).strip('"')
        if child in names and parent in names and child != parent:
            deps[child].add(parent)
    try:
        return list(graphlib.TopologicalSorter(deps).static_order())
    except graphlib.CycleError as exc:
        raise RestoreRefused(f"foreign keys form a cycle among {exc.args[1]}") from None
