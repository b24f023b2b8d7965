"""On PostgreSQL, the data dir's identity files live in the database too, so a standby that
takes over is the same device with the same cross-signing identity (no new device for
anyone to verify, no identity warning).

The files are the device credentials (`credentials.json`: device ID and access token) and
the cross-signing keys (`cross_signing.keys`). The database row holds the file sealed with
the pickle key exactly as the cross-signing keys are protected on disk: scrypt, then
AES-256-GCM with the bot's user ID and the file name bound in as associated data, so a row
cannot be moved to another account or file unnoticed and a database dump reveals nothing.

`restore` runs after taking the lease and before login (the database wins over what a
replaced machine left on its disk); `publish` runs once login and cross-signing set-up have
written the files. Writes go through the store's fenced write transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from bot.crypto.sealed_box import InvalidTag, aes_gcm_open, aes_gcm_seal, scrypt_key
from bot.private_files import write_private

log = logging.getLogger(__name__)

FORMAT = "attache-sealed-file-v1"
_N, _R, _P = 2**14, 8, 1


class SealedFileError(RuntimeError):
    """A stored file cannot be opened: wrong pickle key, or another account's row."""


def seal(content: bytes, secret: str, user_id: str, name: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    key = scrypt_key(secret, salt, _N, _R, _P)
    aad = f"{FORMAT}\n{user_id}\n{name}".encode()
    return json.dumps(
        {
            "format": FORMAT,
            "kdf": {"name": "scrypt", "n": _N, "r": _R, "p": _P},
            "salt": salt.hex(),
            "nonce": nonce.hex(),
            "ciphertext": aes_gcm_seal(key, nonce, content, aad).hex(),
        }
    ).encode()


def unseal(sealed: bytes, secret: str, user_id: str, name: str) -> bytes:
    try:
        doc = json.loads(sealed)
        if doc.get("format") != FORMAT:
            raise SealedFileError(f"{name}: unknown format")
        kdf = doc["kdf"]
        key = scrypt_key(secret, bytes.fromhex(doc["salt"]), kdf["n"], kdf["r"], kdf["p"])
        aad = f"{FORMAT}\n{user_id}\n{name}".encode()
        return aes_gcm_open(key, bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["ciphertext"]), aad)
    except InvalidTag as exc:
        raise SealedFileError(
            f"{name}: cannot decrypt it from the database: wrong pickle key or another account"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SealedFileError(f"{name}: the stored copy is corrupt") from exc


async def restore(
    store: Any, data_dir: Path, names: tuple[str, ...], secret: str, user_id: str
) -> None:
    """Write each stored file into the data dir (0600), replacing a different local copy."""
    rows = await store.reader.execute_fetchall("SELECT name, sealed FROM attache_files")
    for row in rows:
        name = row["name"]
        if name not in names:
            continue
        content = await asyncio.to_thread(unseal, bytes(row["sealed"]), secret, user_id, name)
        path = data_dir / name
        if not path.exists() or path.read_bytes() != content:
            write_private(path, content.decode())
            log.info("restored %s from the database", name)


async def publish(
    store: Any, data_dir: Path, names: tuple[str, ...], secret: str, user_id: str
) -> None:
    """Store each existing file of the data dir, sealed (upsert)."""
    for name in names:
        path = data_dir / name
        if not path.exists():
            continue
        content = path.read_bytes()
        rows = await store.reader.execute_fetchall(
            "SELECT sealed FROM attache_files WHERE name = ?", (name,)
        )
        if rows:
            stored = await asyncio.to_thread(
                unseal, bytes(rows[0]["sealed"]), secret, user_id, name
            )
            if stored == content:
                continue
        sealed = await asyncio.to_thread(seal, content, secret, user_id, name)
        async with store.write() as db:
            await db.execute(
                "INSERT INTO attache_files (name, sealed) VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
                (name, sealed),
            )
