"""Reliability fixtures: the integration suite's bot and people, plus people on extra servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness.clients import TestClient
from tests.harness.synapse import SynapseServer
from tests.integration.conftest import bot_factory, people, store_backend  # noqa: F401  (fixtures)


@pytest.fixture
async def people_on(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await people_on(server, "alice")`: a syncing E2EE client on a dedicated server."""
    clients: list[TestClient] = []

    async def make(server: SynapseServer, prefix: str = "user", **kw: Any) -> TestClient:
        user = server.register(f"{prefix}-{uuid.uuid4().hex[:10]}", "test-pass")
        client = await TestClient.create(server, user, tmp_path / "stores" / user["user_id"], **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
