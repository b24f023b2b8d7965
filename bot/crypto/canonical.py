"""Canonical JSON and ed25519 JSON signatures as the Matrix spec defines them.

Cross-signing is a chain of signed JSON objects.  Every link is only as good as the
byte string that was signed, so this module is the one place that decides what that
byte string is: the spec's canonical JSON (sorted keys, no insignificant whitespace,
UTF-8 rather than ``\\uXXXX`` escapes) of the object without ``signatures`` and
``unsigned``.  Synapse rejects an upload whose signature does not match this exact
encoding (``M_INVALID_SIGNATURE``), and Element's crypto silently ignores keys whose IDs
are padded base64, so the base64 helpers here are unpadded on output and strict about
what they accept.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from typing import Any

from bot.crypto.ed25519 import Ed25519PrivateKey, verify_ed25519

__all__ = [
    "Ed25519PrivateKey",
    "b64_decode",
    "b64_encode",
    "canonical_json",
    "private_key_from_seed",
    "public_key_b64",
    "seed_of",
    "sign_json",
    "signable_bytes",
    "verify_signed_json",
]


def b64_encode(data: bytes) -> str:
    """Encode as unpadded standard base64, the only form Matrix uses for keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64_decode(text: str, *, canonical: bool = False) -> bytes:
    """Decode unpadded base64, refusing padding and non-alphabet characters.

    Padding is refused rather than tolerated because a padded key ID names a *different*
    key to Element than the unpadded one: accepting both here would let us believe in a
    chain that Element does not see.  With ``canonical=True`` the text must also be the
    one encoding of its bytes (unused trailing bits zero), so that a public key has a
    single spelling and key-ID comparisons by string are sound.  It is not the default
    because real inputs such as the spec's own test seed carry non-zero trailing bits.
    """
    if not isinstance(text, str) or "=" in text:
        raise ValueError("expected unpadded base64")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc
    if canonical and b64_encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def canonical_json(obj: Any) -> str:
    """Return the spec's canonical JSON text for ``obj``.

    Floats are refused: canonical JSON allows integers only, and two implementations
    would render a float differently, breaking signatures in ways that are hard to see.
    """
    _reject_floats(obj)
    return json.dumps(
        obj,
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
        allow_nan=False,
    )


def _reject_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise ValueError("canonical JSON does not allow floats")
    if isinstance(obj, Mapping):
        for value in obj.values():
            _reject_floats(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_floats(value)


def signable_bytes(obj: Mapping[str, Any]) -> bytes:
    """The exact bytes a signature over ``obj`` covers (without signatures/unsigned)."""
    stripped = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical_json(stripped).encode("utf-8")


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Build a signing key from its 32-byte seed (the form we persist)."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def seed_of(private_key: Ed25519PrivateKey) -> bytes:
    """Return the 32-byte seed of a private key, the smallest thing to persist."""
    return private_key.private_bytes_raw()


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """Unpadded base64 of the public key; also the key-ID suffix for cross-signing keys."""
    return b64_encode(private_key.public_bytes_raw())


def sign_json(
    obj: Mapping[str, Any],
    user_id: str,
    key_id: str,
    private_key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """Return a deep copy of ``obj`` with our signature added under ``signatures``.

    Existing signatures (and ``unsigned``) are kept, because uploads such as a device's
    keys must carry the device's own self-signature next to ours.
    """
    signature = b64_encode(private_key.sign(signable_bytes(obj)))
    signed = copy.deepcopy(dict(obj))
    signatures = signed.setdefault("signatures", {})
    signatures.setdefault(user_id, {})[key_id] = signature
    return signed


def verify_signed_json(
    obj: Mapping[str, Any],
    user_id: str,
    key_id: str,
    public_key_b64: str,
) -> bool:
    """True iff ``obj`` carries a valid signature by ``user_id``/``key_id``.

    Any malformed input (missing signature, bad base64, wrong key length) is simply
    ``False``: callers make trust decisions and must never have to catch exceptions to
    get a safe answer.
    """
    try:
        signature = b64_decode(obj["signatures"][user_id][key_id])
        public = b64_decode(public_key_b64, canonical=True)
        data = signable_bytes(obj)
    except (KeyError, TypeError, ValueError):
        return False
    # Re-encoded here: the base64 checks above are stricter than vodozemac's own.
    return verify_ed25519(b64_encode(public), b64_encode(signature), data)
