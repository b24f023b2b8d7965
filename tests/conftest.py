"""Shared pytest fixtures: one real Synapse per session and a user factory.

Under pytest-xdist (`make test`) each worker is a session of its own: its own Synapse and
PostgreSQL, on ports of their own (tests/harness/synapse.py `free_port`) and in the
worker's own temporary directory, so tests written against these fixtures need nothing
more to run in parallel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.migrated import new_migrated_sqlite
from tests.harness.postgres import PostgresServer
from tests.harness.synapse import SynapseServer

UserFactory = Callable[..., dict[str, str]]


def pytest_configure(config: pytest.Config) -> None:
    """With ``-n N`` and no ``--dist``: one test at a time to whichever worker is free, in
    collection order, an ``xdist_group`` kept on one worker (tests/unit/test_examples.py's
    user-error checks run last). Set here rather than in addopts, whose xdist options
    would make ``-p no:xdist`` an error.
    """
    if getattr(config.option, "dist", "no") == "load":  # xdist's default for -n
        config.option.dist = "loadgroup"
        config.option.loadscopereorder = False
    # A worker reads its options from the command line again: it learns of the group
    # scheduling from the controller (pytest_configure_node), to name each test's group.
    if getattr(config, "workerinput", {}).get("loadgroup"):
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent with -p no:xdist
def pytest_configure_node(node: Any) -> None:
    node.workerinput["loadgroup"] = node.config.getvalue("dist") == "loadgroup"


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A Synapse on 127.0.0.1 with generous rate limits, shared by the whole session."""
    server = SynapseServer()
    server.start(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def synapse_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., SynapseServer]]:
    """Start extra servers (e.g. ``default_ratelimits=True``); all stopped after the test."""
    servers: list[SynapseServer] = []

    def make(*, default_ratelimits: bool = False) -> SynapseServer:
        server = SynapseServer()
        servers.append(server)
        server.start(
            tmp_path_factory.mktemp("synapse-extra"), default_ratelimits=default_ratelimits
        )
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def new_user(synapse: SynapseServer) -> UserFactory:
    """``new_user(prefix="user", admin=False)`` registers a unique user and returns its dict."""

    def make(
        prefix: str = "user",
        *,
        admin: bool = False,
        password: str = "test-pass",  # noqa: S107
    ) -> dict[str, str]:
        return synapse.register(f"{prefix}-{uuid.uuid4().hex[:10]}", password, admin=admin)

    return make


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A fresh directory for nio stores of this test."""
    path = tmp_path / "stores"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL on 127.0.0.1 run by an unprivileged user, shared by the whole session."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend: the same test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database at the latest schema, of each backend: a bot core's store.

    The same as a fresh database the bot migrated on opening, without paying for the
    migrations in every test: a copy of a migrated SQLite file, or PostgreSQL's one
    migrated database emptied (tests/harness/postgres.py). Tests of the migrations and
    of opening a new database take `database_url`.
    """
    if request.param == "sqlite":
        return f"sqlite:///{new_migrated_sqlite(tmp_path / 'test.db')}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.migrated_database()
