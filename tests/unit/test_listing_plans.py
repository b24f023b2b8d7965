"""The queries behind !agenda, !ics agenda, !requests and !actions list are index searches
(issue 25): SQLite's EXPLAIN QUERY PLAN shows SEARCH … USING INDEX for their main table,
never a SCAN of every row, so their cost follows what they show, not what has accumulated.

And the agenda reads only what it shows: past one-off items (a year of them) are never
loaded, an unrelated person's agenda loads nothing, a repeating item whose next occurrence
is overdue (the bot was down) is still there.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from commands.actions.listing import query_items
from commands.actions.model import ACTIVE
from commands.context import utc_iso
from commands.schedule import store as schedule_store
from commands.schedule.window import _SEES, STALE_SQL, WINDOW_SQL
from tests.harness.fakes import BotCore, FakeClock

ME = "@me:test"


@pytest.fixture
async def sqlite_core(tmp_path: Path) -> Any:
    bot = await BotCore(tmp_path, FakeClock()).open()
    try:
        yield bot
    finally:
        await bot.close()


async def plan(core: BotCore, sql: str, params: list[Any]) -> str:
    rows = await core.query(f"EXPLAIN QUERY PLAN {sql}", *params)
    return "\n".join(str(r[-1]) for r in rows)


def assert_searched(text: str, table: str) -> None:
    assert f"SCAN {table}" not in text.replace(f"SCAN {table} USING", "SEARCH"), text
    assert f"SEARCH {table} USING" in text or f"SEARCH {table[0]} USING" in text, text


async def test_agenda_queries_search_an_index(sqlite_core: BotCore) -> None:
    now, until = "2026-03-02T09:00:00+00:00", "2026-03-09T09:00:00+00:00"
    sees = [ME, "!room:test", ME, ME]
    for sql, params in (
        (STALE_SQL, [now]),
        (WINDOW_SQL, [now, until]),
        (f"{STALE_SQL} AND {_SEES}", [now, *sees]),
        (f"{WINDOW_SQL} AND {_SEES}", [now, until, *sees]),
    ):
        text = await plan(sqlite_core, f"{sql} ORDER BY i.next_at, i.id LIMIT 100", params)
        # The overdue repeating items by their own partial index (not every active row),
        # the window by (state, next_at) with both bounds.
        index = (
            "schedule_items_recurring (state=? AND <expr>=? AND next_at<?)"
            if sql is STALE_SQL or "rrule" in sql
            else ("schedule_items_state (state=? AND next_at>? AND next_at<?)")
        )
        assert f"SEARCH i USING INDEX {index}" in text, text
        assert "SCAN i" not in text, text


@pytest.mark.parametrize(
    "where",
    [
        "status IN (?, ?, ?)",
        "requester = ? AND status IN (?, ?, ?)",
        "id IN (SELECT request_id FROM liaison_addressees WHERE user_id = ?) "
        "AND status IN (?, ?, ?)",
    ],
)
async def test_requests_queries_search_an_index(sqlite_core: BotCore, where: str) -> None:
    params = [ME] * where.count("= ?") + ["open", "acknowledged", "answered"]
    sql = f"SELECT id FROM liaison_requests WHERE {where} ORDER BY id DESC LIMIT 50 OFFSET 0"
    text = await plan(sqlite_core, sql, params)
    assert "SCAN liaison_requests" not in text, text
    assert "SCAN liaison_addressees" not in text, text


async def test_actions_list_queries_search_an_index(sqlite_core: BotCore) -> None:
    seen: list[str] = []

    class Spy:
        def __init__(self, db: Any) -> None:
            self.db = db

        def execute(self, sql: str, params: Any = ()) -> Any:
            seen.append(sql)
            return self.db.execute(sql, params)

    async with sqlite_core.store.write() as db:
        await query_items(
            Spy(db),
            now=sqlite_core.clock.now(),
            summit_ids=None,
            owners=[ME],
            restrict_owners=None,
            statuses=ACTIVE,
            overdue=False,
            before=None,
            limit=20,
            offset=0,
        )
    for sql in seen:
        count = sql.count("?") - 2 if "LIMIT" in sql else sql.count("?")
        params: list[Any] = [ME, *ACTIVE][:count]
        params = [*ACTIVE, ME][:count] if sql.find("status") < sql.find("owner") else params
        if "LIMIT" in sql:
            params += [20, 0]
        text = await plan(sqlite_core, sql, params)
        assert "SCAN action_items" not in text, text


async def test_agenda_reads_only_items_with_an_occurrence_in_the_window(
    sqlite_core: BotCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    now = core.clock.now()
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO people (user_id, roles, timezone, updated_at) "
            "VALUES ('@sec:test', 'secretariat', 'UTC', ?)",
            (utc_iso(now),),
        )
    await core.say("@sec:test", "!meeting tomorrow 10:00 -- Upcoming")
    await core.say("@sec:test", "!meeting tomorrow 11:00 repeat=FREQ=DAILY -- Daily")
    # A year of past one-offs, as the store holds them (next_at left at their start).
    async with core.store.write() as db:
        for day in range(1, 366):
            at = utc_iso(now - timedelta(days=day))
            await db.execute(
                "INSERT INTO schedule_items (kind, number, title, start_at, timezone, "
                "creator, state, next_at, created_at, updated_at) "
                "VALUES ('M', ?, 'Past', ?, 'UTC', '@sec:test', 'active', ?, ?, ?)",
                (1000 + day, at, at, at, at),
            )
        # The daily meeting's job has not moved it on yet: its next_at is a day old.
        await db.execute(
            "UPDATE schedule_items SET next_at = ? WHERE title = 'Daily'",
            (utc_iso(now - timedelta(hours=23)),),
        )
    loaded: list[str] = []
    original = schedule_store.item_from_row

    def counting(row: Any) -> Any:
        item = original(row)
        loaded.append(item.title)
        return item

    monkeypatch.setattr("commands.schedule.window.item_from_row", counting)
    reply = (await core.say("@sec:test", "!agenda 3"))[0].body
    assert "Upcoming" in reply and "Daily" in reply and "Past" not in reply
    assert sorted(loaded) == ["Daily", "Upcoming"]
    loaded.clear()
    reply = (await core.say("@nobody:test", "!agenda 3", room_id="!elsewhere:test"))[0].body
    assert "Nothing scheduled" in reply and loaded == []
