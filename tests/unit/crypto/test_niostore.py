"""BotCryptoStore answers exactly as nio's SqliteStore does, with fewer database reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from nio.crypto import OlmAccount, OlmDevice, TrustState
from nio.store import SqliteStore

from bot.niostore import BotCryptoStore

ME, DEV = "@bot:localhost", "BOTDEVICE"
ALICE = "@alice:localhost"


def _device(device_id: str, ed: str = "ed-key") -> OlmDevice:
    return OlmDevice(ALICE, device_id, {"ed25519": ed, "curve25519": f"curve-{device_id}"})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    store = SqliteStore(ME, DEV, str(tmp_path), "pickle")
    store.save_account(OlmAccount())
    store.save_device_keys({ALICE: {"A1": _device("A1"), "A2": _device("A2")}})
    return tmp_path


def _reads(store: BotCryptoStore) -> list[str]:
    calls: list[str] = []
    original = store._load_trust

    def counting(device: OlmDevice) -> TrustState:
        calls.append(device.id)
        return original(device)

    store._load_trust = counting  # type: ignore[method-assign]
    return calls


def test_same_answers_as_nio_and_persisted(path: Path) -> None:
    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    a1, a2 = _device("A1"), _device("A2")
    assert not store.is_device_verified(a1)
    assert store.verify_device(a1) is True
    assert store.verify_device(a1) is False  # already verified, as nio answers
    assert store.blacklist_device(a2) is True
    assert store.is_device_verified(a1) and not store.is_device_blacklisted(a1)
    assert store.is_device_blacklisted(a2) and not store.is_device_verified(a2)
    # What nio's own store (a later process) reads from the same database.
    plain = SqliteStore(ME, DEV, str(path), "pickle")
    assert plain.is_device_verified(a1) and plain.is_device_blacklisted(a2)
    assert store.unverify_device(a1) is True
    assert not store.is_device_verified(a1)
    assert not SqliteStore(ME, DEV, str(path), "pickle").is_device_verified(a1)
    store.ignore_devices([a1, a2])
    assert store.is_device_ignored(a1) and store.is_device_ignored(a2)
    assert not store.is_device_blacklisted(a2)


def test_trust_is_read_once_until_it_changes(path: Path) -> None:
    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    reads = _reads(store)
    a1 = _device("A1")
    for _ in range(5):
        assert not store.is_device_verified(a1)
    assert reads == ["A1"]
    store.verify_device(a1)
    assert store.is_device_verified(a1)
    assert store.is_device_verified(a1)
    assert reads == ["A1", "A1"]  # re-read once after the change, then cached


def test_device_list_change_forgets_the_users_devices(path: Path) -> None:
    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    reads = _reads(store)
    a1 = _device("A1")
    store.is_device_verified(a1)
    store.forget_users(["@someone-else:localhost"])
    store.is_device_verified(a1)
    assert reads == ["A1"]
    store.forget_users([ALICE])
    store.is_device_verified(a1)
    assert reads == ["A1", "A1"]


def test_account_saved_again_is_read_fresh(path: Path) -> None:
    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    account = store.load_account()
    assert account is not None
    account.shared = True
    store.save_account(account)
    again = store.load_account()
    assert again is not None and again.shared is True


def test_no_transaction_for_an_empty_set_of_encrypted_rooms(path: Path) -> None:
    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    store.save_encrypted_rooms(set())
    store.save_encrypted_rooms({"!r:localhost"})
    assert store.load_encrypted_rooms() == {"!r:localhost"}


def test_policy_forget_also_forgets_nio_device_trust(path: Path) -> None:
    """A device-list change (sync -> DeviceTrustPolicy.forget) re-reads nio's trust too."""
    from types import SimpleNamespace

    from bot.crypto.policy import DeviceTrustPolicy
    from bot.metrics import Metrics
    from tests.harness.fakes import make_settings

    store = BotCryptoStore(ME, DEV, str(path), "pickle")
    reads = _reads(store)
    client = SimpleNamespace(store=store)
    policy = DeviceTrustPolicy(client, make_settings(path), None, Metrics())  # type: ignore[arg-type]
    a1 = _device("A1")
    store.is_device_verified(a1)
    policy.forget([ALICE])
    store.is_device_verified(a1)
    assert reads == ["A1", "A1"]
