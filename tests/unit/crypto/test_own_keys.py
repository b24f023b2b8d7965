"""Upload payloads of the bot's cross-signing identity: what its keys sign."""

from __future__ import annotations

import json

from bot.crypto.canonical import (
    Ed25519PrivateKey,
    b64_decode,
    b64_encode,
    public_key_b64,
    sign_json,
    verify_signed_json,
)
from bot.crypto.own_keys import (
    CrossSigningKeys,
    device_signing_upload_body,
    sign_device_keys,
    sign_master_with_device,
)

USER = "@bot:example.org"


def test_upload_body_shape_and_signatures() -> None:
    keys = CrossSigningKeys.generate()
    body = device_signing_upload_body(keys, USER)
    master = body["master_key"]
    assert master == {
        "user_id": USER,
        "usage": ["master"],
        "keys": {f"ed25519:{keys.master_pub}": keys.master_pub},
    }
    for name, usage, pub in (
        ("self_signing_key", "self_signing", keys.self_signing_pub),
        ("user_signing_key", "user_signing", keys.user_signing_pub),
    ):
        obj = body[name]
        assert obj["usage"] == [usage]
        assert obj["keys"] == {f"ed25519:{pub}": pub}
        assert "=" not in pub and len(b64_decode(pub, canonical=True)) == 32
        assert verify_signed_json(obj, USER, f"ed25519:{keys.master_pub}", keys.master_pub)
        assert list(obj["signatures"][USER]) == [f"ed25519:{keys.master_pub}"]


def test_sign_device_keys_keeps_self_signature() -> None:
    keys = CrossSigningKeys.generate()
    dev_key = Ed25519PrivateKey.generate()
    dev_pub = public_key_b64(dev_key)
    device = sign_json(
        {"user_id": USER, "device_id": "DEV", "algorithms": [], "keys": {"ed25519:DEV": dev_pub}},
        USER,
        "ed25519:DEV",
        dev_key,
    )
    device["unsigned"] = {"device_display_name": "bot"}
    signed = sign_device_keys(device, USER, keys.self_signing)
    assert "unsigned" not in signed
    assert verify_signed_json(signed, USER, "ed25519:DEV", dev_pub)
    assert verify_signed_json(
        signed, USER, f"ed25519:{keys.self_signing_pub}", keys.self_signing_pub
    )


def test_sign_master_with_device_callback() -> None:
    keys = CrossSigningKeys.generate()
    dev_key = Ed25519PrivateKey.generate()
    master = device_signing_upload_body(keys, USER)["master_key"]
    seen: list[str] = []

    def device_sign(text: str) -> str:
        seen.append(text)
        return b64_encode(dev_key.sign(text.encode()))

    signed = sign_master_with_device(master, USER, "DEV", device_sign)
    assert seen == [json.dumps(master, separators=(",", ":"), sort_keys=True)]
    assert verify_signed_json(signed, USER, "ed25519:DEV", public_key_b64(dev_key))
    assert "signatures" not in master
