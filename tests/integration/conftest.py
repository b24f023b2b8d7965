"""Integration fixtures: the real bot as a subprocess, and E2EE people who talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UserFactory
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.synapse import SynapseServer

BotFactory = Callable[..., BotProcess]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> str:
    """The one switch for PostgreSQL parity: a test that uses it (directly, or with
    `@pytest.mark.usefixtures("store_backend")`) runs twice, and every bot it makes with
    `bot_factory` keeps its store (and crypto store) on that backend. Only the tests of
    membership, the DM lifecycle, delivery, markings and replay use it: not the suite."""
    return str(request.param)


@pytest.fixture
def bot_factory(
    synapse: SynapseServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[BotFactory]:
    """`bot_factory(allowed_users=[...], admins=[...], settings={...}, start=True)`."""
    bots: list[BotProcess] = []
    backend = (
        request.getfixturevalue("store_backend")
        if "store_backend" in request.fixturenames
        else "sqlite"
    )

    def make(*, start: bool = True, synapse_server: SynapseServer | None = None, **kw: Any):
        if backend == "postgresql" and "database_url" not in (kw.get("settings") or {}):
            url = request.getfixturevalue("postgres").new_database()
            kw["settings"] = {"database_url": url, **(kw.get("settings") or {})}
        bot = BotProcess(synapse_server or synapse, tmp_path / f"bot{len(bots)}", **kw)
        bots.append(bot)
        if start:
            bot.start()
        return bot

    yield make
    for bot in bots:
        bot.close()


@pytest.fixture
async def people(
    synapse: SynapseServer, new_user: UserFactory, store_dir: Path
) -> AsyncIterator[Callable[..., Any]]:
    """`await people("alice")` -> a logged-in, syncing TestClient for a new user."""
    clients: list[TestClient] = []

    async def make(prefix: str = "user", **kw: Any) -> TestClient:
        user = new_user(prefix)
        client = await TestClient.create(synapse, user, store_dir / user["user_id"], **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def open_dm(person: TestClient, bot: BotProcess, timeout: float = 20) -> str:
    """An encrypted DM with the bot, returned once the bot has really joined."""
    return await person.create_encrypted_dm(bot.user_id, wait_joined=timeout)


async def command(
    person: TestClient, room_id: str, body: str, timeout: float = 20
) -> tuple[str, Any]:
    """Send a command; return (event_id, the bot's reply to it)."""
    event_id = await person.send_text(room_id, body)
    reply = await person.wait_for_message(
        room_id, lambda e: replied_to(e) == event_id, timeout=timeout
    )
    return event_id, reply


def replied_to(event: Any) -> str | None:
    relates = (event.source.get("content") or {}).get("m.relates_to") or {}
    return (relates.get("m.in_reply_to") or {}).get("event_id")
