"""Long pasted text (issue 13 item 5): 32,000 characters after -- are stored, relayed and
exported intact, and every outgoing message fits one Matrix event once encrypted."""

from __future__ import annotations

import csv
import io
import json

from actions_fixtures import OWNER, SEC, say_ok, seed

from commands.event_size import BUDGET, encoded_size, fit, split_text
from tests.harness.fakes import BotCore
from tests.unit.commands.test_liaison import A, B, by_target, deliver
from tests.unit.commands.test_liaison import seed as seed_posts


def long_text(size: int = 32_000, word: str = "lorem ") -> str:
    paragraph = (word * 200).strip() + "\n\n"
    return (paragraph * (size // len(paragraph) + 1))[:size].rstrip()


def event_bytes(content: dict) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode())


def ascii_bytes(content: dict) -> int:
    """As nio serialises content before encrypting it (json.dumps, ensure_ascii)."""
    return len(json.dumps(content, separators=(",", ":")))


async def test_32000_character_request_body_is_stored_and_relayed_intact(core: BotCore) -> None:
    await seed_posts(core)
    body = long_text()
    sent = await core.say(A, f"!request DE-BERLIN Long brief -- {body}")
    out = by_target(sent)
    assert B in out, [m.body[:80] for m in sent]
    assert body in out[B].body  # the member's thread root carries all of it
    assert all(ascii_bytes(m.content) <= BUDGET + 1_000 for m in sent)
    stored = await core.query("SELECT body FROM liaison_requests")
    assert stored[0][0] == body
    roots = await deliver(core)
    reply = long_text(word="answer ")
    relayed = by_target(await core.say(B, reply, room_id="!dm-b:test", thread_root=roots[B]))
    assert reply in relayed[A].body


async def test_text_too_large_for_one_event_is_split_in_its_thread_not_lost(
    core: BotCore,
) -> None:
    await seed_posts(core)
    body = long_text(8_000, word="доклад ")  # Cyrillic: \uXXXX, 6 bytes a letter once encrypted
    sent = await core.say(A, f"!request DE-BERLIN Long brief -- {body}")
    to_b = [m for m in sent if m.user_id == B]
    assert len(to_b) == 2
    assert all(ascii_bytes(m.content) <= BUDGET + 1_000 for m in to_b)
    assert to_b[1].thread_key == to_b[0].key and to_b[1].content["m.mentions"] == {}
    joined = to_b[0].body + to_b[1].body
    assert body in joined


async def test_32000_character_action_item_is_exported_intact(core: BotCore) -> None:
    await seed(core)
    text = long_text()
    await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-03-03 -- {text}")
    csv_file = (await say_ok(core, SEC, "!actions export S-1 csv"))[1]
    rows = list(csv.reader(io.StringIO(csv_file.attachment.decode("utf-8"))))
    assert text in [dict(zip(rows[0], r, strict=True))["text"] for r in rows[1:]]
    md_file = (await say_ok(core, SEC, "!actions export S-1 md"))[1]
    assert text.split("\n")[0] in md_file.attachment.decode("utf-8")


def test_fit_keeps_small_messages_and_drops_html_before_splitting() -> None:
    assert fit("hi", "<b>hi</b>") == [("hi", "<b>hi</b>")]
    text = "x" * 30_000
    assert fit(text, f"<p>{text}</p>") == [(text, None)]
    huge = "ü" * 50_000 + "\n" + "y" * 10
    parts = split_text(huge, BUDGET)
    assert "".join(parts) == huge
    assert all(encoded_size(p) <= BUDGET for p in parts)
    assert encoded_size('a"\n') == 2 + 1 + 2 + 2
    assert encoded_size("é😀") == 2 + 6 + 12
    sample = 'ü"\n😀x\x01'
    assert encoded_size(sample) == len(json.dumps(sample))
