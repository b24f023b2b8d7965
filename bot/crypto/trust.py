"""Decide which of a user's devices are cross-signed by their owner (pure, no I/O).

The bot must treat a device as genuine only when its owner vouched for it, not when
the homeserver merely lists it: a homeserver (or whoever controls it) can add devices
to any account.  The owner vouches through the cross-signing chain

    pinned master key  --signs-->  self-signing key  --signs-->  device keys

and every link here is checked with real ed25519 over canonical JSON.  The master key is
the root of trust, so it is pinned: either configured by the operator or remembered the
first time it is seen (trust on first use).  A master key that differs from the pin is
a red flag (account reset, or an attack) and makes every device of that user untrusted
until a human re-pins.

Rule implemented by :func:`evaluate_user`, for user U and device D:

1. ``master_keys[U]`` has ``user_id == U``, ``"master"`` in ``usage`` and exactly one
   key ``ed25519:<P>`` whose value is ``<P>``, ``<P>`` canonical unpadded base64 of 32
   bytes.  If a pin exists, ``<P>`` must equal it.
2. ``self_signing_keys[U]`` is well formed in the same way (``"self_signing"`` usage,
   key ``<S>``) and carries a valid signature ``signatures[U]["ed25519:<P>"]``.
3. ``device_keys[U][D]`` has ``user_id == U``, ``device_id == D``, an ed25519 key
   ``keys["ed25519:D"]`` (canonical), is self-signed by that key (as nio checks), and
   carries a valid signature ``signatures[U]["ed25519:<S>"]``.

D is *owner-signed* iff 1–3 all hold.  Everything else is a reason string, never an
exception, so the caller always gets a safe answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.crypto.canonical import b64_decode, verify_signed_json

__all__ = [
    "DeviceTrust",
    "MemoryTrustStore",
    "TrustStore",
    "UserTrust",
    "evaluate_user",
    "evaluate_with_store",
    "parse_cross_signing_key",
]


@dataclass(frozen=True)
class DeviceTrust:
    """Whether one device is vouched for by its owner, and why (for logs and support)."""

    owner_signed: bool
    reason: str


@dataclass(frozen=True)
class UserTrust:
    """The verdict for one user's devices from one ``/keys/query`` answer.

    ``master_key`` is the well-formed master key the server showed (or None);
    ``pin_matches`` is None when there was no pin to compare with (first sight).
    """

    user_id: str
    master_key: str | None
    self_signing_key: str | None
    pinned_master_key: str | None
    pin_matches: bool | None
    devices: dict[str, DeviceTrust] = field(default_factory=dict)
    problem: str | None = None

    @property
    def trusted_devices(self) -> set[str]:
        """Device IDs that may receive room keys / whose messages may be believed."""
        return {d for d, t in self.devices.items() if t.owner_signed}


class TrustStore(Protocol):
    """Where pinned master keys live; the bot backs this with its database."""

    def get_pin(self, user_id: str) -> str | None: ...

    def set_pin(self, user_id: str, master_key: str) -> None: ...


@dataclass
class MemoryTrustStore:
    """A dict-backed :class:`TrustStore` for tests and for operator-configured pins."""

    pins: dict[str, str] = field(default_factory=dict)

    def get_pin(self, user_id: str) -> str | None:
        return self.pins.get(user_id)

    def set_pin(self, user_id: str, master_key: str) -> None:
        self.pins[user_id] = master_key


def _canonical_pubkey(value: Any) -> str | None:
    """Return ``value`` if it is a canonical unpadded base64 32-byte key, else None."""
    if not isinstance(value, str):
        return None
    try:
        raw = b64_decode(value, canonical=True)
    except ValueError:
        return None
    return value if len(raw) == 32 else None


def parse_cross_signing_key(obj: Any, user_id: str, usage: str) -> tuple[str | None, str]:
    """Return ``(public_key, "ok")`` for a well-formed cross-signing key, else ``(None, why)``.

    Exactly one ed25519 key is required: the spec allows only one, and accepting a list
    would let an extra key ride along on a valid signature.
    """
    if not isinstance(obj, Mapping):
        return None, f"no {usage} key"
    if obj.get("user_id") != user_id:
        return None, f"{usage} key belongs to another user"
    usages = obj.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        return None, f"{usage} key lacks usage {usage!r}"
    keys = obj.get("keys")
    if not isinstance(keys, Mapping) or len(keys) != 1:
        return None, f"{usage} key must have exactly one key"
    ((key_id, value),) = keys.items()
    if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
        return None, f"{usage} key is not ed25519"
    pub = _canonical_pubkey(value)
    if pub is None or key_id != f"ed25519:{pub}":
        return None, f"{usage} key is malformed (padded or non-canonical base64?)"
    return pub, "ok"


def _device_verdict(
    user_id: str, device_id: str, device: Any, ssk: str | None, chain_problem: str | None
) -> DeviceTrust:
    if not isinstance(device, Mapping):
        return DeviceTrust(False, "device keys are not an object")
    if device.get("user_id") != user_id or device.get("device_id") != device_id:
        return DeviceTrust(False, "device keys name another user or device")
    keys = device.get("keys")
    device_key = (
        _canonical_pubkey(keys.get(f"ed25519:{device_id}")) if isinstance(keys, Mapping) else None
    )
    if device_key is None:
        return DeviceTrust(False, "device has no valid ed25519 key")
    if not verify_signed_json(device, user_id, f"ed25519:{device_id}", device_key):
        return DeviceTrust(False, "device keys are not self-signed")
    if chain_problem is not None or ssk is None:
        return DeviceTrust(False, chain_problem or "no self-signing key")
    if not verify_signed_json(device, user_id, f"ed25519:{ssk}", ssk):
        return DeviceTrust(False, "device is not signed by the owner's self-signing key")
    return DeviceTrust(True, "signed by the owner's self-signing key")


def evaluate_user(
    user_id: str, keys_query: Mapping[str, Any], pinned_master_key: str | None
) -> UserTrust:
    """Judge every device of ``user_id`` listed in a ``/keys/query`` response.

    ``keys_query`` is the whole response body (``device_keys``, ``master_keys``,
    ``self_signing_keys``).  With ``pinned_master_key=None`` the master key seen is
    trusted for this evaluation (first sight); the caller decides whether to pin it.
    """
    master_obj = (keys_query.get("master_keys") or {}).get(user_id)
    ssk_obj = (keys_query.get("self_signing_keys") or {}).get(user_id)
    devices = (keys_query.get("device_keys") or {}).get(user_id) or {}

    problem: str | None = None
    ssk: str | None = None
    master, why = parse_cross_signing_key(master_obj, user_id, "master")
    pin_matches: bool | None = None
    if master is None:
        problem = why
    elif pinned_master_key is not None:
        pin_matches = master == pinned_master_key
        if not pin_matches:
            problem = "master key differs from the pinned one"
    if problem is None and master is not None:
        ssk, why = parse_cross_signing_key(ssk_obj, user_id, "self_signing")
        if ssk is None or ssk_obj is None:
            problem = why
        elif not verify_signed_json(ssk_obj, user_id, f"ed25519:{master}", master):
            problem = "self-signing key is not signed by the master key"
            ssk = None
    elif master is None and pinned_master_key is not None:
        pin_matches = False

    verdicts = (
        {
            device_id: _device_verdict(user_id, device_id, device, ssk, problem)
            for device_id, device in devices.items()
        }
        if isinstance(devices, Mapping)
        else {}
    )
    return UserTrust(
        user_id=user_id,
        master_key=master,
        self_signing_key=ssk,
        pinned_master_key=pinned_master_key,
        pin_matches=pin_matches,
        devices=verdicts,
        problem=problem,
    )


def evaluate_with_store(
    store: TrustStore, user_id: str, keys_query: Mapping[str, Any]
) -> UserTrust:
    """:func:`evaluate_user` with trust on first use: pin a valid chain's master key.

    Only a master key whose self-signing key verified is pinned, so a half-published or
    broken identity does not get remembered as the root of trust.
    """
    pin = store.get_pin(user_id)
    result = evaluate_user(user_id, keys_query, pin)
    if pin is None and result.master_key is not None and result.self_signing_key is not None:
        store.set_pin(user_id, result.master_key)
    return result
