"""Ed25519 and the sealed box on pycryptodome, vodozemac and hashlib: RFC 8032's first test
vector, and every kind of tampering refused (issue 25 replaced `cryptography` with these)."""

from __future__ import annotations

import hashlib
import os

import pytest

from bot.crypto.canonical import b64_encode
from bot.crypto.ed25519 import Ed25519PrivateKey, verify_ed25519
from bot.crypto.sealed_box import InvalidTag, aes_gcm_open, aes_gcm_seal, scrypt_key

# RFC 8032, section 7.1, TEST 1 (empty message).
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    assert key.public_bytes_raw() == PUBLIC
    assert key.private_bytes_raw() == SEED
    assert key.sign(b"") == SIGNATURE
    assert verify_ed25519(b64_encode(PUBLIC), b64_encode(SIGNATURE), b"")
    assert not verify_ed25519(b64_encode(PUBLIC), b64_encode(SIGNATURE), b"x")
    assert "redacted" in repr(key) and SEED.hex() not in repr(key)


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33)])
def test_seed_of_wrong_length_is_refused(seed: bytes) -> None:
    with pytest.raises(ValueError):
        Ed25519PrivateKey.from_private_bytes(seed)


@pytest.mark.parametrize(
    ("public", "signature"),
    [
        ("AAAA", b64_encode(SIGNATURE)),
        (b64_encode(PUBLIC), "AAAA"),
        ("not base64!", b64_encode(SIGNATURE)),
        (b64_encode(PUBLIC), b64_encode(bytes(64))),
        (b64_encode(bytes(32)), b64_encode(SIGNATURE)),
    ],
)
def test_malformed_keys_and_signatures_are_false(public: str, signature: str) -> None:
    assert verify_ed25519(public, signature, b"") is False


def test_generated_keys_differ_and_sign() -> None:
    a, b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert a.private_bytes_raw() != b.private_bytes_raw()
    assert verify_ed25519(b64_encode(a.public_bytes_raw()), b64_encode(a.sign(b"m")), b"m")
    assert not verify_ed25519(b64_encode(b.public_bytes_raw()), b64_encode(a.sign(b"m")), b"m")


def test_scrypt_is_rfc7914() -> None:
    # RFC 7914, section 12, the second vector (N=1024, r=8, p=16), first 32 bytes.
    key = scrypt_key("password", b"NaCl", 1024, 8, 16)
    assert key == bytes.fromhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    assert key == hashlib.scrypt(b"password", salt=b"NaCl", n=1024, r=8, p=16, dklen=32)


def test_sealed_box_round_trip_and_tampering() -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = aes_gcm_seal(key, nonce, b"secret seeds", b"aad")
    assert len(sealed) == len(b"secret seeds") + 16
    assert aes_gcm_open(key, nonce, sealed, b"aad") == b"secret seeds"
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    for args in (
        (os.urandom(32), nonce, sealed, b"aad"),
        (key, os.urandom(12), sealed, b"aad"),
        (key, nonce, flipped, b"aad"),
        (key, nonce, sealed, b"other"),
        (key, nonce, sealed[:10], b"aad"),
    ):
        with pytest.raises(InvalidTag):
            aes_gcm_open(*args)
