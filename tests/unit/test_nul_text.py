"""A NUL character in what a person sends: dropped with the rest of what is not their words.

Any Matrix client can send "\\u0000" in a body. PostgreSQL's text cannot hold it: a request,
meeting or reminder whose subject had one was "Something went wrong" there (and stored as
such on SQLite)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.incoming import to_incoming
from tests.harness.fakes import BotCore


@pytest.mark.parametrize(
    "body",
    [
        "!request NL-DEN-HAAG Konvoi\x00 Auckland -- Fahrzeuge\x00?",
        "!meeting tomorrow 10:00 -- Réunion\x00 à Rome",
        "!remind in 2h -- \x00appeler Varsovie",
    ],
)
async def test_a_nul_in_a_command_is_dropped_on_both_backends(core: BotCore, body: str) -> None:
    await core.say("@admin:test", "!dir post NL-DEN-HAAG members=@hanna:test")
    source = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}
    event = SimpleNamespace(event_id="$nul", sender="@zoe:test")
    incoming = to_incoming("!dm-zoe:test", event, source)
    assert incoming is not None and "\x00" not in incoming.body
    await core.dispatcher.process(incoming)
    sent = await core.new_messages()
    assert sent and not [m for m in sent if "went wrong" in m.body], [m.body for m in sent]
    assert not [m for m in sent if "\x00" in m.body]
