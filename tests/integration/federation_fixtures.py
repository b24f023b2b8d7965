"""Fixtures for tests with two homeservers federating over TLS on loopback.

Imported by name into the test modules that use them (tests/integration/test_federation.py
and the long outage runs, outage_federation.py): the servers are started once per session,
and only when such a test runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.harness.federation import start_federation
from tests.harness.synapse import SynapseServer


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SynapseServer]]:
    """[home, remote]: two Synapses that federate only with each other."""
    servers = start_federation(tmp_path_factory.mktemp("federation"), 2)
    try:
        yield servers
    finally:
        for server in servers:
            server.thaw()  # a test that froze one and failed must not leave it hung
            server.close()


@pytest.fixture
def home(federation: list[SynapseServer]) -> SynapseServer:
    return federation[0]


@pytest.fixture
def remote(federation: list[SynapseServer]) -> SynapseServer:
    return federation[1]


@pytest.fixture
async def person(store_dir: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await person(server, "alice")`: a cross-signed, syncing E2EE client on that server."""
    clients: list[TestClient] = []

    async def make(server: SynapseServer, prefix: str = "user", **kw: Any) -> TestClient:
        user = await server.aregister(f"{prefix}-{uuid.uuid4().hex[:8]}", "test-pass")
        client = await TestClient.create(server, user, store_dir / user["user_id"], **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def fed_bot(home: SynapseServer, tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """`fed_bot(allowed_servers=[...], ...)`: the bot on the home server."""
    bots: list[BotProcess] = []

    def make(**kw: Any) -> BotProcess:
        bot = BotProcess(home, tmp_path / f"bot{len(bots)}", **kw)
        bots.append(bot)
        bot.start()
        return bot

    yield make
    for bot in bots:
        bot.close()
