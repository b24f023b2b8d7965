"""scrypt then AES-256-GCM: how the cross-signing key file (bot/crypto/key_file.py) and the
database's copies of the data dir's files (bot/datafiles.py) are sealed with the pickle key.

scrypt is the standard library's (OpenSSL), AES-GCM pycryptodome's (already loaded by nio):
the `cryptography` package they replace cost 7–8 MiB of resident memory (issue 25). The
output is what `cryptography`'s AESGCM wrote, ciphertext then the 16-byte tag, so files
sealed before still open.
"""

from __future__ import annotations

import hashlib

from Crypto.Cipher import AES

_TAG = 16
# Enough for the n=2**14, r=8 every file carries today (16 MiB), and for twice that.
_MAX_MEM = 2**26


class InvalidTag(ValueError):
    """The ciphertext, nonce, key or associated data is not the one that was sealed."""


def scrypt_key(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """A 32-byte key from the secret; ValueError for parameters OpenSSL refuses."""
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM, dklen=32
    )


def aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return bytes(ciphertext) + bytes(tag)


def aes_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext; InvalidTag if anything differs from what was sealed."""
    if len(sealed) < _TAG:
        raise InvalidTag("too short")
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG)
    cipher.update(aad)
    try:
        return bytes(cipher.decrypt_and_verify(sealed[:-_TAG], sealed[-_TAG:]))
    except ValueError as exc:  # pycryptodome: "MAC check failed"
        raise InvalidTag("authentication failed") from exc
