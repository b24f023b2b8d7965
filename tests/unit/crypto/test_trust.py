"""The owner-signed rule, on key chains built here with real ed25519 keys."""

from __future__ import annotations

import copy
from typing import Any

from bot.crypto.canonical import Ed25519PrivateKey, public_key_b64, sign_json
from bot.crypto.own_keys import (
    CrossSigningKeys,
    device_signing_upload_body,
    sign_device_keys,
)
from bot.crypto.trust import MemoryTrustStore, evaluate_user, evaluate_with_store

USER = "@alice:example.org"


def make_device(user_id: str, device_id: str) -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    pub = public_key_b64(key)
    obj = {
        "user_id": user_id,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{device_id}": "c" * 43, f"ed25519:{device_id}": pub},
    }
    return key, sign_json(obj, user_id, f"ed25519:{device_id}", key)


def make_response(
    keys: CrossSigningKeys, devices: dict[str, dict[str, Any]], user_id: str = USER
) -> dict[str, Any]:
    upload = device_signing_upload_body(keys, user_id)
    return {
        "device_keys": {user_id: devices},
        "master_keys": {user_id: upload["master_key"]},
        "self_signing_keys": {user_id: upload["self_signing_key"]},
        "user_signing_keys": {user_id: upload["user_signing_key"]},
        "failures": {},
    }


def good_chain() -> tuple[CrossSigningKeys, dict[str, Any]]:
    keys = CrossSigningKeys.generate()
    _, dev_a = make_device(USER, "AAAA")
    _, dev_b = make_device(USER, "BBBB")
    signed_a = sign_device_keys(dev_a, USER, keys.self_signing)
    return keys, make_response(keys, {"AAAA": signed_a, "BBBB": dev_b})


def test_good_chain() -> None:
    keys, response = good_chain()
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.problem is None
    assert result.pin_matches is True
    assert result.master_key == keys.master_pub
    assert result.self_signing_key == keys.self_signing_pub
    assert result.devices["AAAA"].owner_signed
    assert not result.devices["BBBB"].owner_signed
    assert "self-signing" in result.devices["BBBB"].reason
    assert result.trusted_devices == {"AAAA"}


def test_first_sight_trusts_and_store_pins() -> None:
    keys, response = good_chain()
    store = MemoryTrustStore()
    result = evaluate_with_store(store, USER, response)
    assert result.pin_matches is None
    assert result.trusted_devices == {"AAAA"}
    assert store.get_pin(USER) == keys.master_pub
    # second look: compared against the pin now
    assert evaluate_with_store(store, USER, response).pin_matches is True


def test_changed_master_key_distrusts_everything() -> None:
    keys, response = good_chain()
    pinned = CrossSigningKeys.generate().master_pub
    result = evaluate_user(USER, response, pinned)
    assert result.pin_matches is False
    assert result.problem == "master key differs from the pinned one"
    assert result.trusted_devices == set()
    assert result.master_key == keys.master_pub
    # the store keeps the old pin: a changed master key is not silently accepted
    store = MemoryTrustStore({USER: pinned})
    assert evaluate_with_store(store, USER, response).trusted_devices == set()
    assert store.get_pin(USER) == pinned


def test_reset_identity_resigned_device_still_refused_under_old_pin() -> None:
    old, response = good_chain()
    new = CrossSigningKeys.generate()
    device = response["device_keys"][USER]["AAAA"]
    device = sign_device_keys(device, USER, new.self_signing)
    attacker = make_response(new, {"AAAA": device})
    assert evaluate_user(USER, attacker, old.master_pub).trusted_devices == set()


def test_broken_ssk_signature() -> None:
    keys, response = good_chain()
    ssk = response["self_signing_keys"][USER]
    sig = ssk["signatures"][USER][f"ed25519:{keys.master_pub}"]
    ssk["signatures"][USER][f"ed25519:{keys.master_pub}"] = ("A" if sig[0] != "A" else "B") + sig[
        1:
    ]
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.problem == "self-signing key is not signed by the master key"
    assert result.trusted_devices == set()


def test_ssk_signed_by_another_master() -> None:
    _keys, response = good_chain()
    other = CrossSigningKeys.generate()
    ssk = {k: v for k, v in response["self_signing_keys"][USER].items() if k != "signatures"}
    response["self_signing_keys"][USER] = sign_json(
        ssk, USER, f"ed25519:{other.master_pub}", other.master
    )
    assert evaluate_user(USER, response, None).trusted_devices == set()


def test_device_signed_by_wrong_key() -> None:
    keys, response = good_chain()
    _, dev = make_device(USER, "CCCC")
    wrong = CrossSigningKeys.generate()
    response["device_keys"][USER]["CCCC"] = sign_device_keys(dev, USER, wrong.self_signing)
    # and one signed by the *master* key instead of the self-signing key
    _, dev_m = make_device(USER, "DDDD")
    response["device_keys"][USER]["DDDD"] = sign_json(
        dev_m, USER, f"ed25519:{keys.master_pub}", keys.master
    )
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.trusted_devices == {"AAAA"}
    assert not result.devices["CCCC"].owner_signed
    assert not result.devices["DDDD"].owner_signed


def test_device_modified_after_signing() -> None:
    keys, response = good_chain()
    dev = response["device_keys"][USER]["AAAA"]
    dev["algorithms"] = [*dev["algorithms"], "x.extra"]
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.devices["AAAA"].reason == "device keys are not self-signed"


def test_device_not_self_signed_but_ssk_signed() -> None:
    keys, response = good_chain()
    _, dev = make_device(USER, "EEEE")
    del dev["signatures"]
    response["device_keys"][USER]["EEEE"] = sign_device_keys(dev, USER, keys.self_signing)
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.devices["EEEE"].reason == "device keys are not self-signed"


def test_device_entry_for_other_user_or_id() -> None:
    keys, response = good_chain()
    good = response["device_keys"][USER]["AAAA"]
    response["device_keys"][USER]["ZZZZ"] = copy.deepcopy(good)  # listed under another ID
    result = evaluate_user(USER, response, keys.master_pub)
    assert not result.devices["ZZZZ"].owner_signed


def test_padded_master_key_refused() -> None:
    keys, response = good_chain()
    master = response["master_keys"][USER]
    pub = keys.master_pub
    master["keys"] = {f"ed25519:{pub}=": pub + "="}
    result = evaluate_user(USER, response, None)
    assert result.master_key is None
    assert "padded" in (result.problem or "")
    assert result.trusted_devices == set()


def test_padded_ssk_id_refused_even_if_signed() -> None:
    keys = CrossSigningKeys.generate()
    _, dev = make_device(USER, "AAAA")
    ssk_pub = keys.self_signing_pub
    response = make_response(keys, {})
    ssk = {"user_id": USER, "usage": ["self_signing"], "keys": {f"ed25519:{ssk_pub}=": ssk_pub}}
    response["self_signing_keys"][USER] = sign_json(
        ssk, USER, f"ed25519:{keys.master_pub}", keys.master
    )
    response["device_keys"][USER]["AAAA"] = sign_json(
        dev, USER, f"ed25519:{ssk_pub}=", keys.self_signing
    )
    result = evaluate_user(USER, response, keys.master_pub)
    assert result.self_signing_key is None
    assert result.trusted_devices == set()


def test_wrong_usage_and_other_user() -> None:
    _keys, response = good_chain()
    response["master_keys"][USER]["usage"] = ["self_signing"]
    assert evaluate_user(USER, response, None).master_key is None
    _keys, response = good_chain()
    response["master_keys"][USER]["user_id"] = "@mallory:example.org"
    assert evaluate_user(USER, response, None).trusted_devices == set()


def test_two_keys_in_master_refused() -> None:
    _keys, response = good_chain()
    extra = CrossSigningKeys.generate().master_pub
    response["master_keys"][USER]["keys"][f"ed25519:{extra}"] = extra
    assert evaluate_user(USER, response, None).master_key is None


def test_no_cross_signing_at_all() -> None:
    _, dev = make_device(USER, "AAAA")
    response = {"device_keys": {USER: {"AAAA": dev}}}
    result = evaluate_user(USER, response, None)
    assert result.master_key is None
    assert result.devices["AAAA"].owner_signed is False
    assert evaluate_user(USER, response, "x").pin_matches is False
    store = MemoryTrustStore()
    evaluate_with_store(store, USER, response)
    assert store.pins == {}


def test_garbage_does_not_raise() -> None:
    for response in (
        {},
        {"master_keys": None, "device_keys": {USER: None}},
        {"master_keys": {USER: "x"}, "device_keys": {USER: {"A": "x", "B": {"keys": 5}}}},
        {"master_keys": {USER: {"user_id": USER, "usage": ["master"], "keys": {"ed25519:x": 1}}}},
    ):
        result = evaluate_user(USER, response, None)
        assert result.trusted_devices == set()
