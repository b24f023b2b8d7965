"""A command that only reads renders on a read-only snapshot, outside the write transaction
(issue 25: `!agenda` held the store's one writer while it rendered); the write transaction
then records its answer and the event once, as for any command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from commands.schedule import views
from tests.harness.fakes import BotCore

ALICE = "@alice:test"
READS_ONLY = ("ping", "help", "show", "agenda", "ics", "requests", "actions list")


@pytest.fixture
def writes_open(core: BotCore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many write transactions are open now (one cell, read by the probes below)."""
    state = [0]
    write = core.store.write

    @asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        async with write() as db:
            state[0] += 1
            try:
                yield db
            finally:
                state[0] -= 1

    monkeypatch.setattr(core.store, "write", counted)
    return state


def test_the_listings_are_declared_read_only(core: BotCore) -> None:
    assert all(core.registry.commands[name].reads_only for name in READS_ONLY)
    assert not core.registry.commands["remind"].reads_only


async def test_the_agenda_is_rendered_with_no_write_transaction_open(
    core: BotCore, writes_open: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        await core.say(ALICE, f"!remind in {n + 1}h -- call {n}")
    rendered: list[int] = []
    table = views.table

    def probe(*args: Any, **kwargs: Any) -> str:
        rendered.append(writes_open[0])
        return table(*args, **kwargs)

    monkeypatch.setattr(views, "table", probe)
    sent = await core.say(ALICE, "!agenda 2", event_id="$agenda")
    assert rendered == [0]  # rendered once, while no write transaction was open
    assert len(sent) == 1 and "call 2" in sent[0].body and sent[0].reply_to == "$agenda"
    rows = await core.query(
        "SELECT command, outcome FROM handled_events WHERE event_id = ?", "$agenda"
    )
    assert [tuple(r) for r in rows] == [("agenda", "ok")]


async def test_show_is_rendered_with_no_write_transaction_open(
    core: BotCore, writes_open: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    summary = views.summary_lines

    def probe(*args: Any, **kwargs: Any) -> list[str]:
        seen.append(writes_open[0])
        return summary(*args, **kwargs)

    monkeypatch.setattr(views, "summary_lines", probe)
    await core.say(ALICE, "!remind in 2h -- call")
    await core.say(ALICE, "!show R-1")
    assert seen == [0]  # !show rendered its summary outside any write transaction


async def test_a_read_only_command_answered_once_for_an_event_seen_twice(core: BotCore) -> None:
    first = await core.say(ALICE, "!agenda", event_id="$twice")
    again = await core.say(ALICE, "!agenda", event_id="$twice")
    assert len(first) == 1 and again == []
    assert await core.count("handled_events") == 1


async def test_a_command_declared_read_only_that_writes_fails_and_changes_nothing(
    core: BotCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot refuses writes (query_only): a wrong declaration is an error the
    sender is told of with a reference, never a write outside the ledger's transaction."""

    async def writes(ctx: Any, args: Any) -> None:
        await ctx.db.execute("INSERT INTO kv (key, value) VALUES ('x', 'y')")
        ctx.reply("written")

    spec = core.registry.commands["ping"]
    monkeypatch.setitem(
        core.registry.commands, "ping", spec.__class__(**{**spec.__dict__, "handler": writes})
    )
    sent = await core.say(ALICE, "!ping")
    assert len(sent) == 1 and "went wrong on my side (ref " in sent[0].body
    assert await core.count("kv") == 0
    rows = await core.query("SELECT outcome FROM handled_events")
    assert [r[0] for r in rows] == ["error"]


async def test_the_snapshot_does_not_see_a_write_committed_after_it_began(core: BotCore) -> None:
    """One view for the whole command: a write committed meanwhile is not half seen."""
    await core.say(ALICE, "!remind in 1h -- first")
    async with core.store.snapshot() as view:
        before = await view.execute_fetchall("SELECT COUNT(*) FROM schedule_items")
        core.clock.advance(minutes=1)
        await core.say(ALICE, "!remind in 1h -- second")
        during = await view.execute_fetchall("SELECT COUNT(*) FROM schedule_items")
    assert [tuple(r) for r in before] == [tuple(r) for r in during] == [(1,)]
    assert await core.count("schedule_items") == 2
