"""Canonical JSON and JSON signing against the Matrix spec's own test vectors."""

from __future__ import annotations

import pytest

from bot.crypto.canonical import (
    Ed25519PrivateKey,
    b64_decode,
    b64_encode,
    canonical_json,
    private_key_from_seed,
    public_key_b64,
    seed_of,
    sign_json,
    signable_bytes,
    verify_signed_json,
)

# Matrix spec, appendix "Cryptographic test vectors" → "JSON Signing".
SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SERVER = "domain"
KEY_ID = "ed25519:1"
SIG_EMPTY = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
SIG_DATA = "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"


@pytest.fixture
def spec_key() -> Ed25519PrivateKey:
    return private_key_from_seed(b64_decode(SEED))


@pytest.mark.parametrize(
    ("obj", "expected"),
    [({}, SIG_EMPTY), ({"one": 1, "two": "Two"}, SIG_DATA)],
)
def test_spec_vectors_sign(spec_key: Ed25519PrivateKey, obj: dict, expected: str) -> None:
    signed = sign_json(obj, SERVER, KEY_ID, spec_key)
    assert signed["signatures"] == {SERVER: {KEY_ID: expected}}
    assert {k: v for k, v in signed.items() if k != "signatures"} == obj
    assert obj == ({} if not obj else {"one": 1, "two": "Two"}), "input must not be mutated"


@pytest.mark.parametrize(
    ("obj", "sig"),
    [({}, SIG_EMPTY), ({"one": 1, "two": "Two"}, SIG_DATA)],
)
def test_spec_vectors_verify(spec_key: Ed25519PrivateKey, obj: dict, sig: str) -> None:
    pub = public_key_b64(spec_key)
    signed = {**obj, "signatures": {SERVER: {KEY_ID: sig}}}
    assert verify_signed_json(signed, SERVER, KEY_ID, pub)
    # unsigned is not covered by the signature
    assert verify_signed_json({**signed, "unsigned": {"age": 5}}, SERVER, KEY_ID, pub)
    # but every other field is
    assert not verify_signed_json({**signed, "three": 3}, SERVER, KEY_ID, pub)
    assert not verify_signed_json(signed, "other", KEY_ID, pub)
    assert not verify_signed_json(signed, SERVER, "ed25519:2", pub)


def test_signing_ignores_existing_signatures_and_keeps_them(spec_key: Ed25519PrivateKey) -> None:
    obj = {"one": 1, "two": "Two", "signatures": {"@x:y": {"ed25519:X": "abc"}}, "unsigned": {}}
    signed = sign_json(obj, SERVER, KEY_ID, spec_key)
    assert signed["signatures"][SERVER][KEY_ID] == SIG_DATA
    assert signed["signatures"]["@x:y"] == {"ed25519:X": "abc"}
    assert signed["unsigned"] == {}


def test_canonical_json_form() -> None:
    obj = {"b": 1, "a": {"d": [1, 2], "c": "ü€"}, "e": None, "f": True}
    assert canonical_json(obj) == '{"a":{"c":"ü€","d":[1,2]},"b":1,"e":null,"f":true}'
    assert signable_bytes({"x": "é", "signatures": {}, "unsigned": {}}) == '{"x":"é"}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": 1.5})


def test_base64_unpadded_and_strict() -> None:
    assert b64_encode(b"\x00") == "AA"
    assert b64_decode("AA") == b"\x00"
    with pytest.raises(ValueError):
        b64_decode("AA==")
    with pytest.raises(ValueError):
        b64_decode("A!")
    seed = b64_decode(SEED)
    assert len(seed) == 32
    # The spec's seed has non-zero unused trailing bits: it decodes, but is not canonical.
    assert b64_encode(seed) != SEED
    with pytest.raises(ValueError):
        b64_decode(SEED, canonical=True)
    assert b64_decode(b64_encode(seed), canonical=True) == seed


def test_padded_signature_is_refused(spec_key: Ed25519PrivateKey) -> None:
    pub = public_key_b64(spec_key)
    assert "=" not in pub
    signed = {"signatures": {SERVER: {KEY_ID: SIG_EMPTY + "=="}}}
    assert not verify_signed_json(signed, SERVER, KEY_ID, pub)
    good = {"signatures": {SERVER: {KEY_ID: SIG_EMPTY}}}
    assert not verify_signed_json(good, SERVER, KEY_ID, pub + "=")
    # a second spelling of the same public key (non-zero trailing bits) is refused too
    alias = pub[:-1] + chr(ord(pub[-1]) + 1)
    assert b64_decode(alias) == b64_decode(pub)
    assert not verify_signed_json(good, SERVER, KEY_ID, alias)


def test_malformed_inputs_are_false_not_errors(spec_key: Ed25519PrivateKey) -> None:
    pub = public_key_b64(spec_key)
    assert not verify_signed_json({}, SERVER, KEY_ID, pub)
    assert not verify_signed_json({"signatures": None}, SERVER, KEY_ID, pub)
    assert not verify_signed_json({"signatures": {SERVER: {KEY_ID: 5}}}, SERVER, KEY_ID, pub)
    good = {"signatures": {SERVER: {KEY_ID: SIG_EMPTY}}}
    assert not verify_signed_json(good, SERVER, KEY_ID, "AA")
    assert not verify_signed_json({"x": 1.5, "signatures": {}}, SERVER, KEY_ID, pub)


def test_seed_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    again = private_key_from_seed(seed_of(key))
    assert public_key_b64(again) == public_key_b64(key)
