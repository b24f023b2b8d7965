"""Replay protection: one Megolm ciphertext acts once, whatever event ID it comes under."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from bot.crypto import replay
from commands.context import Incoming
from tests.harness.fakes import BotCore

ALICE = "@alice:test"
TRIPLE = ("curveKEY", "sessionID", 7)


async def test_same_ciphertext_under_a_new_event_id_is_refused_and_logged(
    core: BotCore, caplog
) -> None:
    first = await core.say(ALICE, "!tz Europe/Paris", event_id="$a", megolm=TRIPLE)
    with caplog.at_level(logging.WARNING):
        again = await core.say(ALICE, "!tz Europe/Paris", event_id="$b", megolm=TRIPLE)
    assert len(first) == 1 and again == []
    assert await core.count("audit") == 1
    outcomes = await core.query("SELECT event_id, outcome FROM handled_events ORDER BY rowid")
    assert [tuple(r) for r in outcomes] == [("$a", "ok"), ("$b", "replay")]
    assert any("replay of $a" in r.getMessage() for r in caplog.records)
    # Another message index of the same session is a new message.
    other = await core.say(ALICE, "!ping", event_id="$c", megolm=(*TRIPLE[:2], 8))
    assert [m.body for m in other] == ["pong"]


async def test_replay_is_refused_after_a_restart(tmp_path: Path) -> None:
    core = await BotCore(tmp_path).open()
    try:
        assert len(await core.say(ALICE, "!ping", event_id="$a", megolm=TRIPLE)) == 1
    finally:
        await core.close()
    core = await BotCore(tmp_path).open()  # a new process: nio's memory is empty
    try:
        await core.say(ALICE, "!ping", event_id="$b", megolm=TRIPLE)
        assert await core.count("outbox") == 1  # the first pong only
        assert await core.count("megolm_origins") == 1
    finally:
        await core.close()


async def test_refused_commands_still_claim_their_triple(tmp_path: Path) -> None:
    """A rate-limited command must not become runnable later by replaying it."""
    core = await BotCore(tmp_path, rate_limit_burst=1, rate_limit_per_minute=1).open()
    try:
        await core.say(ALICE, "!ping", event_id="$1", megolm=(*TRIPLE[:2], 1))
        await core.say(ALICE, "!tz Asia/Tokyo", event_id="$2", megolm=(*TRIPLE[:2], 2))
        core.clock.advance(minutes=5)
        assert await core.say(ALICE, "!tz Asia/Tokyo", event_id="$3", megolm=(*TRIPLE[:2], 2)) == []
        assert await core.count("people") == 0
    finally:
        await core.close()


def test_install_records_the_index_nio_sees_and_replaces_its_memory_only_check() -> None:
    olm = SimpleNamespace(message_index_ok=lambda index, event: False)
    client = SimpleNamespace(olm=olm)
    replay.install(client)  # type: ignore[arg-type]
    encrypted = SimpleNamespace(event_id="$e", sender_key="K", session_id="S")
    assert olm.message_index_ok(41, encrypted) is True  # the durable check decides
    decrypted = SimpleNamespace(event_id="$e", sender_key="K", session_id="S", decrypted=True)
    assert replay.origin(client, decrypted) == ("K", "S", 41)  # type: ignore[arg-type]
    plain = SimpleNamespace(event_id="$e", sender_key="K", session_id="S", decrypted=False)
    assert replay.origin(client, plain) is None  # type: ignore[arg-type]
    forged = SimpleNamespace(event_id="$e", sender_key="X", session_id="S", decrypted=True)
    assert replay.origin(client, forged) is None  # type: ignore[arg-type]


async def test_a_replayed_reaction_or_thread_reply_is_refused_too(core: BotCore) -> None:
    """Every decrypted event that reaches the dispatcher claims its triple, not only commands."""
    for n, kw in enumerate(
        [
            {"reaction_key": "✅", "reaction_target": "$root"},
            {"body": "thanks", "thread_root": "$root"},
        ]
    ):
        triple = ("K", "S", 100 + n)
        first = Incoming(event_id=f"$x{n}", room_id="!r:test", sender=ALICE, megolm=triple, **kw)
        again = Incoming(event_id=f"$y{n}", room_id="!r:test", sender=ALICE, megolm=triple, **kw)
        assert await core.dispatcher.process(first) != "replay"
        assert await core.dispatcher.process(again) == "replay"
