"""The calendar export's library is imported after the first sync, in a thread, not on a
person's first `!ics` (issue 25: hostile.py's worst message), and still not at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_loading_the_bot_still_does_not_import_icalendar() -> None:
    _run("import sys, bot.app; assert 'icalendar' not in sys.modules")


def test_warming_imports_icalendar_and_makes_the_bots_zone_once() -> None:
    _run(
        "import sys, asyncio\n"
        "from bot.warmup import warm_in_thread\n"
        "from commands import ics\n"
        "assert 'icalendar' not in sys.modules\n"
        "asyncio.run(warm_in_thread('Europe/Paris'))\n"
        "assert 'icalendar' in sys.modules\n"
        "assert ics._vtimezone.cache_info().currsize == 1\n"
        "before = set(sys.modules)\n"
        "from datetime import datetime, UTC\n"
        "start = datetime(2026, 3, 2, 9, tzinfo=UTC)\n"
        "ev = ics.IcsEvent('u', 'M-1', 'x', start, None, 'Europe/Paris', '', None, (), start)\n"
        "assert b'BEGIN:VTIMEZONE' in ics.calendar([ev])\n"
        "assert set(sys.modules) == before, set(sys.modules) - before  # nothing left to import\n"
        "assert ics._vtimezone.cache_info().hits >= 1\n"
    )


def test_a_failed_warm_up_is_logged_and_changes_nothing() -> None:
    _run(
        "import asyncio, logging\n"
        "from bot.warmup import warm_in_thread\n"
        "seen = []\n"
        "logging.getLogger('bot.warmup').addHandler(type('H', (logging.Handler,), "
        "{'emit': lambda self, r: seen.append(r.levelname)})())\n"
        "asyncio.run(warm_in_thread('No/Such_Zone'))\n"
        "assert seen == ['ERROR'], seen\n"
    )


def test_the_app_warms_once_it_is_healthy() -> None:
    """After the first sync (health, outbox, scheduler), never before."""
    source = (ROOT / "bot" / "app.py").read_text()
    body = source.split("def _first_sync_then_health", 1)[1].split("\n    def ", 1)[0]
    assert "warm_in_thread(" in body and body.index("health.synced()") < body.index("warm_in")
