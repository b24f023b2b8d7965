"""`attache-bot backup DEST`: an online, consistent backup into one dated archive.

Runs beside the live bot (from cron, a sidecar, `docker exec`): it takes no lock and
writes nothing to the data dir or the database.

- SQLite: the bot's store and nio's crypto store are copied with SQLite's online backup
  API (a consistent snapshot of each, WAL included: copying the `.db` file alone would
  miss what is still in `-wal`); the device credentials and the sealed cross-signing keys
  are copied as files.
- PostgreSQL: every table of the bot's database (its store, nio's crypto store, the
  sealed identity files) except the lease is exported with COPY inside one REPEATABLE
  READ, READ ONLY transaction: one snapshot of the whole database.

The archive's layout and manifest are bot/archive.py's.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bot.archive import ArchiveError, Manifest, write_archive
from bot.client import CREDENTIALS_FILE, CRYPTO_DIR
from bot.crypto.policy import KEYS_FILE
from bot.store import sqlite_path
from bot.store.migrations import MIGRATIONS
from config import Settings

# Never exported: who holds the lease is about the running instances, not the data.
PG_SKIP = frozenset({"attache_lease"})


def bot_version() -> str:
    try:
        return metadata.version("attache-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup API: a consistent copy while the bot writes."""
    if not src.exists():
        raise ArchiveError(f"{src}: no such database; is data_dir right?")
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _schema_version(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _sqlite_members(settings: Settings, work: Path) -> tuple[dict[str, Path], int, str | None]:
    members: dict[str, Path] = {}
    store = sqlite_path(settings.store_url)
    assert store is not None
    (work / "store").mkdir()
    _sqlite_copy(store, work / "store" / "attache.db")
    members["store/attache.db"] = work / "store" / "attache.db"
    device_id = None
    creds = settings.data_dir / CREDENTIALS_FILE
    if creds.exists():
        device_id = json.loads(creds.read_text(encoding="utf-8")).get("device_id")
        crypto = settings.data_dir / CRYPTO_DIR / f"{settings.user_id}_{device_id}.db"
        if crypto.exists():
            (work / "crypto").mkdir()
            _sqlite_copy(crypto, work / "crypto" / crypto.name)
            members[f"crypto/{crypto.name}"] = work / "crypto" / crypto.name
    for name in (CREDENTIALS_FILE, KEYS_FILE):
        path = settings.data_dir / name
        if path.exists():
            members[f"files/{name}"] = path
    return members, _schema_version(work / "store" / "attache.db"), device_id


async def _postgresql_members(
    settings: Settings, work: Path
) -> tuple[dict[str, Path], int, str | None]:
    from psycopg import IsolationLevel

    from bot import datafiles
    from bot.store import pgconn

    members: dict[str, Path] = {}
    (work / "postgresql").mkdir()
    conn = await pgconn.connect(settings.store_url, timeout=30)
    db = pgconn.PgConnection(conn)
    try:
        await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        async with conn.transaction():  # one snapshot for every table
            tables = [
                r["tablename"]
                for r in await db.execute_fetchall(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "ORDER BY tablename"
                )
                if r["tablename"] not in PG_SKIP
            ]
            if "schema_version" not in tables:
                raise ArchiveError("the database holds no attache-bot store")
            layout: dict[str, list[str]] = {}
            for table in tables:
                cols = await db.execute_fetchall(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = ? AND is_generated = 'NEVER' "
                    "ORDER BY ordinal_position",
                    (table,),
                )
                layout[table] = [c["column_name"] for c in cols]
                out = work / "postgresql" / f"{table}.copy"
                await pgconn.copy_out(conn, table, layout[table], str(out))
                members[f"postgresql/{table}.copy"] = out
            version = int(await db.fetchval("SELECT version FROM schema_version"))
            sealed = await db.fetchval(
                "SELECT sealed FROM attache_files WHERE name = ?", (CREDENTIALS_FILE,)
            )
    finally:
        await conn.close()
    (work / "postgresql" / "tables.json").write_text(json.dumps(layout), encoding="utf-8")
    members["postgresql/tables.json"] = work / "postgresql" / "tables.json"
    device_id = None
    if sealed is not None:
        try:
            creds = datafiles.unseal(
                bytes(sealed), settings.secret_for_keys, settings.user_id, CREDENTIALS_FILE
            )
            device_id = json.loads(creds).get("device_id")
        except datafiles.SealedFileError as exc:
            raise ArchiveError(str(exc)) from None
    return members, version, device_id


async def create_backup(settings: Settings, dest: Path, now: datetime | None = None) -> Path:
    """Write one archive into the directory `dest` (made 0700 if missing); its path."""
    now = now or datetime.now(UTC)
    if dest.exists() and not dest.is_dir():
        raise ArchiveError(f"{dest}: not a directory; give the directory to write the archive in")
    try:
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{dest}: cannot create it ({exc.strerror})") from None
    # Work files beside the archive (same file system, private), removed afterwards.
    with tempfile.TemporaryDirectory(dir=dest, prefix=".attache-backup-work-") as tmp:
        work = Path(tmp)
        try:
            if settings.on_postgresql:
                members, version, device_id = await _postgresql_members(settings, work)
            else:
                members, version, device_id = _sqlite_members(settings, work)
        except (OSError, sqlite3.Error) as exc:
            raise ArchiveError(f"cannot read the store ({type(exc).__name__}: {exc})") from None
        manifest = Manifest(
            backend="postgresql" if settings.on_postgresql else "sqlite",
            schema_version=version,
            user_id=settings.user_id,
            device_id=device_id,
            created_at=now.astimezone(UTC).isoformat(timespec="seconds"),
            bot_version=bot_version(),
        )
        if version > MIGRATIONS[-1].number:
            raise ArchiveError(f"the store is at schema {version}, newer than this bot")
        return write_archive(dest, now, manifest, members)
