"""Exports: the CSV parses back to what the store holds; Markdown groups by owner."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from actions_fixtures import ADMIN, DM, OWNER, SEC, say_ok, seed

from commands.exports import CSV_HEADER
from tests.harness.fakes import BotCore


async def test_csv_export_round_trips_in_the_requesters_zone(core: BotCore) -> None:
    await seed(core)
    await say_ok(core, ADMIN, f"!dir person {SEC} tz=America/New_York", DM)
    await say_ok(core, SEC, f'!actions add S-1 {OWNER} due=2026-03-03 -- =HYPERLINK("x"), "q"')
    await say_ok(core, OWNER, "!actions done A-1 -- done", DM)
    core.clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    sent = await say_ok(core, SEC, "!actions export S-1 csv")
    assert "3 action item(s), times in America/New_York" in sent[0].body
    file = sent[1]
    assert file.filename == "S-1-actions.csv" and file.content["msgtype"] == "m.file"
    rows = list(csv.reader(io.StringIO(file.attachment.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["id"] for r in records] == ["A-3", "A-1", "A-2"]  # by due date
    a3, a1, a2 = records
    # End of 3 March in New York (EST, UTC-5), written in New York time.
    assert a3["due"] == "2026-03-03T23:59:59-05:00" and a3["overdue"] == "yes"
    assert a3["text"] == '\'=HYPERLINK("x"), "q"'  # formula disarmed, quotes survive
    assert a1["status"] == "done" and a1["overdue"] == "no" and a1["owner"] == OWNER
    assert a1["due"] == "2026-03-20T19:59:59-04:00"  # given in UTC; NY is on EDT by then
    assert a2["owner"] == "FR-PARIS" and a2["owner_kind"] == "post"
    assert {r["timezone"] for r in records} == {"America/New_York"}
    stored = await core.query("SELECT text, status FROM action_items ORDER BY due_at, id")
    assert [r[1] for r in stored] == [r["status"] for r in records]


async def test_markdown_export_groups_by_owner_and_escapes(core: BotCore) -> None:
    await seed(core)
    await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-04-01 -- fix *all* | pipes")
    sent = await say_ok(core, SEC, "!actions export S-1 md")
    text = sent[1].attachment.decode("utf-8")
    assert sent[1].filename == "S-1-actions.md"
    assert text.startswith("# S-1 NATO DefMin: action items")
    owner_section = text.split("## ")[1]
    assert owner_section.startswith("Olga Owner (@owner:test)")
    assert "**A-1**" in owner_section and "**A-3**" in owner_section
    assert "fix \\*all\\* \\| pipes" in owner_section
    assert text.split("## ")[2].startswith("FR-PARIS") and "**A-2**" in text.split("## ")[2]


async def test_owner_outside_the_room_exports_only_their_items(core: BotCore) -> None:
    await seed(core)
    sent = await say_ok(core, OWNER, "!actions export S-1 csv", DM)
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode())))
    assert [r[0] for r in rows[1:]] == ["A-1"]
    assert rows[1][7].endswith("+01:00")  # the owner's zone (Europe/Paris, winter)
