"""The SAS state machine (bot/verification/machine.py) against itself: two machines, one
playing the person's Element, exchange every event; the emoji agree, MACs check, and each
way it can go wrong cancels with the spec's code. No network, no clock but numbers."""

from __future__ import annotations

from typing import Any

import pytest

from bot.crypto.canonical import Ed25519PrivateKey, public_key_b64
from bot.verification.machine import (
    TIMEOUT_SECONDS,
    Cancelled,
    Send,
    ShowSas,
    State,
    Us,
    Verification,
    Verified,
)

BOT = "@bot:example.org"
BERND = "@bernd:example.org"


def identity(user: str, device: str) -> Us:
    return Us(
        user,
        device,
        public_key_b64(Ed25519PrivateKey.generate()),
        public_key_b64(Ed25519PrivateKey.generate()),
    )


def pair(*, in_room: bool = True, bot_requests: bool = False) -> tuple[Verification, Verification]:
    bot_us, their_us = identity(BOT, "BOTDEV"), identity(BERND, "PHONE")
    txn = "$request" if in_room else "txn1"
    bot = Verification(1, bot_us, BERND, txn, in_room, bot_requests, created=0.0)
    them = Verification(1, their_us, BOT, txn, in_room, not bot_requests, created=0.0)
    bot.bind("PHONE", their_us.device_key, their_us.master_key)
    them.bind("BOTDEV", bot_us.device_key, bot_us.master_key)
    return bot, them


def sends(actions: list[Any]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def deliver(to: Verification, actions: list[Any]) -> list[Any]:
    out: list[Any] = []
    for send in sends(actions):
        out += to.receive(send.kind, send.content)
    return out


def run_to_comparison(bot: Verification, them: Verification) -> tuple[list[Any], list[Any]]:
    """They requested and start; play until both show the SAS; returns what each saw."""
    assert not bot.we_requested
    assert sends(bot.ready())[0].kind == "ready"
    them.state = State.READY  # their side saw our ready
    pending_for_bot, pending_for_them = them._send_start(), []
    bot_seen: list[Any] = []
    them_seen: list[Any] = []
    for _ in range(6):
        got_bot = deliver(bot, pending_for_bot)
        got_them = deliver(them, pending_for_them)
        bot_seen += got_bot
        them_seen += got_them
        pending_for_them, pending_for_bot = got_bot, got_them
        if not pending_for_them and not pending_for_bot:
            break
    return bot_seen, them_seen


def shown(actions: list[Any]) -> ShowSas:
    return next(a for a in actions if isinstance(a, ShowSas))


@pytest.mark.parametrize("in_room", [True, False])
def test_they_start_both_see_the_same_emoji_and_end_verified(in_room: bool) -> None:
    bot, them = pair(in_room=in_room)
    bot_seen, them_seen = run_to_comparison(bot, them)
    assert shown(bot_seen) == shown(them_seen)
    assert bot.awaiting_admin and len(shown(bot_seen).emoji) == 7
    # The person confirms on their screen first: their MAC waits for the admin.
    assert deliver(bot, them.confirm()) == []
    assert bot.state is State.COMPARING
    after = bot.confirm()  # the admin confirms
    assert any(isinstance(a, Verified) and a.master_key == them.us.master_key for a in after)
    assert [s.kind for s in sends(after)] == ["mac", "done"]
    theirs = deliver(them, after)
    assert any(isinstance(a, Verified) and a.master_key == bot.us.master_key for a in theirs)
    assert bot.state is State.VERIFIED and them.state is State.VERIFIED
    key = "m.relates_to" if in_room else "transaction_id"
    assert all(key in s.content for s in sends(after))


def test_the_bot_requests_and_starts_after_ready() -> None:
    bot, them = pair(bot_requests=True)
    assert bot.state is State.REQUESTED
    start = bot.receive("ready", {"from_device": "PHONE", "methods": ["m.sas.v1"]})
    assert [s.kind for s in sends(start)] == ["start"]
    them.state = State.READY
    accept = deliver(them, start)
    key = deliver(bot, accept)
    their_key = deliver(them, key)
    bot_shows = deliver(bot, their_key)
    assert shown(bot_shows) == shown(their_key)
    assert deliver(them, bot.confirm()) == []  # their side waits for its own user
    done = deliver(bot, them.confirm())
    assert any(isinstance(a, Verified) for a in done)


def test_admin_rejects_nothing_verified_cancel_mismatched_sas() -> None:
    bot, them = pair()
    run_to_comparison(bot, them)
    deliver(bot, them.confirm())
    after = bot.reject()
    assert not any(isinstance(a, Verified) for a in after)
    assert sends(after)[0].kind == "cancel"
    assert sends(after)[0].content["code"] == "m.mismatched_sas"
    theirs = deliver(them, after)
    assert theirs == [Cancelled("m.mismatched_sas", sends(after)[0].content["reason"], True)]
    assert bot.state is State.CANCELLED and bot.confirm() == []


def test_a_forged_mac_is_a_key_mismatch() -> None:
    bot, them = pair()
    run_to_comparison(bot, them)
    mac = sends(them.confirm())[0]
    forged = dict(mac.content, mac={k: "AAAA" + v[4:] for k, v in mac.content["mac"].items()})
    bot.receive("mac", forged)
    after = bot.confirm()
    assert not any(isinstance(a, Verified) for a in after)
    assert [s.content.get("code") for s in sends(after)][-1] == "m.key_mismatch"


def test_a_mac_without_the_master_key_is_refused() -> None:
    bot, them = pair()
    run_to_comparison(bot, them)
    them.us = Us(them.us.user_id, them.us.device_id, them.us.device_key, "other" * 8 + "abc")
    bot.receive("mac", sends(them.confirm())[0].content)
    after = bot.confirm()
    assert any(isinstance(a, Cancelled) and a.code == "m.key_mismatch" for a in after)


def test_they_cancel_while_the_admin_compares() -> None:
    bot, them = pair()
    run_to_comparison(bot, them)
    got = deliver(bot, them.cancel("m.user", "User declined"))
    assert got == [Cancelled("m.user", "User declined", True)]
    assert bot.state is State.CANCELLED
    assert bot.confirm() == [] and bot.receive("mac", {}) == []


def test_timeout_after_ten_minutes() -> None:
    bot, _them = pair()
    assert not bot.expired(TIMEOUT_SECONDS - 1)
    assert bot.expired(TIMEOUT_SECONDS)
    out = bot.cancel("m.timeout", "Timed out")
    assert sends(out)[0].content["code"] == "m.timeout"
    assert not bot.expired(TIMEOUT_SECONDS * 2)  # over: never cancelled twice


def test_out_of_order_events_cancel_unexpected() -> None:
    bot, _them = pair()
    bot.ready()
    out = bot.receive("key", {"key": "abc"})
    assert sends(out)[0].content["code"] == "m.unexpected_message"


def test_a_start_with_an_unknown_method_is_refused() -> None:
    bot, _them = pair()
    bot.ready()
    out = bot.receive(
        "start",
        {
            "from_device": "PHONE",
            "method": "m.sas.v1",
            "key_agreement_protocols": ["curve25519"],
            "hashes": ["sha256"],
            "message_authentication_codes": ["hkdf-hmac-sha256.v2"],
            "short_authentication_string": ["emoji"],
        },
    )
    assert sends(out)[0].content["code"] == "m.unknown_method"


def test_malformed_events_cancel_invalid_message() -> None:
    bot, _them = pair()
    bot.ready()
    out = bot.receive("start", {"from_device": "PHONE"})
    assert sends(out)[0].content["code"] == "m.invalid_message"


def test_a_wrong_key_against_the_commitment() -> None:
    bot, them = pair(bot_requests=True)
    start = bot.receive("ready", {"from_device": "PHONE", "methods": ["m.sas.v1"]})
    them.state = State.READY
    accept = deliver(them, start)
    deliver(bot, accept)
    other = Verification(2, them.us, BOT, "$request", True, False, created=0.0)
    out = bot.receive("key", {"key": other._session.public_key, **bot.fields()})
    assert sends(out)[0].content["code"] == "m.mismatched_commitment"


def test_both_start_the_smaller_user_id_wins() -> None:
    bot, them = pair(bot_requests=True)
    bot.receive("ready", {"from_device": "PHONE", "methods": ["m.sas.v1"]})
    them.state = State.READY
    their_start = them._send_start()
    # "@bot" < "@bernd"? No: "@bernd" sorts first, so theirs wins and the bot accepts it.
    out = deliver(bot, their_start)
    assert [s.kind for s in sends(out)] == ["accept"]
