"""Files only the bot's user can read: secrets written whole or not at all, and a crypto
store kept private even where a library creates files with the process's umask."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (never a half-written secret)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files created meanwhile are owner-only (nio's SqliteStore takes the umask: 0644)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def protect_crypto_store(crypto_dir: Path) -> None:
    """Olm/Megolm pickles and peers' keys: 0700 directory, 0600 files, also for old stores."""
    crypto_dir.chmod(0o700)
    for path in crypto_dir.iterdir():
        if path.is_file():
            path.chmod(0o600)
