"""The outbox row format is defined once (commands/outbox_row.Queued) and both sides use it."""

from __future__ import annotations

import ast
from pathlib import Path

from commands.outbox_row import WIPED, Queued

ROOT = Path(__file__).resolve().parents[2]


def _full() -> Queued:
    return Queued(
        content={"msgtype": "m.text", "body": "hello ✓"},
        reply_to="$r",
        thread_root="$t",
        thread_key="k1",
        reveal_to=("@a:test", "DEV"),
        late_note_after=60.0,
        origin={"user_id": "@a:test", "room_id": "!r:test"},
        attachment={"filename": "a.txt", "mimetype": "text/plain"},
        event_type="m.reaction",
        marking={"level": "SECRET", "rel": ["FR"]},
        about="LR-3",
    )


def test_every_field_survives_a_round_trip() -> None:
    row = _full()
    assert Queued.loads(row.dumps()) == row


def test_an_unmarked_row_has_no_marking_key_and_restart_thread_is_never_stored() -> None:
    row = Queued(content={"body": "x"}, restart_thread="k1")
    text = row.dumps()
    assert "marking" not in text and "restart_thread" not in text
    assert Queued.loads(text).restart_thread is None


def test_the_dm_copy_of_a_marked_room_message_keeps_what_it_is_about_not_the_thread() -> None:
    row = _full()
    copy = row.replace(reply_to=None, thread_root=None, thread_key=None)
    back = Queued.loads(copy.dumps())
    assert (back.reply_to, back.thread_root, back.thread_key) == (None, None, None)
    assert (back.marking, back.about, back.origin) == (row.marking, row.about, row.origin)
    assert row.thread_key == "k1"  # the original is untouched


def test_a_sent_row_keeps_only_its_origin() -> None:
    assert Queued.loads(_full().kept_after_send()) == Queued(origin=_full().origin)
    assert Queued(content={"body": "x"}).kept_after_send() == WIPED
    assert Queued.loads(WIPED) == Queued()


def test_the_outbox_reads_rows_only_through_queued() -> None:
    """bot/outbox/ never parses or writes a row's JSON itself (no second format)."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "bot" / "outbox").glob("*.py"))
    ]
    imported = {
        alias.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "json" not in imported
    assert "Queued" in imported
