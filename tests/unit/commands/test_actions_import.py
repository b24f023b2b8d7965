"""!actions import: minutes into action items, previewed, then all created at once or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from actions_fixtures import ADMIN, DM, MEMBER, OWNER, PARIS, ROOM, SEC, say_ok, seed

from commands.actions.import_lines import item_lines, suggested_due
from tests.harness.fakes import BotCore, FakeClock, Sent

ANNA = "@anna:test"
BERT = "@bert:test"


async def directory(core: BotCore) -> None:
    """The fixtures' directory and S-1, and two more owners (Anna reads French)."""
    await seed(core)
    await say_ok(core, ADMIN, f'!dir person {ANNA} name="Anna Berg" lang=fr', DM)
    await say_ok(core, ADMIN, f'!dir person {BERT} name="Bert Kuhn" lang=de', DM)


def minutes(mistakes: bool) -> list[str]:
    """20 action lines over four owners; with `mistakes`, lines 4, 9 and 15 are wrong."""
    owners = [OWNER, "FR-PARIS", ANNA, BERT]
    lines = [
        f"{owners[i % 4]} due=2026-03-{10 + i % 15:02d} -- action {i + 1} of the minutes"
        for i in range(20)
    ]
    if mistakes:
        lines[3] = "FR-PARSI due=2026-03-13 -- action 4 of the minutes"  # a post mistyped
        lines[8] = f"{OWNER} due=2025-03-18 -- action 9 of the minutes"  # last year
        lines[14] = f"{BERT} due=2026-03-24 marking=RESTRICTD rel=FRA -- action 15"
    return lines


def import_text(lines: list[str], head: str = "!actions import S-1") -> str:
    # A blank line and a comment, as minutes have: skipped, but counted as lines.
    return "\n".join([head, "# Actions agreed on Monday", "", *lines])


def problems(reply: Sent) -> list[str]:
    return [line for line in reply.body.split("\n") if line.startswith("• Line")]


async def items(core: BotCore) -> int:
    return await core.count("action_items")


async def test_twenty_lines_three_mistakes_then_corrected_and_confirmed(core: BotCore) -> None:
    await directory(core)
    before = await items(core)
    [preview] = await core.say(SEC, import_text(minutes(True)), room_id=ROOM)
    found = problems(preview)
    # Exactly the three wrong lines, numbered as the sender sees them (two lines above).
    assert [p.split(":")[0] for p in found] == ["• Line 6", "• Line 11", "• Line 17"], found
    assert "Did you mean FR-PARIS?" in found[0]
    assert "in the past" in found[1]
    assert "not a marking level" in found[2] and "UNCLASSIFIED" in found[2]
    corrected = [
        line.strip().removeprefix("Corrected: ")
        for line in preview.body.split("\n")
        if line.strip().startswith("Corrected: ")
    ]
    assert corrected[0] == "FR-PARIS due=2026-03-13 -- action 4 of the minutes"
    assert corrected[1] == f"{OWNER} due=2026-03-18 -- action 9 of the minutes"  # the year
    assert await items(core) == before  # nothing created
    refused = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    assert "cannot be confirmed" in refused[0].body
    assert await items(core) == before

    # The corrected import (the marking line taken out of the marking: this deployment
    # has one level), then ✅ on its preview.
    lines = minutes(False)
    lines[3], lines[8] = corrected[0], corrected[1]
    [preview] = await core.say(SEC, import_text(lines), room_id=ROOM, event_id="$import2")
    assert not problems(preview) and "React with ✅" in preview.body, preview.body
    assert preview.body.count("\n") >= 21  # the table: every line, owner, due, text
    assert "2026-03-13" in preview.body and "action 20 of the minutes" in preview.body
    assert await items(core) == before
    await core.mark_sent(preview.key or "", "$preview2")
    sent = await core.react(SEC, "$preview2", room_id=ROOM)
    assert await items(core) == before + 20
    [answer] = [m for m in sent if m.room_id == ROOM]
    assert "20 items created in S-1" in answer.body and answer.reply_to == "$preview2"
    # Each owner told once, with all their items; Paris is FR-PARIS's member.
    dms = [m for m in sent if m.user_id]
    assert sorted(m.user_id for m in dms) == sorted([OWNER, PARIS, ANNA, BERT])
    by = {m.user_id: m.body for m in dms}
    assert by[OWNER].count("• A-") == 5 and "You own 5 new action items" in by[OWNER]
    assert "Vous êtes responsable de 5 nouvelles actions" in by[ANNA], by[ANNA]
    assert "Sie sind für 4 neue Aufgaben" in by[BERT]  # line 4 became FR-PARIS, by[BERT]
    assert "— pour FR-PARIS" not in by[ANNA] and "— for FR-PARIS, due" in by[PARIS]
    # The history records each creation as an import, with the confirming event.
    rows = await core.query(
        "SELECT action, event_id FROM history WHERE object = ? ORDER BY id", f"A-{before + 1}"
    )
    assert rows[0][0] == "imported" and rows[0][1] != "$import2"  # the ✅'s event
    shown = (await core.say(SEC, f"!show A-{before + 1}", room_id=ROOM))[0].body
    assert "created by an import" in shown
    # A second ✅ (or a replay) creates nothing more.
    await core.react(SEC, "$preview2", room_id=ROOM)
    assert await items(core) == before + 20


async def test_confirm_by_command_cancel_and_replacement(core: BotCore) -> None:
    await directory(core)
    before = await items(core)
    text = import_text([f"{OWNER} due=2026-03-20 -- first", f"{ANNA} due=friday -- second"])
    [first] = await core.say(SEC, text, room_id=ROOM)
    await core.mark_sent(first.key or "", "$first")
    # A newer import from the same person in that room replaces the first.
    [second] = await core.say(SEC, import_text([f"{OWNER} due=2026-03-21 -- only"]), room_id=ROOM)
    await core.react(SEC, "$first", room_id=ROOM)
    assert await items(core) == before  # the replaced preview's ✅ does nothing
    # Someone else's ✅ on the current one does nothing either.
    await core.mark_sent(second.key or "", "$second")
    await core.react(ADMIN, "$second", room_id=ROOM)
    assert await items(core) == before
    [done] = await core.say(SEC, "!actions import cancel", room_id=ROOM)
    assert "cancelled" in done.body
    refused = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    assert "no import waiting" in refused[0].body
    await core.say(SEC, text, room_id=ROOM)
    sent = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    assert "2 items created" in sent[0].body
    assert sorted(m.user_id for m in sent[1:]) == [ANNA, OWNER]
    assert await items(core) == before + 2


async def test_a_line_that_fails_at_confirm_creates_none(core: BotCore) -> None:
    """Between preview and confirm an owner moved to another nation: the line releasable
    to France no longer covers them, so no line is created, and the sender is told which."""
    await directory(core)
    for person in (SEC, OWNER, ANNA):
        await say_ok(core, ADMIN, f"!dir person {person} nation=FRA", DM)
    before = await items(core)
    lines = [f"{ANNA} due=2026-03-20 rel=FRA -- kept", f"{OWNER} due=2026-03-21 rel=FRA -- moves"]
    [preview] = await core.say(SEC, import_text(lines), room_id=ROOM)
    assert not problems(preview), preview.body
    await say_ok(core, ADMIN, f"!dir person {OWNER} nation=DEU", DM)
    [told] = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    assert "Line 4 cannot be created now" in told.body and "Not releasable" in told.body
    assert "Nothing was created" in told.body
    assert await items(core) == before


async def test_relative_dates_keep_the_preview_meaning_and_previews_expire(
    core: BotCore, clock: FakeClock
) -> None:
    await directory(core)
    before = await items(core)
    await core.say(SEC, import_text([f"{OWNER} due=tomorrow -- read as of the preview"]), ROOM)
    clock.advance(hours=20)  # the next morning: "tomorrow" is still the preview's
    await say_ok(core, SEC, "!actions import confirm", ROOM)
    [due] = (await core.query("SELECT due_at FROM action_items WHERE id = ?", before + 1))[0]
    assert due.startswith("2026-03-03T23:59:59")
    await core.say(SEC, import_text([f"{OWNER} due=2026-03-30 -- too late"]), ROOM)
    clock.advance(hours=25)
    refused = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    assert "no import waiting" in refused[0].body
    assert await items(core) == before + 1


async def test_limits_roles_and_bad_forms(core: BotCore) -> None:
    await directory(core)
    before = await items(core)
    many = [f"{OWNER} due=2026-03-20 -- item {i}" for i in range(101)]
    [refused] = await core.say(SEC, import_text(many), room_id=ROOM)
    assert "101 items" in refused.body and "at most 100" in refused.body
    [refused] = await core.say(MEMBER, import_text(many[:2]), room_id=ROOM)
    assert "is for" in refused.body
    [refused] = await core.say(SEC, f"!actions import S-1 {OWNER} due=friday -- x", ROOM)
    assert "own line" in refused.body
    # 100 lines without a `--` between them are not a command head that is too long.
    long = ["@owner:test due=2026-03-20 the text without its separator, written out long"] * 100
    [preview] = await core.say(SEC, import_text(long), room_id=ROOM)
    assert len(problems(preview)) == 100
    assert "Corrected: @owner:test due=2026-03-20 -- the text" in preview.body
    # No lines: the pending preview again, and with none pending, the form.
    [again] = await core.say(SEC, "!actions import S-1", room_id=ROOM)
    assert again.body == preview.body and again.key != preview.key
    await say_ok(core, SEC, "!actions import cancel")
    [form] = await core.say(SEC, "!actions import S-1", room_id=ROOM)
    assert "one a line" in form.body and "!actions import S-1\n" in form.body
    assert await items(core) == before


async def test_pending_import_survives_a_restart(tmp_path: Path, store_url: str) -> None:
    clock = FakeClock()
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        await directory(core)
        before = await items(core)
        [preview] = await core.say(SEC, import_text([f"{OWNER} due=2026-03-20 -- x"]), ROOM)
        await core.mark_sent(preview.key or "", "$kept")
    finally:
        await core.close()
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        await core.react(SEC, "$kept", room_id=ROOM)
        assert await items(core) == before + 1
    finally:
        await core.close()


def test_lines_and_suggested_dates() -> None:
    text = "\n# heading\n- @a:x due=1 -- one\n\n2. FR-PARIS due=2 -- two\n  *  B due=3 -- three"
    assert item_lines(text) == [
        (3, "@a:x due=1 -- one"),
        (5, "FR-PARIS due=2 -- two"),
        (6, "B due=3 -- three"),
    ]
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert suggested_due("2025-01-20", "UTC", now) == "2026-01-20"  # the year slipped
    assert suggested_due("2024-06-01", "UTC", now) == "2026-01-19"  # two weeks on
    assert suggested_due("someday", "UTC", now) == (now + timedelta(days=14)).strftime("%F")


async def test_an_edited_import_is_previewed_again(core: BotCore) -> None:
    """Correcting the import by editing the message (as Element does) previews it again;
    the new preview replaces the old one and can be confirmed."""
    await directory(core)
    before = await items(core)
    text = import_text(["FR-PARSI due=2026-03-20 -- venue"])
    [first] = await core.say(SEC, text, room_id=ROOM, event_id="$minutes")
    assert len(problems(first)) == 1
    fixed = import_text(["FR-PARIS due=2026-03-20 -- venue"])
    [again] = await core.say(SEC, fixed, room_id=ROOM, replaces="$minutes")
    assert not problems(again) and again.reply_to == "$minutes", again.body
    await say_ok(core, SEC, "!actions import confirm")
    assert await items(core) == before + 1


async def test_each_owner_is_told_only_the_items_released_to_them(core: BotCore) -> None:
    """A post's members each get one message; one item is releasable to France only, so
    the German member's message lists the other item alone (as `!actions add` would have
    sent them nothing about it)."""
    await directory(core)
    await say_ok(core, ADMIN, f"!dir post FR-PARIS add={MEMBER}", DM)
    for person, nation in ((SEC, "FRA"), (PARIS, "FRA"), (MEMBER, "DEU")):
        await say_ok(core, ADMIN, f"!dir person {person} nation={nation}", DM)
    lines = [
        "FR-PARIS due=2026-03-20 rel=FRA -- French eyes only",
        "FR-PARIS due=2026-03-21 -- for the whole post",
    ]
    await core.say(SEC, import_text(lines), room_id=ROOM)
    sent = await core.say(SEC, "!actions import confirm", room_id=ROOM)
    dms = {m.user_id: m for m in sent if m.user_id}
    assert sorted(dms) == sorted([PARIS, MEMBER])
    assert "French eyes only" in dms[PARIS].body and "whole post" in dms[PARIS].body
    assert "French eyes only" not in dms[MEMBER].body and "whole post" in dms[MEMBER].body
    assert "You own 1 new action item" in dms[MEMBER].body


async def test_a_line_with_an_unclosed_quote_is_that_line_s_problem(core: BotCore) -> None:
    """The command is named by its first line: a quote left open in one line is that
    line's problem, not a refusal of the whole import."""
    await directory(core)
    lines = [f'{OWNER} due="2026-03-20 -- quote left open', f"{ANNA} due=2026-03-21 -- fine"]
    [preview] = await core.say(SEC, import_text(lines), room_id=ROOM)
    [problem] = problems(preview)
    assert problem.startswith("• Line 3: A quote is not closed"), preview.body


async def test_an_import_over_the_length_limit_says_to_split_it(core: BotCore) -> None:
    await directory(core)
    text = f"{OWNER} due=2026-03-20 -- " + "x" * 300
    [refused] = await core.say(SEC, import_text([text] * 110), room_id=ROOM)
    assert "The lines below the command are" in refused.body
    assert "!help actions import" in refused.body
    assert await core.query("SELECT 1 FROM kv WHERE key LIKE 'actions.import:%'") == []
