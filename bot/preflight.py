"""Start-up problems in one line each: what check-config can see before `run`, and what
`run` (or `migrate-store`) met while starting.

Settings can be valid and still not fit the data they are pointed at: a pickle key other
than the one the crypto store was written with, a cross-signing secret that does not open
the saved keys. check-config opens each with the configured secrets (read-only), so the
operator learns it before `run` does. Whatever else stops a start (a homeserver or
database that cannot be reached, a port in use, a data dir it may not write) is turned
into one line by `explain`, with the traceback kept for the DEBUG log.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import traceback
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from config import Settings

CREDENTIALS_FILE = "credentials.json"  # bot.client.CREDENTIALS_FILE, without importing nio
KEYS_FILE = "cross_signing.keys"  # bot.crypto.policy.KEYS_FILE
CRYPTO_DIR = "crypto"

# Exit codes (docs/OPERATIONS.md): 2 the settings do not fit, 1 cannot start now.
SETTINGS, CANNOT_START = 2, 1


def pickle_key_problem(where: str) -> str:
    return (
        f"pickle_key: does not open the crypto store {where}; give the key this data was "
        "created with (a new key needs a new device: move the data aside and start with the "
        "password)"
    )


def _opens_account(pickle: bytes | str, key: str) -> bool:
    from nio.crypto import OlmAccount

    raw = pickle.encode() if isinstance(pickle, str) else bytes(pickle)
    try:
        OlmAccount.from_pickle(raw, key)
    except Exception:  # vodozemac's Pickle/LibolmPickleException: the key does not fit
        return False
    return True


def _sqlite_problems(settings: Settings) -> list[str]:
    return crypto_store_problems(settings) or _keys_file_problems(settings)


def crypto_store_problems(settings: Settings) -> list[str]:
    """The pickle key against the SQLite crypto store of the saved device (no scrypt: cheap
    enough for every start)."""
    assert settings.pickle_key is not None
    key = settings.pickle_key.get_secret_value()
    device_id = settings.device_id
    creds = settings.data_dir / CREDENTIALS_FILE
    if creds.exists():
        try:
            device_id = json.loads(creds.read_text(encoding="utf-8"))["device_id"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return [f"data_dir: cannot read {creds} ({exc}); restore it from a backup"]
    if device_id:
        db = settings.data_dir / CRYPTO_DIR / f"{settings.user_id}_{device_id}.db"
        if db.exists():
            try:
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                    rows = conn.execute(
                        "SELECT account FROM accounts WHERE user_id = ? AND device_id = ?",
                        (settings.user_id, device_id),
                    ).fetchall()
            except sqlite3.Error as exc:
                return [f"data_dir: cannot read the crypto store {db} ({exc})"]
            if rows and not _opens_account(rows[0][0], key):
                return [pickle_key_problem(str(db))]
    return []


def _keys_file_problems(settings: Settings) -> list[str]:
    from bot.crypto.errors import CrossSigningError
    from bot.crypto.key_file import load_keys

    path = settings.data_dir / KEYS_FILE
    try:
        load_keys(path, settings.secret_for_keys, settings.user_id)
    except CrossSigningError as exc:
        return [f"{_keys_secret(settings)}: {exc} ({path})"]
    except OSError as exc:
        return [f"data_dir: cannot read {path} ({exc.strerror})"]
    return []


def _keys_secret(settings: Settings) -> str:
    return "cross_signing_secret" if settings.cross_signing_secret else "pickle_key"


def _postgresql_problems(settings: Settings) -> list[str]:
    import psycopg

    from bot.datafiles import SealedFileError, unseal

    assert settings.pickle_key is not None
    try:
        conn = psycopg.connect(settings.store_url, connect_timeout=10)
    except psycopg.Error as exc:
        return [f"database_url: cannot connect ({_first_line(exc)}); {DATABASE_HINT}"]
    problems: list[str] = []
    with closing(conn):
        conn.read_only = True
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('attache_files'), to_regclass('accounts')")
            files_table, accounts_table = cur.fetchone() or (None, None)
            device_id = settings.device_id
            if files_table is not None:
                cur.execute("SELECT name, sealed FROM attache_files")
                for name, sealed in cur.fetchall():
                    try:
                        content = unseal(
                            bytes(sealed), settings.secret_for_keys, settings.user_id, name
                        )
                    except SealedFileError as exc:
                        problems.append(f"{_keys_secret(settings)}: {exc}")
                        continue
                    if name == CREDENTIALS_FILE:
                        device_id = json.loads(content)["device_id"]
            if accounts_table is not None and device_id:
                cur.execute(
                    "SELECT account FROM accounts WHERE user_id = %s AND device_id = %s",
                    (settings.user_id, device_id),
                )
                row = cur.fetchone()
                key = settings.pickle_key.get_secret_value()
                if row is not None and not _opens_account(row[0], key):
                    problems.append(pickle_key_problem(f"in the database (device {device_id})"))
    return problems


def stored_state_problems(settings: Settings) -> list[str]:
    """Secrets that do not open what the data dir or the database already holds."""
    if settings.on_postgresql:
        return _postgresql_problems(settings)
    return _sqlite_problems(settings)


DATABASE_HINT = "check the host, port, user, password and database name in database_url"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _modules(exc: BaseException) -> Iterator[str]:
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        yield str(frame.f_globals.get("__name__", ""))
    yield type(exc).__module__


def _from(exc: BaseException, *packages: str) -> bool:
    return any(m.split(".")[0] in packages for m in _modules(exc))


def explain(
    exc: BaseException, settings: Settings, database: str = "database_url"
) -> tuple[int, str] | None:
    """(exit code, one line) for a known start-up failure; None for a bug (keep the trace).

    `database` names where the database URL came from (migrate-store's is `--to`).
    """
    from bot.client import StartupError
    from bot.datafiles import SealedFileError
    from bot.lock import AlreadyRunning
    from bot.store import StoreTooNew

    name = type(exc).__name__
    if isinstance(exc, (StartupError, AlreadyRunning, StoreTooNew)):
        return CANNOT_START, str(exc)
    if name in ("PickleException", "LibolmPickleException"):  # vodozemac, from nio's store
        where = "in the database" if settings.on_postgresql else str(settings.data_dir / "crypto")
        return SETTINGS, pickle_key_problem(where)
    if isinstance(exc, SealedFileError):
        return SETTINGS, f"{_keys_secret(settings)}: {exc}"
    if _from(exc, "psycopg", "psycopg_pool", "peewee") and _is_connection_problem(exc):
        hint = DATABASE_HINT.replace("database_url", database)
        return CANNOT_START, f"{database}: cannot connect ({_first_line(exc)}); {hint}"
    if _from(exc, "aiohttp") and isinstance(exc, (OSError, TimeoutError)):
        return CANNOT_START, (
            f"homeserver: cannot reach {settings.homeserver} ({_first_line(exc)}); check the "
            "URL and that the homeserver is up (the bot is restarted by its supervisor)"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return SETTINGS, f"http_addr: {settings.http_addr} is in use; choose another port"
    if isinstance(exc, PermissionError):
        return CANNOT_START, (
            f"data_dir: {exc.strerror}: {exc.filename}; the bot's user must own "
            f"{settings.data_dir} (uid 10001 in the image)"
        )
    return None


def _is_connection_problem(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    cls: Any = type(exc)
    names = {c.__name__ for c in cls.__mro__}
    # psycopg: OperationalError (and its SQLSTATE classes); peewee: OperationalError
    return bool(
        names
        & {
            "InvalidAuthorizationSpecificationError",
            "InvalidCatalogNameError",
            "InvalidPasswordError",
            "OperationalError",
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
        }
    )
