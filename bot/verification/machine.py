"""One interactive verification (`m.sas.v1`) as a pure state machine: events in, actions
out, no I/O and no clock of its own (the caller passes `now`).

The bot's side differs from Element's in one place: after the emoji are known it does not
ask the person's screen but an admin (`ShowSas` goes to the admins, out of band); only
`confirm()` sends the bot's MAC, so nothing is vouched for before a human compared.
The other side's MAC may arrive before that; it is kept and checked after the confirm.

Flow (Client-Server API, "Key verification framework"): request -> ready -> start ->
accept -> key <-> key -> (admin compares) mac <-> mac -> done <-> done; cancel at any
point. Who starts: the side that did not request waits for a start, the requesting side
(the bot after `!verify`) sends it on `ready`; when both start, the spec's tie-break.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.verification.sas import (
    HASH,
    KEY_AGREEMENT,
    MAC_METHOD,
    METHOD,
    SAS_TYPES,
    Party,
    SasSession,
    commitment,
    mac_info,
    sas_info,
)

TIMEOUT_SECONDS = 600.0  # the spec's 10 minutes
PREFIX = "m.key.verification."

# Cancellation codes (spec) the bot sends.
USER = "m.user"
TIMEOUT = "m.timeout"
UNEXPECTED = "m.unexpected_message"
UNKNOWN_METHOD = "m.unknown_method"
KEY_MISMATCH = "m.key_mismatch"
MISMATCHED_SAS = "m.mismatched_sas"
MISMATCHED_COMMITMENT = "m.mismatched_commitment"
INVALID = "m.invalid_message"
ACCEPTED = "m.accepted"


class State(enum.Enum):
    REQUESTED = "requested"  # we asked, waiting for their ready
    READY = "ready"  # ready sent or received, waiting for a start
    STARTED = "started"  # we sent start, waiting for their accept
    ACCEPTED = "accepted"  # we accepted their start, waiting for their key
    KEY_SENT = "key_sent"  # we started, were accepted, sent our key: waiting for theirs
    COMPARING = "comparing"  # both keys known: an admin compares
    CONFIRMED = "confirmed"  # an admin confirmed; our MAC is out, waiting for theirs
    VERIFIED = "verified"  # their MAC checked, our done sent
    CANCELLED = "cancelled"

    @property
    def over(self) -> bool:
        return self in (State.VERIFIED, State.CANCELLED)


@dataclass(frozen=True)
class Send:
    """Send `m.key.verification.<kind>` with this content (channel fields included)."""

    kind: str
    content: dict[str, Any]


@dataclass(frozen=True)
class ShowSas:
    """Both keys are known: show these to an admin to compare with the person."""

    emoji: tuple[int, ...]
    decimals: tuple[int, int, int]


@dataclass(frozen=True)
class Verified:
    """Their MAC covered this master key and device, after an admin confirmed the SAS."""

    master_key: str
    device_id: str


@dataclass(frozen=True)
class Cancelled:
    code: str
    reason: str
    by_them: bool


Action = Send | ShowSas | Verified | Cancelled


@dataclass(frozen=True)
class Us:
    """The bot: its user, device, device ed25519 key and master (cross-signing) key."""

    user_id: str
    device_id: str
    device_key: str
    master_key: str


@dataclass
class Verification:
    """One verification with one person's device, in a DM (`in_room`) or to-device."""

    number: int
    us: Us
    user_id: str
    transaction_id: str
    in_room: bool
    we_requested: bool
    created: float
    state: State = State.READY
    their_device: str | None = None
    their_device_key: str | None = None
    their_master: str | None = None
    cancel_code: str | None = None
    _session: SasSession = field(default_factory=SasSession, repr=False)
    _start: dict[str, Any] | None = field(default=None, repr=False)
    _we_start: bool = False
    _their_commitment: str | None = field(default=None, repr=False)
    _their_key: str | None = field(default=None, repr=False)
    _their_mac: dict[str, Any] | None = field(default=None, repr=False)
    _shown: ShowSas | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.we_requested:
            self.state = State.REQUESTED

    # -- what the caller asks --------------------------------------------------------------

    def bind(self, device_id: str, device_key: str, master_key: str) -> None:
        """The person's device (checked trusted by the caller) and their master key now."""
        self.their_device, self.their_device_key, self.their_master = (
            device_id,
            device_key,
            master_key,
        )

    def fields(self) -> dict[str, Any]:
        """What ties an event to this verification: its transaction or its request event."""
        if self.in_room:
            return {"m.relates_to": {"rel_type": "m.reference", "event_id": self.transaction_id}}
        return {"transaction_id": self.transaction_id}

    def request_content(self, now_ms: int) -> dict[str, Any]:
        """The to-device request (a DM request is an m.room.message the caller builds)."""
        return {
            "from_device": self.us.device_id,
            "methods": [METHOD],
            "timestamp": now_ms,
            "transaction_id": self.transaction_id,
        }

    def ready(self) -> list[Action]:
        """Accept their request: our ready (the caller bound their device first)."""
        assert not self.we_requested and self.state is State.READY
        return [self._send("ready", {"from_device": self.us.device_id, "methods": [METHOD]})]

    def expired(self, now: float) -> bool:
        return not self.state.over and now - self.created >= TIMEOUT_SECONDS

    @property
    def awaiting_admin(self) -> bool:
        return self.state is State.COMPARING

    @property
    def shown(self) -> ShowSas | None:
        return self._shown

    def confirm(self) -> list[Action]:
        """An admin saw the same emoji as the person: send our MAC (and check theirs)."""
        if self.state is not State.COMPARING:
            return []
        info = mac_info(self._our_party(), self._their_party(), self.transaction_id)
        keys = {
            f"ed25519:{self.us.device_id}": self.us.device_key,
            f"ed25519:{self.us.master_key}": self.us.master_key,
        }
        self.state = State.CONFIRMED
        actions: list[Action] = [self._send("mac", self._session.mac_content(keys, info))]
        if self._their_mac is not None:
            actions += self._check_mac(self._their_mac)
        return actions

    def reject(self) -> list[Action]:
        """An admin saw different emoji (or refused): cancel, nothing vouched for."""
        return self.cancel(MISMATCHED_SAS, "The short authentication strings did not match")

    def cancel(self, code: str, reason: str) -> list[Action]:
        if self.state.over:
            return []
        self.state = State.CANCELLED
        self.cancel_code = code
        return [
            self._send("cancel", {"code": code, "reason": reason}),
            Cancelled(code, reason, by_them=False),
        ]

    # -- what the other side sends ---------------------------------------------------------

    def receive(self, kind: str, content: Mapping[str, Any]) -> list[Action]:
        """One event of theirs (`kind` without the `m.key.verification.` prefix)."""
        if self.state.over:
            return []
        if kind == "cancel":
            self.state = State.CANCELLED
            self.cancel_code = str(content.get("code") or USER)[:64]
            return [Cancelled(self.cancel_code, str(content.get("reason") or "")[:200], True)]
        handler = {
            "ready": self._on_ready,
            "start": self._on_start,
            "accept": self._on_accept,
            "key": self._on_key,
            "mac": self._on_mac,
            "done": self._on_done,
        }.get(kind)
        if handler is None:
            return self.cancel(UNEXPECTED, f"Unexpected {PREFIX}{kind[:40]}")
        try:
            return handler(content)
        except (KeyError, TypeError, ValueError):
            return self.cancel(INVALID, f"Malformed {PREFIX}{kind}")

    def _on_ready(self, content: Mapping[str, Any]) -> list[Action]:
        if self.state is not State.REQUESTED:
            return self.cancel(UNEXPECTED, "Unexpected ready")
        if METHOD not in content["methods"]:
            return self.cancel(UNKNOWN_METHOD, "Only m.sas.v1 is supported")
        self.state = State.READY
        return self._send_start()

    def _send_start(self) -> list[Action]:
        start = {
            "from_device": self.us.device_id,
            "method": METHOD,
            "key_agreement_protocols": [KEY_AGREEMENT],
            "hashes": [HASH],
            "message_authentication_codes": [MAC_METHOD],
            "short_authentication_string": list(SAS_TYPES),
        }
        send = self._send("start", start)
        self._start, self._we_start = send.content, True
        self.state = State.STARTED
        return [send]

    def _on_start(self, content: Mapping[str, Any]) -> list[Action]:
        if self.state is State.STARTED and self._we_start:
            # Both started: the spec keeps the start of the smaller user (then device) ID.
            ours = (self.us.user_id, self.us.device_id)
            theirs = (self.user_id, str(content.get("from_device") or ""))
            if ours < theirs:
                return []  # ours stands; they will accept it
            self._we_start = False
        elif self.state is not State.READY:
            return self.cancel(UNEXPECTED, "Unexpected start")
        if content["method"] != METHOD:
            return self.cancel(UNKNOWN_METHOD, "Only m.sas.v1 is supported")
        if (
            KEY_AGREEMENT not in content["key_agreement_protocols"]
            or HASH not in content["hashes"]
            or MAC_METHOD not in content["message_authentication_codes"]
            or not set(SAS_TYPES) & set(content["short_authentication_string"])
        ):
            return self.cancel(
                UNKNOWN_METHOD,
                "Needs curve25519-hkdf-sha256, sha256, hkdf-hmac-sha256.v2, emoji or decimal",
            )
        self._start = dict(content)
        accept = {
            "method": METHOD,
            "key_agreement_protocol": KEY_AGREEMENT,
            "hash": HASH,
            "message_authentication_code": MAC_METHOD,
            "short_authentication_string": [
                t for t in SAS_TYPES if t in content["short_authentication_string"]
            ],
            "commitment": commitment(self._session.public_key, content),
        }
        self.state = State.ACCEPTED
        return [self._send("accept", accept)]

    def _on_accept(self, content: Mapping[str, Any]) -> list[Action]:
        if self.state is not State.STARTED:
            return self.cancel(UNEXPECTED, "Unexpected accept")
        if (
            content["key_agreement_protocol"] != KEY_AGREEMENT
            or content["hash"] != HASH
            or content["message_authentication_code"] != MAC_METHOD
        ):
            return self.cancel(UNKNOWN_METHOD, "Accepted with a method the bot did not offer")
        self._their_commitment = str(content["commitment"])
        self.state = State.KEY_SENT
        return [self._send("key", {"key": self._session.public_key})]

    def _on_key(self, content: Mapping[str, Any]) -> list[Action]:
        key = content["key"]
        if not isinstance(key, str) or self._their_key is not None:
            return self.cancel(UNEXPECTED, "Unexpected key")
        actions: list[Action] = []
        if self.state is State.KEY_SENT:
            assert self._start is not None
            if commitment(key, self._start) != self._their_commitment:
                return self.cancel(MISMATCHED_COMMITMENT, "The key does not match the commitment")
        elif self.state is State.ACCEPTED:
            actions.append(self._send("key", {"key": self._session.public_key}))
        else:
            return self.cancel(UNEXPECTED, "Unexpected key")
        self._session.establish(key)
        self._their_key = key
        starter, accepter = self._our_party(), self._their_party()
        if not self._we_start:
            starter, accepter = accepter, starter
        emoji, decimals = self._session.short_code(sas_info(starter, accepter, self.transaction_id))
        self._shown = ShowSas(emoji, decimals)
        self.state = State.COMPARING
        return [*actions, self._shown]

    def _on_mac(self, content: Mapping[str, Any]) -> list[Action]:
        if self.state is State.COMPARING and self._their_mac is None:
            self._their_mac = dict(content)  # checked once an admin has confirmed
            return []
        if self.state is State.CONFIRMED and self._their_mac is None:
            return self._check_mac(content)
        return self.cancel(UNEXPECTED, "Unexpected mac")

    def _on_done(self, content: Mapping[str, Any]) -> list[Action]:
        # Their done may come before we checked their MAC (they checked ours): it changes
        # nothing; ours follows our own check.
        if self.state in (State.CONFIRMED, State.COMPARING):
            return []
        return self.cancel(UNEXPECTED, "Unexpected done")

    def _check_mac(self, content: Mapping[str, Any]) -> list[Action]:
        assert self.their_device and self.their_device_key and self.their_master
        info = mac_info(self._their_party(), self._our_party(), self.transaction_id)
        macs = content["mac"]
        if not isinstance(macs, dict) or not all(isinstance(v, str) for v in macs.values()):
            return self.cancel(INVALID, "Malformed mac")
        if not self._session.mac_ok(",".join(sorted(macs)), info + "KEY_IDS", content["keys"]):
            return self.cancel(KEY_MISMATCH, "The MAC of the key list does not match")
        master_id = f"ed25519:{self.their_master}"
        if master_id not in macs:
            return self.cancel(KEY_MISMATCH, "The MAC does not cover the master key")
        known = {
            f"ed25519:{self.their_device}": self.their_device_key,
            master_id: self.their_master,
        }
        for key_id, tag in macs.items():
            key = known.get(key_id)
            if key is not None and not self._session.mac_ok(key, info + key_id, tag):
                return self.cancel(KEY_MISMATCH, "A key's MAC does not match")
        self.state = State.VERIFIED
        self._their_mac = dict(content)
        return [self._send("done", {}), Verified(self.their_master, self.their_device)]

    # -- helpers ---------------------------------------------------------------------------

    def _send(self, kind: str, content: dict[str, Any]) -> Send:
        return Send(kind, {**content, **self.fields()})

    def _our_party(self) -> Party:
        return Party(self.us.user_id, self.us.device_id, self._session.public_key)

    def _their_party(self) -> Party:
        return Party(self.user_id, self.their_device or "", self._their_key or "")
