"""One active instance on a shared PostgreSQL: a lease row with a fencing token.

The active instance holds row `attache_lease('bot')` until `expires_at` (database time, so
the hosts' clocks do not matter) and renews it every `ttl / 3`. A standby tries to take it
every `poll` seconds; it succeeds only once the row has expired, and the takeover adds one
to `token`.

Fencing, so two instances never both act:
- every write transaction of the store first checks, under `FOR SHARE`, that this instance
  still holds the row with its token and that it has not expired (`fence`): a paused
  instance that wakes after a takeover cannot commit anything, and a takeover waits for a
  write transaction in flight to finish;
- before each send the transport asks `valid()`: a purely local check that the last
  successful renewal is younger than the lease minus a margin. After a pause past the
  lease it is false at once, before any round trip, so nothing is sent.
When a renewal finds the lease gone (or cannot reach the database before the lease would
expire) `on_lost` runs: the app stops, and a supervisor restarts it as a standby.

Takeover bound: the row expires at most `ttl` after the holder's death and a standby polls
every `poll`, so takeover is within `ttl + poll` (defaults: 10 + 2.5 s for a 15 s setting).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bot.store import pgconn
from bot.store.pgconn import PgConnection
from bot.store.postgres import FencedOff

log = logging.getLogger(__name__)

LEASE_NAME = "bot"
MARGIN = 0.2  # of the lease: stop sending this long before the row would expire


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    url: str
    failover_seconds: float = 15.0
    holder: str = field(default_factory=new_holder)
    on_lost: Callable[[], None] | None = None
    token: int | None = None
    _renewed_at: float | None = None  # monotonic time of the last successful acquire/renew
    _conn: psycopg.AsyncConnection[Any] | None = field(default=None, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def ttl(self) -> float:
        return self.failover_seconds * 2 / 3

    @property
    def poll(self) -> float:
        return self.failover_seconds / 6

    async def _db(self) -> PgConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await pgconn.connect(self.url, timeout=self.poll)
        return PgConnection(self._conn)

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it or it expired; True if this instance holds it."""
        started = time.monotonic()
        db = await self._db()
        token = await db.fetchval(
            "INSERT INTO attache_lease (name, holder, token, expires_at) "
            "VALUES (?, ?, 1, now() + make_interval(secs => ?)) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
            "token = attache_lease.token + 1, acquired_at = now(), "
            "expires_at = EXCLUDED.expires_at WHERE attache_lease.expires_at < now() "
            "RETURNING token",
            (LEASE_NAME, self.holder, self.ttl),
        )
        if token is None:
            return False
        self.token = int(token)
        self._renewed_at = started
        log.info("lease: acquired (token %d); this instance is active", self.token)
        return True

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Wait as a standby until the lease is ours (True) or `stop` is set (False)."""
        said = False
        while stop is None or not stop.is_set():
            try:
                if await self.try_acquire():
                    return True
            except (OSError, psycopg.Error) as exc:
                log.warning("lease: cannot reach the database (%s)", type(exc).__name__)
            if not said:
                log.info("lease: another instance is active; standing by")
                said = True
            try:
                if stop is None:
                    await asyncio.sleep(self.poll)
                else:
                    await asyncio.wait_for(stop.wait(), self.poll)
            except TimeoutError:
                pass
        return False

    async def renew(self) -> bool:
        """Extend the lease; False if it is no longer ours."""
        if self.token is None:
            return False
        started = time.monotonic()
        db = await self._db()
        token = await db.fetchval(
            "UPDATE attache_lease SET expires_at = now() + make_interval(secs => ?) "
            "WHERE name = ? AND holder = ? AND token = ? AND expires_at > now() "
            "RETURNING token",
            (self.ttl, LEASE_NAME, self.holder, self.token),
        )
        if token is None:
            return False
        self._renewed_at = started
        return True

    def valid(self) -> bool:
        """Locally: may this instance still act (send)? No round trip."""
        if self.token is None or self._renewed_at is None:
            return False
        return time.monotonic() - self._renewed_at < self.ttl * (1 - MARGIN)

    def start_renewing(self) -> None:
        self._task = asyncio.create_task(self._renew_loop(), name="lease")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                ok = await asyncio.wait_for(self.renew(), self.ttl / 3)
            except (OSError, TimeoutError, psycopg.Error) as exc:
                log.warning("lease: renewal failed (%s)", type(exc).__name__)
                if self._conn is not None:
                    self._conn.pgconn.finish()  # drop it at once; the next try reconnects
                ok = self.valid()  # keep trying while the lease has not run out
                if ok:
                    continue
            if not ok:
                self._lost()
                return

    def _lost(self) -> None:
        log.error("lease: lost (token %s); this instance stops acting now", self.token)
        self.token = None
        self._renewed_at = None
        if self.on_lost is not None:
            self.on_lost()

    async def fence(self, db: PgConnection) -> None:
        """Run first in every write transaction: refuse unless the lease is still ours.

        FOR SHARE holds the row until this transaction ends, so a takeover (an UPDATE of
        the row) waits for it: no write of the old holder commits after a takeover.
        """
        token = self.token
        if token is None:
            raise FencedOff("this instance does not hold the lease")
        rows = await db.execute_fetchall(
            "SELECT token FROM attache_lease WHERE name = ? AND holder = ? AND token = ? "
            "AND expires_at > now() FOR SHARE",
            (LEASE_NAME, self.holder, token),
        )
        if not rows:
            self._lost()
            raise FencedOff("the lease was lost; nothing is written")

    async def release(self) -> None:
        """On a clean stop: expire the lease now, so a standby takes over at its next poll."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.token is not None:
            try:
                db = await self._db()
                await db.execute(
                    "UPDATE attache_lease SET expires_at = now() "
                    "WHERE name = ? AND holder = ? AND token = ?",
                    (LEASE_NAME, self.holder, self.token),
                )
            except (OSError, psycopg.Error):
                log.warning("lease: could not release; a standby waits for it to expire")
            self.token = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
