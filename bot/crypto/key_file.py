"""The bot's cross-signing keys on disk: all three private keys, encrypted at rest
(scrypt → AES-256-GCM, the user ID bound in), file mode 0600, written atomically.

Key custody: a human keeps the master key offline or in secret storage; a bot has no
human to restore it from, and without it every future change (a new self-signing key, a
reset after a lost file) would look to peers who pinned the bot like an identity reset,
which is exactly the red flag we train users to heed. The extra risk is small: anyone
who can read the bot's data dir already holds its Olm account and access token, and the
self-signing key alone already lets them vouch for new devices. The user-signing key is
kept so the bot can later sign other users' master keys (marking them verified) without
a new identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from bot.crypto.canonical import b64_decode, b64_encode, private_key_from_seed, seed_of
from bot.crypto.errors import CrossSigningError
from bot.crypto.own_keys import CrossSigningKeys
from bot.crypto.sealed_box import InvalidTag, aes_gcm_open, aes_gcm_seal, scrypt_key

_FILE_FORMAT = "attache-bot/cross-signing-keys/v1"
# scrypt cost: ~50 ms and 16 MiB once per start; the secret may be a passphrase.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def save_keys(path: Path, keys: CrossSigningKeys, secret: str, user_id: str) -> None:
    """Encrypt and write the keys atomically with mode 0600.

    The user ID is bound in as associated data so a file cannot be moved to another
    account unnoticed.
    """
    if not secret:
        raise ValueError("a non-empty secret is required to store cross-signing keys")
    salt, nonce = os.urandom(16), os.urandom(12)
    plaintext = json.dumps(
        {
            "master": b64_encode(seed_of(keys.master)),
            "self_signing": b64_encode(seed_of(keys.self_signing)),
            "user_signing": b64_encode(seed_of(keys.user_signing)),
        }
    ).encode()
    aad = f"{_FILE_FORMAT}\n{user_id}".encode()
    key = scrypt_key(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    ciphertext = aes_gcm_seal(key, nonce, plaintext, aad)
    document = {
        "format": _FILE_FORMAT,
        "user_id": user_id,
        "kdf": {"name": "scrypt", "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P},
        "salt": b64_encode(salt),
        "nonce": b64_encode(nonce),
        "ciphertext": b64_encode(ciphertext),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".xsign-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_keys(path: Path, secret: str, user_id: str) -> CrossSigningKeys | None:
    """Return the saved keys, None if there is no file; raise if it cannot be opened.

    A wrong secret raises rather than returning None, so the caller never mistakes it
    for "no identity yet" and overwrites a good identity.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    try:
        if document.get("format") != _FILE_FORMAT:
            raise CrossSigningError("unknown cross-signing key file format")
        kdf = document["kdf"]
        salt = b64_decode(document["salt"])
        key = scrypt_key(secret, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        aad = f"{_FILE_FORMAT}\n{user_id}".encode()
        plaintext = aes_gcm_open(
            key, b64_decode(document["nonce"]), b64_decode(document["ciphertext"]), aad
        )
        seeds = json.loads(plaintext)
        return CrossSigningKeys(
            private_key_from_seed(b64_decode(seeds["master"])),
            private_key_from_seed(b64_decode(seeds["self_signing"])),
            private_key_from_seed(b64_decode(seeds["user_signing"])),
        )
    except InvalidTag as exc:
        raise CrossSigningError(
            "cannot decrypt cross-signing keys: wrong secret or another account's file"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CrossSigningError("cross-signing key file is corrupt") from exc
