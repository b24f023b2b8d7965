"""The cryptography of `m.sas.v1` (Client-Server API, "Short Authentication String (SAS)
verification"): curve25519-hkdf-sha256 key agreement, sha256 commitment, hkdf-hmac-sha256.v2
MACs, emoji and decimals. vodozemac does the primitives; this module fixes the byte
strings the spec says each one covers, so that Element computes the same values.

Nothing here logs: the SAS, the keys and the MACs are secrets of one verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import vodozemac

from bot.crypto.canonical import b64_encode, canonical_json

METHOD = "m.sas.v1"
KEY_AGREEMENT = "curve25519-hkdf-sha256"
HASH = "sha256"
MAC_METHOD = "hkdf-hmac-sha256.v2"
SAS_TYPES = ("decimal", "emoji")


@dataclass(frozen=True)
class Party:
    """One side of a verification: who, from which device, with which ephemeral key."""

    user_id: str
    device_id: str
    key: str  # the SAS public key, unpadded base64


def commitment(accepter_key: str, start_content: Mapping[str, Any]) -> str:
    """What the accepting side commits to: sha256(its key + canonical JSON of the start)."""
    digest = hashlib.sha256((accepter_key + canonical_json(start_content)).encode("utf-8"))
    return b64_encode(digest.digest())


def sas_info(starter: Party, accepter: Party, transaction_id: str) -> str:
    return (
        f"MATRIX_KEY_VERIFICATION_SAS|{starter.user_id}|{starter.device_id}|{starter.key}|"
        f"{accepter.user_id}|{accepter.device_id}|{accepter.key}|{transaction_id}"
    )


def mac_info(sender: Party, receiver: Party, transaction_id: str) -> str:
    """The MAC info without its key ID (appended per key, or `KEY_IDS` for the list)."""
    return (
        f"MATRIX_KEY_VERIFICATION_MAC{sender.user_id}{sender.device_id}"
        f"{receiver.user_id}{receiver.device_id}{transaction_id}"
    )


class SasSession:
    """One ephemeral curve25519 key pair, then the shared secret with the other side."""

    def __init__(self) -> None:
        self._sas: vodozemac.Sas | None = vodozemac.Sas()
        self.public_key: str = self._sas.public_key.to_base64()
        self._established: vodozemac.EstablishedSas | None = None

    def __repr__(self) -> str:  # never let a session's secrets reach a log via repr()
        return "SasSession(<redacted>)"

    def establish(self, their_key: str) -> None:
        """Derive the shared secret (once); ValueError for a key that is not one."""
        if self._sas is None:
            raise ValueError("the shared secret is already established")
        try:
            key = vodozemac.Curve25519PublicKey.from_base64(their_key)
        except Exception as exc:  # vodozemac raises its own KeyException
            raise ValueError("not a curve25519 public key") from exc
        self._established = self._sas.diffie_hellman(key)
        self._sas = None

    def _shared(self) -> vodozemac.EstablishedSas:
        if self._established is None:
            raise ValueError("no shared secret yet")
        return self._established

    def short_code(self, info: str) -> tuple[tuple[int, ...], tuple[int, int, int]]:
        """(seven emoji indices, three decimals) from the shared secret."""
        code = self._shared().bytes(info)
        decimals = tuple(code.decimals)
        assert len(decimals) == 3
        return tuple(code.emoji_indices), (decimals[0], decimals[1], decimals[2])

    def mac(self, text: str, info: str) -> str:
        return str(self._shared().calculate_mac(text, info))

    def mac_ok(self, text: str, info: str, tag: str) -> bool:
        try:
            self._shared().verify_mac(text, info, tag)
        except Exception:  # vodozemac's SasException: a MAC that does not match
            return False
        return True

    def mac_content(self, keys: Mapping[str, str], info: str) -> dict[str, Any]:
        """The `m.key.verification.mac` content: a MAC per key, and one of the sorted key IDs."""
        macs = {key_id: self.mac(key, info + key_id) for key_id, key in keys.items()}
        return {"mac": macs, "keys": self.mac(",".join(sorted(keys)), info + "KEY_IDS")}
