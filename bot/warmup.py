"""Libraries a person's first use of a feature would otherwise import on their message:
imported once the bot is healthy, in a thread, so that no message pays for them.

The import is kept out of start-up, and start-up memory, as before (commands/ics.py imports
icalendar lazily): it only moves from the first `!ics` to just after the first sync
(issue 25: the first export cost ~100 ms of CPU, ~30–40 of it icalendar's import; the
target is 100 ms per message). A message that needs the library while this runs waits on
Python's import lock in its own thread (the file is made in one), never on the loop.
dateparser is not warmed: its import and a language's data are ~6 MiB (docs/BENCHMARKS.md)
that many deployments never use.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def warm(zone: str) -> None:
    from commands import ics

    ics.warm(zone)


async def warm_in_thread(zone: str) -> None:
    """`warm` off the event loop; a failure is logged and changes nothing (the first use
    then imports as it always did)."""
    try:
        await asyncio.to_thread(warm, zone)
    except Exception:
        log.exception("warming the calendar export failed; the first !ics imports it")
