"""What `attache-bot run` loads on SQLite before any command asks for more (issue 25: RSS
after start). Each module here is a few MiB that a bot which never needs it should not
carry: the test imports the bot as `run` does, opens a SQLite store, and reads sys.modules.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys

import pytest

from bot import cli
from tests.harness.bot import REPO

# Not the bot's at all since issue 25: cryptography (7-8 MiB) only for the test harness's
# certificates; cffi and pycparser (1.8 MiB) are hidden from pycryptodome, which then uses
# ctypes (bot/pycryptodome_backend.py).
NEVER = ("cryptography", "cffi", "pycparser")
# Loaded on first use: date phrases, ICS export; restoring a backup (`attache-bot restore`).
ON_FIRST_USE = ("dateparser", "icalendar", "bot.restore", "bot.archive", "tarfile")
# nio's blocking HttpClient's libraries: names bound, code not run (bot/blocking_transport.py)
# until an attribute is read; hpack and hyperframe come with h2.connection's real code.
DEFERRED_UNTIL_USED = ("h11._connection", "h2.config", "hpack", "hyperframe")


def _loaded_after_start(tmp_path: object) -> set[str]:
    probe = (
        "import sys\n"
        "import bot.cli, bot.app\n"
        "from bot.store import open_store\n"
        f"open_store('sqlite:///{tmp_path}/x.db')\n"
        "print(' '.join(sorted({*sys.modules, *(m.split('.')[0] for m in sys.modules)})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_a_sqlite_start_imports_no_unneeded_library(tmp_path: object) -> None:
    loaded = _loaded_after_start(tmp_path)
    assert "nio" in loaded and "bot" in loaded, "the probe imported the bot"
    assert sorted(loaded & {*NEVER, *ON_FIRST_USE, *DEFERRED_UNTIL_USED}) == []


def test_the_deferred_transport_libraries_work_when_used() -> None:
    """What a deferred module stands in for is the real module once read: nio's blocking
    client builds both its HTTP/2 and HTTP/1.1 connections (in that order: the first reads
    `h2.config`, which only running `h2.connection` defines), and `import h11` after that is
    the same module object."""
    probe = (
        "import sys\n"
        "import bot.cli, bot.app\n"
        "from nio.http import HttpConnection, Http2Connection\n"
        "import h11, h2.connection, h2.events\n"
        "assert 'h11._connection' not in sys.modules\n"
        "two = Http2Connection()._connection\n"  # reads h2.config: only h2.connection makes it
        "one = HttpConnection()._connection\n"
        "import h11 as again\n"
        "assert again is h11 and type(h11) is type(sys)\n"
        "assert isinstance(one, h11.Connection) and one.our_role is h11.CLIENT\n"
        "assert isinstance(two, h2.connection.H2Connection)\n"
        "assert issubclass(h2.events.ResponseReceived, h2.events.Event)\n"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["ok"]


def test_the_collector_runs_rarely_during_start_up_not_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the collector off, the cycles imports leave are freed all at once at the end and
    their half-empty pages stay resident (1.2 MiB, docs/BENCHMARKS.md)."""
    seen: list[tuple[bool, int]] = []

    def command(args: argparse.Namespace) -> int:
        seen.append((gc.isenabled(), gc.get_threshold()[0]))
        return 0

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=command)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    before = gc.get_threshold()
    assert cli.main([]) == 0
    assert seen == [(True, cli.START_UP_GC_THRESHOLD)]
    assert gc.get_threshold() == before
