"""Files, keys and signatures written by the code before pycryptodome replaced `cryptography`
(fixtures/ was produced with main at 547e177) still open and verify byte for byte: a
running bot's data dir, its sealed database rows and its published identity survive the
upgrade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot import datafiles
from bot.crypto.canonical import (
    b64_decode,
    private_key_from_seed,
    public_key_b64,
    seed_of,
    sign_json,
    verify_signed_json,
)
from bot.crypto.errors import CrossSigningError
from bot.crypto.key_file import load_keys, save_keys
from bot.crypto.own_keys import CrossSigningKeys, device_signing_upload_body

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return json.loads((FIXTURES / "expected.json").read_text())


def test_key_file_written_by_main_opens(expected: dict[str, Any]) -> None:
    keys = load_keys(FIXTURES / "cross_signing.keys", expected["secret"], expected["user_id"])
    assert keys is not None
    assert [keys.master_pub, keys.self_signing_pub, keys.user_signing_pub] == expected[
        "public_keys"
    ]
    seeds = [seed_of(k) for k in (keys.master, keys.self_signing, keys.user_signing)]
    assert seeds == [b64_decode(s) for s in expected["seeds"]]


def test_key_file_written_by_main_refuses_wrong_secret_or_account(
    expected: dict[str, Any],
) -> None:
    with pytest.raises(CrossSigningError, match="cannot decrypt"):
        load_keys(FIXTURES / "cross_signing.keys", "another secret", expected["user_id"])
    with pytest.raises(CrossSigningError, match="cannot decrypt"):
        load_keys(FIXTURES / "cross_signing.keys", expected["secret"], "@other:example.org")


def test_key_file_written_now_has_mains_layout(expected: dict[str, Any], tmp_path: Path) -> None:
    keys = load_keys(FIXTURES / "cross_signing.keys", expected["secret"], expected["user_id"])
    assert keys is not None
    path = tmp_path / "cross_signing.keys"
    save_keys(path, keys, expected["secret"], expected["user_id"])
    old = json.loads((FIXTURES / "cross_signing.keys").read_text())
    new = json.loads(path.read_text())
    assert new.keys() == old.keys()
    assert new["kdf"] == old["kdf"] and new["format"] == old["format"]
    assert len(b64_decode(new["ciphertext"])) == len(b64_decode(old["ciphertext"]))


def test_sealed_row_written_by_main_opens(expected: dict[str, Any]) -> None:
    sealed = (FIXTURES / "credentials.json.sealed").read_bytes()
    plain = datafiles.unseal(sealed, expected["secret"], expected["user_id"], "credentials.json")
    assert plain.decode() == expected["credentials"]
    with pytest.raises(datafiles.SealedFileError, match="cannot decrypt"):
        datafiles.unseal(sealed, expected["secret"], expected["user_id"], "cross_signing.keys")
    with pytest.raises(datafiles.SealedFileError, match="cannot decrypt"):
        datafiles.unseal(sealed, "wrong", expected["user_id"], "credentials.json")


def test_sealed_row_written_now_opens_with_the_same_layout(expected: dict[str, Any]) -> None:
    args = (expected["secret"], expected["user_id"], "credentials.json")
    sealed = datafiles.seal(b"new content", *args)
    assert datafiles.unseal(sealed, *args) == b"new content"
    old = json.loads((FIXTURES / "credentials.json.sealed").read_bytes())
    assert json.loads(sealed).keys() == old.keys()


def test_signatures_are_byte_for_byte_mains(expected: dict[str, Any]) -> None:
    master, self_signing, _ = (private_key_from_seed(b64_decode(s)) for s in expected["seeds"])
    user = expected["user_id"]
    signed = expected["signed_device_keys"]
    unsigned = {k: v for k, v in signed.items() if k != "signatures"}
    key_id = f"ed25519:{public_key_b64(self_signing)}"
    assert sign_json(unsigned, user, key_id, self_signing) == signed
    keys = CrossSigningKeys(
        master, self_signing, private_key_from_seed(b64_decode(expected["seeds"][2]))
    )
    assert device_signing_upload_body(keys, user) == expected["device_signing_upload"]


def test_signatures_written_by_main_verify(expected: dict[str, Any]) -> None:
    user = expected["user_id"]
    signed = expected["signed_device_keys"]
    pub = expected["public_keys"][1]
    assert verify_signed_json(signed, user, f"ed25519:{pub}", pub)
    tampered = {**signed, "device_id": "OTHER"}
    assert not verify_signed_json(tampered, user, f"ed25519:{pub}", pub)
    master_pub = expected["public_keys"][0]
    for part in ("self_signing_key", "user_signing_key"):
        body = expected["device_signing_upload"][part]
        assert verify_signed_json(body, user, f"ed25519:{master_pub}", master_pub)
        assert not verify_signed_json(body, user, f"ed25519:{master_pub}", pub)
