"""Joining rooms across federation, and reading who is really in them.

A join to a room on another server can fail for a moment and then work: that server
answers `make_join` with 403 for a few milliseconds after it sent the invite, and a busy
or restarting server answers 5xx or not at all. Such joins are retried with backoff
(bounded, in the background: the sync loop waits only for the first attempt). A permanent refusal
(the invite was withdrawn, the room is gone) is not retried beyond the budget.

Who is in a room is asked of the server (bot/room_members.py), not read from a
lazy-loaded sync: after a remote (partial-state) join, the first syncs show only the bot's
own membership. Reading it waits at most STATE_TIMEOUT seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nio import AsyncClient, JoinError, JoinResponse

log = logging.getLogger(__name__)

# Pauses between join attempts (seconds), and the bot's own limit on each attempt.
JOIN_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
JOIN_TIMEOUT = 20.0
# The first attempt runs in the sync loop: it must not hold it up for long.
FIRST_JOIN_TIMEOUT = 5.0
STATE_TIMEOUT = 10.0
# errcodes worth another try: the inviting server not ready yet, overload, gateway errors.
TRANSIENT_ERRCODES = frozenset({"M_FORBIDDEN", "M_LIMIT_EXCEEDED", "M_UNKNOWN"})


def transient(resp: object) -> bool:
    """A failed join (None: no answer in time) another attempt may turn into a success."""
    if resp is None:
        return True
    if not isinstance(resp, JoinError):
        return False
    status = getattr(getattr(resp, "transport_response", None), "status", None)
    if isinstance(status, int) and status >= 500:
        return True
    return resp.status_code is None or resp.status_code in TRANSIENT_ERRCODES


async def join_once(
    client: AsyncClient, room_id: str, timeout: float = FIRST_JOIN_TIMEOUT
) -> JoinResponse | JoinError | None:
    """One join attempt within ``timeout`` seconds (None: no answer in time)."""
    try:
        return await asyncio.wait_for(client.join(room_id), timeout)
    except (TimeoutError, OSError) as exc:
        log.info("join %s failed: %s", room_id, type(exc).__name__)
        return None


async def join_with_retry(
    client: AsyncClient,
    room_id: str,
    *,
    delays: tuple[float, ...] = JOIN_DELAYS,
    timeout: float = JOIN_TIMEOUT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> JoinResponse | JoinError | None:
    """After a first attempt failed transiently: retry after each delay while the failure
    is transient; the last answer (None: timed out)."""
    resp: JoinResponse | JoinError | None = None
    for attempt, delay in enumerate(delays, 1):
        await sleep(delay)
        resp = await join_once(client, room_id, timeout)
        if not transient(resp):
            if not isinstance(resp, JoinError):
                log.info("joined %s after %d retries", room_id, attempt)
            return resp
    return resp
