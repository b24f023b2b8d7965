"""Unit fixtures: an in-process bot core on a real store (SQLite, PostgreSQL), fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness.fakes import BotCore, FakeClock
from tests.unit.user_errors_across_workers import Shared, after_the_suite, worker


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def core(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    """The bot core on each backend: every domain's SQL runs on SQLite and PostgreSQL."""
    bot = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        yield bot
    finally:
        await bot.close()


# -- every user error the unit suite provokes, for tests/unit/test_examples.py --------------

USER_ERRORS: list[tuple[datetime, str]] = []  # (the handler's now, the reply text)
# The same for replies in another language than English (the sender's `!lang`), by language.
USER_ERRORS_IN: dict[str, list[tuple[datetime, str]]] = {}
# Replies whose examples were made for another directory than examples_world's.
MADE_ELSEWHERE: set[str] = set()
_SHARED: Shared | None = None  # under pytest-xdist: this worker's errors for the others


@pytest.fixture(autouse=True, scope="session")
def _record_user_errors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep each user-error reply with the time it was made at: its example must work then."""
    from bot.invoke import Invoker

    global _SHARED  # one per worker process, like USER_ERRORS
    _SHARED = Shared(tmp_path_factory) if worker() else None
    original = Invoker.run

    async def recording(self: Invoker, ctx: Any, incoming: Any) -> tuple[str | None, str]:
        name, outcome = await original(self, ctx, incoming)
        if outcome == "user_error" and ctx.outbox:
            lang = ctx.person.language if ctx.person is not None else "en"
            errors = USER_ERRORS if lang == "en" else USER_ERRORS_IN.setdefault(lang, [])
            errors.append((ctx.now, ctx.outbox[-1].body))
            # An example is made from its reader's directory: only those shown in the
            # directory with the docs' names (examples_world) can be sent back in it.
            elsewhere = not getattr(self, "docs_directory", False)
            if elsewhere:
                MADE_ELSEWHERE.add(ctx.outbox[-1].body)
            if _SHARED is not None:
                _SHARED.record(lang, ctx.now, ctx.outbox[-1].body, elsewhere)
        return name, outcome

    Invoker.run = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        Invoker.run = original  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The checks of every user error run last, after the rest of the suite provoked them."""
    items.sort(key=after_the_suite)


def pytest_runtest_logfinish(nodeid: str) -> None:
    if _SHARED is not None:
        _SHARED.finished(nodeid)


@pytest.hookimpl(trylast=True)  # after the fixtures: _record_user_errors set _SHARED
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under xdist, the first check of them gathers the errors every other worker provoked."""
    if _SHARED is None or _SHARED.merged or not after_the_suite(item):
        return
    for lang, now, text, elsewhere in _SHARED.others(item.session):
        errors = USER_ERRORS if lang == "en" else USER_ERRORS_IN.setdefault(lang, [])
        errors.append((now, text))
        if elsewhere:
            MADE_ELSEWHERE.add(text)
    _SHARED.merged = True
