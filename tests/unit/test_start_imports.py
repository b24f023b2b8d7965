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
    assert sorted(loaded & {*NEVER, *ON_FIRST_USE}) == []


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
