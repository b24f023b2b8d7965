"""Ed25519 (RFC 8032) for the bot's cross-signing keys, without the `cryptography` package.

`cryptography` cost 7–8 MiB of resident memory for three primitives (issue 25); the
libraries nio already loads have them. Signing uses pycryptodome (its ECC module, +0.9 MiB;
RFC 8032 signatures are deterministic, so a key signs exactly the bytes it signed before);
verifying uses vodozemac, the Rust implementation Element's own crypto is built on, four
times faster than pycryptodome's here, and never lenient where Element would be strict.
"""

from __future__ import annotations

import vodozemac
from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey
from Crypto.Signature import eddsa

__all__ = ["Ed25519PrivateKey", "verify_ed25519"]


class Ed25519PrivateKey:
    """A signing key; persisted as its 32-byte seed (`private_bytes_raw`)."""

    __slots__ = ("_key",)

    def __init__(self, key: EccKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> Ed25519PrivateKey:
        return cls(ECC.generate(curve="ed25519"))

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> Ed25519PrivateKey:
        """The key of a 32-byte seed; ValueError for any other length."""
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(ECC.construct(curve="ed25519", seed=seed))

    def private_bytes_raw(self) -> bytes:
        seed = self._key.seed
        assert isinstance(seed, bytes)
        return seed

    def public_bytes_raw(self) -> bytes:
        raw = self._key.public_key().export_key(format="raw")
        assert isinstance(raw, bytes)
        return raw

    def sign(self, data: bytes) -> bytes:
        signature = eddsa.new(self._key, "rfc8032").sign(data)
        assert isinstance(signature, bytes)
        return signature

    def __repr__(self) -> str:  # never let a private key reach a log via repr()
        return "Ed25519PrivateKey(<redacted>)"


def verify_ed25519(public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    """True iff the signature (unpadded base64) by the public key (likewise) covers `data`.

    Malformed keys or signatures are False, like a wrong signature.
    """
    try:
        public = vodozemac.Ed25519PublicKey.from_base64(public_key_b64)
        public.verify_signature(data, vodozemac.Ed25519Signature.from_base64(signature_b64))
    except ValueError:  # vodozemac's KeyException, SignatureException, DecodeException
        return False
    return True
