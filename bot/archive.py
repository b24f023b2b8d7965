"""The backup archive: one dated `.tar.gz`, mode 0600, with a manifest.

Written and read by this module only (bot/backup.py writes, bot/restore.py reads), so
the format has one definition. Members:

- `manifest.json`: format, backend, schema version, user ID, device ID, creation time,
  bot version, and the SHA-256 of every other member;
- SQLite: `store/attache.db`, `crypto/<user>_<device>.db` (both made with SQLite's
  online backup API), `files/credentials.json`, `files/cross_signing.keys`;
- PostgreSQL: `postgresql/tables.json` (tables and columns) and one
  `postgresql/<table>.copy` per table (COPY text format), all read in one
  REPEATABLE READ transaction.

An archive is written under a temporary name in the destination and moved into place
only when complete; an existing archive is never overwritten or appended to, and nothing
of an earlier backup is ever read into a new one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "attache-backup/1"
MANIFEST = "manifest.json"
PREFIX = "attache-backup-"
SUFFIX = ".tar.gz"


class ArchiveError(RuntimeError):
    """The archive cannot be written or read; the message is one line for the operator."""


@dataclass
class Manifest:
    backend: str  # "sqlite" or "postgresql"
    schema_version: int
    user_id: str
    device_id: str | None
    created_at: str  # ISO 8601, UTC
    bot_version: str
    format: str = FORMAT
    files: dict[str, str] = field(default_factory=dict)  # member -> sha256

    def dumps(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def loads(cls, data: bytes) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ArchiveError(
                    f"unknown backup format {doc.get('format')!r} (this bot reads {FORMAT})"
                )
            return cls(
                backend=str(doc["backend"]),
                schema_version=int(doc["schema_version"]),
                user_id=str(doc["user_id"]),
                device_id=doc.get("device_id"),
                created_at=str(doc["created_at"]),
                bot_version=str(doc.get("bot_version", "?")),
                files={str(k): str(v) for k, v in doc.get("files", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"the manifest is not valid ({type(exc).__name__})") from None

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


def archive_name(now: datetime) -> str:
    return f"{PREFIX}{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}{SUFFIX}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(
    dest_dir: Path, now: datetime, manifest: Manifest, members: dict[str, Path]
) -> Path:
    """Write the archive into dest_dir (0600, atomically, never over an existing one)."""
    manifest.files = {name: sha256_file(path) for name, path in members.items()}
    final = dest_dir / archive_name(now)
    n = 1
    while final.exists():  # two backups in one second: a second file, never the same one
        n += 1
        final = dest_dir / archive_name(now).replace(SUFFIX, f"-{n}{SUFFIX}")
    tmp = dest_dir / f".{final.name}.partial"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = manifest.dumps()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                info = tar.gettarinfo(str(path), arcname=name)
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        try:
            os.link(tmp, final)  # fails if the name was taken meanwhile: never overwrite
        except FileExistsError:
            raise ArchiveError(f"{final} appeared while writing; run the backup again") from None
    finally:
        tmp.unlink(missing_ok=True)
    return final


def read_archive(src: Path, into: Path) -> Manifest:
    """Check and unpack an archive into the (private, empty) directory `into`."""
    if not src.is_file():
        raise ArchiveError(f"{src}: no such backup file")
    try:
        with tarfile.open(src, mode="r:gz") as tar:
            try:
                manifest = Manifest.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
            except KeyError:
                raise ArchiveError(f"{src}: not an attache-bot backup (no manifest)") from None
            names = {m.name for m in tar.getmembers() if m.isfile()} - {MANIFEST}
            if names != set(manifest.files):
                raise ArchiveError(f"{src}: its files do not match its manifest")
            old = os.umask(0o077)
            try:
                tar.extractall(into, members=[tar.getmember(n) for n in names], filter="data")
            finally:
                os.umask(old)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{src}: cannot read it ({exc})") from None
    for name, digest in manifest.files.items():
        if sha256_file(into / name) != digest:
            raise ArchiveError(f"{src}: {name} is damaged (checksum differs from the manifest)")
    return manifest


def describe(manifest: Manifest) -> dict[str, Any]:
    return {k: v for k, v in asdict(manifest).items() if k != "files"}
