"""Upload payloads and the encrypted key file of the bot's cross-signing identity."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bot.crypto.canonical import (
    Ed25519PrivateKey,
    b64_decode,
    b64_encode,
    public_key_b64,
    sign_json,
    verify_signed_json,
)
from bot.crypto.errors import CrossSigningError
from bot.crypto.key_file import load_keys, save_keys
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


def test_key_file_round_trip_and_mode(tmp_path: Path) -> None:
    keys = CrossSigningKeys.generate()
    path = tmp_path / "sub" / "xsign.json"
    save_keys(path, keys, "s3cret", USER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for secret_part in (keys.master, keys.self_signing, keys.user_signing):
        from bot.crypto.canonical import seed_of

        assert b64_encode(seed_of(secret_part)) not in text
    loaded = load_keys(path, "s3cret", USER)
    assert loaded is not None
    assert loaded.master_pub == keys.master_pub
    assert loaded.self_signing_pub == keys.self_signing_pub
    assert loaded.user_signing_pub == keys.user_signing_pub
    assert list(tmp_path.joinpath("sub").iterdir()) == [path], "no temp files left"
    assert "redacted" in repr(loaded)


def test_key_file_wrong_secret_or_user_raises(tmp_path: Path) -> None:
    path = tmp_path / "xsign.json"
    assert load_keys(path, "s", USER) is None
    save_keys(path, CrossSigningKeys.generate(), "right", USER)
    with pytest.raises(CrossSigningError, match="wrong secret"):
        load_keys(path, "wrong", USER)
    with pytest.raises(CrossSigningError):
        load_keys(path, "right", "@other:example.org")
    path.write_text("{}")
    with pytest.raises(CrossSigningError):
        load_keys(path, "right", USER)


def test_empty_secret_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_keys(tmp_path / "k", CrossSigningKeys.generate(), "", USER)
