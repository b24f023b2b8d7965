"""Dispatch on a real store: exactly once, errors change nothing, limits, correlation IDs."""

from __future__ import annotations

from pathlib import Path

from tests.harness.fakes import BotCore

ALICE = "@alice:test"


async def test_ping_replies_as_a_reply_to_the_command(core: BotCore) -> None:
    sent = await core.say(ALICE, "!ping", event_id="$cmd1")
    assert [m.body for m in sent] == ["pong"]
    assert sent[0].reply_to == "$cmd1"
    assert sent[0].room_id == "!room:test"


async def test_same_event_twice_is_handled_once(core: BotCore) -> None:
    first = await core.say(ALICE, "!tz Europe/Paris", event_id="$dup")
    again = await core.say(ALICE, "!tz Asia/Tokyo", event_id="$dup")
    assert len(first) == 1 and again == []
    rows = await core.query("SELECT timezone FROM people WHERE user_id = ?", ALICE)
    assert rows[0][0] == "Europe/Paris"
    assert await core.count("handled_events") == 1


async def test_user_error_gets_usage_and_example_and_changes_nothing(core: BotCore) -> None:
    sent = await core.say(ALICE, "!tz Mars/Olympus")
    assert "not an IANA time zone" in sent[0].body
    assert "Example: !tz Europe/Paris" in sent[0].body
    assert await core.count("people") == 0
    assert await core.count("audit") == 0


async def test_unknown_command_points_to_help(core: BotCore) -> None:
    sent = await core.say(ALICE, "!frobnicate now")
    assert "Unknown command !frobnicate" in sent[0].body and "!help" in sent[0].body


async def test_internal_error_shows_a_reference_not_a_traceback(
    core: BotCore, monkeypatch, caplog
) -> None:
    async def boom(ctx, args):
        await ctx.db.execute("INSERT INTO kv (key, value) VALUES ('x', 'y')")
        raise RuntimeError("secret internals")

    spec = core.registry.commands["ping"]
    monkeypatch.setitem(
        core.registry.commands, "ping", spec.__class__(**{**spec.__dict__, "handler": boom})
    )
    sent = await core.say(ALICE, "!ping")
    assert "went wrong on my side (ref " in sent[0].body
    assert "Traceback" not in sent[0].body and "secret internals" not in sent[0].body
    assert await core.count("kv") == 0  # the handler's write was rolled back
    ref = sent[0].body.split("(ref ")[1].split(")")[0]
    assert any(ref in r.getMessage() for r in caplog.records)


async def test_too_long_command_is_refused(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, max_command_length=100).open()
    try:
        sent = await core.say(ALICE, "!tz " + "x" * 200)
        assert "limit is 100" in sent[0].body
        assert await core.count("people") == 0
    finally:
        await core.close()


async def test_rate_limit_answers_once_then_recovers(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, rate_limit_burst=3, rate_limit_per_minute=60).open()
    try:
        replies = [await core.say(ALICE, "!ping") for _ in range(6)]
        assert [len(r) for r in replies] == [1, 1, 1, 1, 0, 0]
        assert "faster than I accept" in replies[3][0].body
        core.clock.advance(seconds=2)
        assert (await core.say(ALICE, "!ping"))[0].body == "pong"
        outcomes = await core.query("SELECT outcome FROM handled_events ORDER BY rowid")
        assert [o[0] for o in outcomes].count("rate_limited") == 3
    finally:
        await core.close()


async def test_help_is_generated_from_declarations(core: BotCore) -> None:
    sent = await core.say(ALICE, "!help")
    for name, spec in core.registry.commands.items():
        assert f"!{name}" in sent[0].body and spec.summary in sent[0].body, name
    assert "<table>" in (sent[0].html or "")
    detail = await core.say(ALICE, "!help tz")
    assert "Example: !tz Europe/Paris" in detail[0].body


async def test_absurd_zone_name_is_a_user_error_not_a_crash(core: BotCore) -> None:
    """Found by the soak's hostile input: ZoneInfo raised OSError (file name too long)."""
    sent = await core.say(ALICE, "!tz " + "x" * 300)
    assert "is not an IANA time zone" in sent[0].body
    outcome = await core.query("SELECT outcome FROM handled_events")
    assert outcome[0][0] == "user_error"


# -- every state-changing event passes the same limits (issue 12 item 9, issue 13 item 5) ----


async def test_reactions_and_thread_replies_count_against_the_rate_limit(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, rate_limit_burst=3, rate_limit_per_minute=1).open()
    try:
        await core.say(ALICE, "hello", thread_root="$somewhere")
        await core.say(ALICE, "hi", reply_to="$something")
        await core.react(ALICE, "$target")
        sent = await core.say(ALICE, "!ping")
        assert "faster than I accept" in sent[0].body
        outcomes = await core.query("SELECT command, outcome FROM handled_events ORDER BY rowid")
        assert [o[1] for o in outcomes] == ["ignored", "ignored", "ignored", "rate_limited"]
        core.dispatcher.limiter.warned.clear()
        warned = await core.react(ALICE, "$target")
        assert warned[0].reply_to == "$target"  # the message reacted to, not the reaction
        await core.say(ALICE, "again", thread_root="$somewhere")
        outcomes = await core.query("SELECT outcome FROM handled_events ORDER BY rowid")
        assert [o[0] for o in outcomes][-2:] == ["rate_limited", "rate_limited"]
    finally:
        await core.close()


async def test_thread_reply_over_the_length_limit_is_refused_with_the_limit(
    tmp_path: Path,
) -> None:
    core = await BotCore(tmp_path, max_body_length=1_000).open()
    try:
        sent = await core.say(ALICE, "x" * 1_001, thread_root="$somewhere")
        assert "limit is 1000" in sent[0].body and "Split it" in sent[0].body
        outcomes = await core.query("SELECT outcome FROM handled_events")
        assert outcomes[0][0] == "too_long"
    finally:
        await core.close()


async def test_long_text_after_separator_is_accepted_but_the_head_is_bounded(
    tmp_path: Path,
) -> None:
    core = await BotCore(tmp_path, max_command_length=200).open()
    try:
        sent = await core.say(ALICE, "!ping -- " + "x" * 5_000)
        assert "takes no text after --" in sent[0].body  # parsed: not refused for length
        sent = await core.say(ALICE, "!tz " + "y" * 300 + " -- short")
        assert "limit is 200" in sent[0].body and "Shorten it" in sent[0].body
        assert "Example: !tz " in sent[0].body  # the refused command's own example
        sent = await core.say(ALICE, "!actions add S-1 @bob:test " + "y " * 150 + "-- short")
        assert "before -- is" in sent[0].body and "limit is 200" in sent[0].body
        assert "after --" in sent[0].body
        # Not an example of a command the sender may not use (secretariat): where theirs are.
        assert "Example: " not in sent[0].body
        assert sent[0].body.endswith("Send !help for the commands you may use.")
        sent = await core.say(ALICE, "!ping -- " + "x" * 40_000)
        assert "limit is 32000" in sent[0].body
    finally:
        await core.close()
