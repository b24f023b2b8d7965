"""The bot's three cross-signing keys (master, self-signing, user-signing ed25519) and what
they sign: the identity's upload body, the bot's device keys, and the master key signed by
the device. Private keys never reach a log (not even through repr)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.crypto.canonical import (
    Ed25519PrivateKey,
    canonical_json,
    public_key_b64,
    sign_json,
)


@dataclass(frozen=True)
class CrossSigningKeys:
    """The bot's three cross-signing private keys."""

    master: Ed25519PrivateKey
    self_signing: Ed25519PrivateKey
    user_signing: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
        )

    @property
    def master_pub(self) -> str:
        return public_key_b64(self.master)

    @property
    def self_signing_pub(self) -> str:
        return public_key_b64(self.self_signing)

    @property
    def user_signing_pub(self) -> str:
        return public_key_b64(self.user_signing)

    def __repr__(self) -> str:  # never let a private key reach a log via repr()
        return "CrossSigningKeys(<redacted>)"


def _key_object(user_id: str, usage: str, pub: str) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{pub}": pub}}


def device_signing_upload_body(keys: CrossSigningKeys, user_id: str) -> dict[str, Any]:
    """Body of ``/keys/device_signing/upload``: the sub-keys are signed by the master key."""
    master_id = f"ed25519:{keys.master_pub}"
    return {
        "master_key": _key_object(user_id, "master", keys.master_pub),
        "self_signing_key": sign_json(
            _key_object(user_id, "self_signing", keys.self_signing_pub),
            user_id,
            master_id,
            keys.master,
        ),
        "user_signing_key": sign_json(
            _key_object(user_id, "user_signing", keys.user_signing_pub),
            user_id,
            master_id,
            keys.master,
        ),
    }


def sign_device_keys(
    device_keys: Mapping[str, Any], user_id: str, self_signing: Ed25519PrivateKey
) -> dict[str, Any]:
    """The device keys object (as ``/keys/query`` returned it) with our SSK signature added.

    ``unsigned`` is dropped because the server compares the rest with what it stored.
    """
    body = {k: v for k, v in device_keys.items() if k != "unsigned"}
    return sign_json(body, user_id, f"ed25519:{public_key_b64(self_signing)}", self_signing)


def sign_master_with_device(
    master_key: Mapping[str, Any],
    user_id: str,
    device_id: str,
    sign_with_device: Callable[[str], str],
) -> dict[str, Any]:
    """The master key object signed by the bot's device (nio: ``olm.account.sign``).

    Optional for peers; it lets other clients of the same account see that this device
    trusts the identity.
    """
    body = {k: v for k, v in master_key.items() if k != "unsigned"}
    text = canonical_json({k: v for k, v in body.items() if k != "signatures"})
    signature = sign_with_device(text)
    signed = json.loads(json.dumps(body))
    signed.setdefault("signatures", {}).setdefault(user_id, {})[f"ed25519:{device_id}"] = signature
    return signed
