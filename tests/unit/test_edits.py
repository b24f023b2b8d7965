"""Element's edits (m.replace) on a real store: a refused command's edit runs, once; an
applied command's edit is not applied again and the bot says how to change the thing."""

from __future__ import annotations

from tests.harness.fakes import BotCore

ALICE = "@alice:test"
MALLORY = "@mallory:test"


async def outcome(core: BotCore, event_id: str) -> str | None:
    rows = await core.query("SELECT outcome FROM handled_events WHERE event_id = ?", event_id)
    return rows[0][0] if rows else None


async def test_edit_of_a_refused_typo_runs_as_a_new_command(core: BotCore) -> None:
    refused = await core.say(ALICE, "!pnig", event_id="$typo")
    assert "Unknown command" in refused[0].body
    fixed = await core.say(ALICE, "!ping", event_id="$edit1", replaces="$typo")
    assert [m.body for m in fixed] == ["pong"]
    # The answer goes to the message the person sees (the original), not the edit event.
    assert fixed[0].reply_to == "$typo"
    assert await outcome(core, "$edit1") == "ok"


async def test_each_edit_of_a_refused_message_is_handled_once(core: BotCore) -> None:
    await core.say(ALICE, "!tz Mars/Olympus", event_id="$bad")
    second = await core.say(ALICE, "!tz Venus/Base", event_id="$e1", replaces="$bad")
    assert "not an IANA time zone" in second[0].body
    third = await core.say(ALICE, "!tz Europe/Paris", event_id="$e2", replaces="$bad")
    assert "Time zone set to Europe/Paris" in third[0].body
    again = await core.say(ALICE, "!tz Europe/Paris", event_id="$e2", replaces="$bad")
    assert again == []  # the same edit event twice (a replayed sync) is handled once
    rows = await core.query("SELECT timezone FROM people WHERE user_id = ?", ALICE)
    assert rows[0][0] == "Europe/Paris"


async def test_edit_of_an_applied_command_is_not_applied_again(core: BotCore) -> None:
    made = await core.say(ALICE, "!meeting tomorrow 09:00 -- Sync", event_id="$m")
    assert "Scheduled M-1" in made[0].body
    answer = await core.say(
        ALICE, "!meeting tomorrow 10:00 -- Sync", event_id="$m-edit", replaces="$m"
    )
    assert await core.count("schedule_items") == 1
    assert len(answer) == 1
    assert "not applied" in answer[0].body
    assert "!edit M-1 start=" in answer[0].body
    assert answer[0].reply_to == "$m"
    assert await outcome(core, "$m-edit") == "edit_not_applied"
    start = await core.query("SELECT start_at FROM schedule_items")
    assert "09:00" in start[0][0]


async def test_edit_of_an_edit_that_was_applied_refers_to_the_original(core: BotCore) -> None:
    await core.say(ALICE, "!tz Erope/Paris", event_id="$o")
    await core.say(ALICE, "!tz Europe/Paris", event_id="$o1", replaces="$o")  # applied
    # A client that points the next edit at the previous edit: still one chain.
    later = await core.say(ALICE, "!tz Asia/Tokyo", event_id="$o2", replaces="$o1")
    assert "not applied" in later[0].body and later[0].reply_to == "$o"
    later2 = await core.say(ALICE, "!tz Asia/Tokyo", event_id="$o3", replaces="$o")
    assert "not applied" in later2[0].body
    applied = await core.query("SELECT COUNT(*) FROM handled_events WHERE outcome = 'ok'")
    assert applied[0][0] == 1
    rows = await core.query("SELECT timezone FROM people WHERE user_id = ?", ALICE)
    assert rows[0][0] == "Europe/Paris"


async def test_edit_of_a_command_without_an_object_names_the_command(core: BotCore) -> None:
    await core.say(ALICE, "!tz Europe/Paris", event_id="$tz")
    answer = await core.say(ALICE, "!tz Asia/Tokyo", event_id="$tz-e", replaces="$tz")
    assert "not applied" in answer[0].body and "!tz Asia/Tokyo" in answer[0].body
    rows = await core.query("SELECT timezone FROM people WHERE user_id = ?", ALICE)
    assert rows[0][0] == "Europe/Paris"


async def test_an_edit_by_someone_else_is_ignored(core: BotCore) -> None:
    await core.say(ALICE, "!pnig", event_id="$a")
    sent = await core.say(MALLORY, "!tz Asia/Tokyo", event_id="$forged", replaces="$a")
    assert sent == []
    assert await outcome(core, "$forged") == "edit_ignored"
    assert await core.count("people") == 0


async def test_original_arriving_after_its_edit_is_not_applied(core: BotCore) -> None:
    """A restart can deliver the edit's effect first (backfill order): one effect only."""
    await core.say(ALICE, "!meeting tomorrow 10:00 -- Sync", event_id="$late-e", replaces="$late")
    sent = await core.say(ALICE, "!meeting tomorrow 09:00 -- Sync", event_id="$late")
    assert sent == []
    assert await core.count("schedule_items") == 1


async def test_edit_answer_goes_to_the_original_thread(core: BotCore) -> None:
    await core.say(ALICE, "!ping", event_id="$t", thread_root="$root")
    answer = await core.say(ALICE, "!ping", event_id="$t-e", replaces="$t")
    assert answer[0].thread_root == "$root"


def _element_edit(new_body: str, original: str) -> dict:
    """An edit as Element sends it (after decryption; m.relates_to was in the clear part)."""
    return {
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {
            "msgtype": "m.text",
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    }


def test_sync_reads_element_edit_as_the_new_text() -> None:
    from types import SimpleNamespace

    from bot.incoming import to_incoming

    event = SimpleNamespace(event_id="$edit", sender=ALICE)
    incoming = to_incoming("!r:test", event, _element_edit("!ping", "$orig"))
    assert incoming is not None
    assert incoming.body == "!ping" and incoming.replaces == "$orig"
    assert incoming.event_id == "$edit"


def test_sync_ignores_an_edit_without_new_content() -> None:
    from types import SimpleNamespace

    from bot.incoming import to_incoming

    source = _element_edit("!ping", "$orig")
    del source["content"]["m.new_content"]
    assert to_incoming("!r:test", SimpleNamespace(event_id="$e", sender=ALICE), source) is None


async def test_edits_of_a_message_the_bot_never_handled_apply_once(core: BotCore) -> None:
    """'tz Europe/Paris' (no prefix: not a command, not in the ledger) edited twice."""
    first = await core.say(ALICE, "!tz Europe/Paris", event_id="$n1", replaces="$never")
    assert "Time zone set" in first[0].body
    second = await core.say(ALICE, "!tz Asia/Tokyo", event_id="$n2", replaces="$never")
    assert "not applied" in second[0].body
    assert await outcome(core, "$n2") == "edit_not_applied"
    forged = await core.say(MALLORY, "!ping", event_id="$n3", replaces="$never")
    assert forged == [] and await outcome(core, "$n3") == "edit_ignored"


async def test_edit_of_a_relayed_thread_reply_is_not_relayed_and_says_so(core: BotCore) -> None:
    from tests.unit.commands.test_liaison import B, deliver, dm, make, seed

    await seed(core)
    await make(core)
    roots = await deliver(core)  # B's root in B's DM: the thread reply is made there
    relayed = await core.say(
        B, "Dates: 12-14 May.", room_id=dm(B), event_id="$ans", thread_root=roots[B]
    )
    assert any("Dates: 12-14 May." in m.body for m in relayed)
    answer = await core.say(
        B, "Dates: 13-15 May.", room_id=dm(B), event_id="$ans-e", replaces="$ans"
    )
    assert len(answer) == 1 and "did not relay your edit" in answer[0].body
    assert answer[0].thread_root == roots[B] and answer[0].reply_to == "$ans"
    assert not await core.query("SELECT 1 FROM history WHERE detail LIKE '%13-15%'")


async def test_an_edit_of_a_read_only_command_is_answered_with_the_new_text(
    core: BotCore,
) -> None:
    """`!agenda 7` edited to `!agenda 14`: nothing was changed, so just answer it again."""
    await core.say(ALICE, "!meeting 2026-03-12 10:00 -- Later", event_id="$mk")
    first = await core.say(ALICE, "!agenda 7", event_id="$ag")
    assert "Nothing scheduled in the next 7 days" in first[0].body
    edited = await core.say(ALICE, "!agenda 14", event_id="$ag-e", replaces="$ag")
    assert "M-1" in edited[0].body and edited[0].reply_to == "$ag"
    assert await outcome(core, "$ag-e") == "ok"
