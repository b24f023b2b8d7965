"""!show of an object with a long history (issue 25): the latest page only, each entry
clipped, and the command that shows older entries; bounded in events whatever has
accumulated."""

from __future__ import annotations

from commands.event_size import BUDGET, encoded_size, split_text
from commands.history_page import ENTRY_CHARS, PAGE_SIZE
from tests.harness.fakes import BotCore
from tests.unit.commands.test_liaison import A, B, deliver, make
from tests.unit.commands.test_liaison import seed as seed_posts
from tests.unit.commands.test_long_text import long_text

REPLIES = 500


async def _request_with_long_replies(core: BotCore, replies: int) -> None:
    """LR-1 with `replies` thread replies of 32,000 characters: two through the bot (so
    the rows are the bot's own), the rest copied as the store holds them."""
    await seed_posts(core)
    await make(core)
    roots = await deliver(core)
    for number in range(2):
        await core.say(
            B, long_text(word=f"answer{number} "), room_id="!dm-b:test", thread_root=roots[B]
        )
    rows = await core.query(
        "SELECT object, at, actor, action, old, new, detail, event_id, marking FROM history "
        "WHERE object = 'LR-1' AND action = 'reply' ORDER BY id"
    )
    assert len(rows) == 2 and len(rows[0][6]) == 32_000
    async with core.store.write() as db:
        for number in range(2, replies):
            values = list(rows[number % 2])
            values[6] = f"reply {number} " + values[6][: 32_000 - 12]
            await db.execute(
                "INSERT INTO history (object, at, actor, action, old, new, detail, event_id, "
                "marking) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values[:7], None, values[8]),
            )


async def test_show_of_a_request_with_500_long_replies_is_one_bounded_page(
    core: BotCore,
) -> None:
    await _request_with_long_replies(core, REPLIES)
    sent = await core.say(A, "!show LR-1")
    assert len(sent) == 1, [len(m.body) for m in sent]  # was 401 events
    body = sent[0].body
    assert f"reply {REPLIES - 1} " in body and f"reply {REPLIES - PAGE_SIZE - 1} " not in body
    total = (await core.query("SELECT COUNT(*) FROM history WHERE object = 'LR-1'"))[0][0]
    assert total == REPLIES + 2  # and "created", "ack" (a reply acknowledges)
    assert f"History entries {total - PAGE_SIZE + 1}–{total} of {total}" in body
    assert "Older entries: !show LR-1 page=2" in body
    assert "more characters)" in body and len(body) < (PAGE_SIZE + 2) * (ENTRY_CHARS + 200)
    older = (await core.say(A, "!show LR-1 page=2"))[0].body
    assert f"reply {REPLIES - PAGE_SIZE - 1} " in older and "page=3" in older
    first = (await core.say(A, f"!show LR-1 page={-(-total // PAGE_SIZE)}"))[0].body
    assert "created" in first and "Older entries" not in first


async def test_a_page_beyond_the_history_is_refused_with_one_that_works(core: BotCore) -> None:
    await seed_posts(core)
    await make(core)
    reply = (await core.say(A, "!show LR-1 page=9"))[0].body
    assert "LR-1 has 1 page of history." in reply and "!show LR-1 page=1" in reply
    bad = (await core.say(A, "!show LR-1 page=zero"))[0].body
    assert "is not a page number" in bad


def test_split_text_measures_each_piece_a_bounded_number_of_times(monkeypatch) -> None:
    """6.4 MB of text in 40 kB events: it took 2.3 s of CPU here measuring one character
    at a time in Python; now each piece is measured ~16 times by json.dumps (bisection)."""
    from commands import event_size

    text = long_text(6_400_000)
    calls = []

    def counted(piece: str) -> int:
        calls.append(len(piece))
        return encoded_size(piece)

    monkeypatch.setattr(event_size, "encoded_size", counted)
    parts = split_text(text, BUDGET)
    assert "".join(parts) == text and all(encoded_size(p) <= BUDGET for p in parts)
    assert len(parts) == 161
    assert len(calls) <= len(parts) * 17 and max(calls) <= BUDGET
