"""GET /healthz (sync fresh, store answers, device cross-signed) and GET /metrics.

/healthz is what an orchestrator restarts on, so it answers 503 only for states a restart
can plausibly fix or an operator must see: no completed sync for `health_max_sync_age`
seconds, a store that does not answer, a device that lost its cross-signature. The JSON
body names the failed checks so the operator need not guess.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from aiohttp import web

from bot.clock import Clock
from bot.metrics import Metrics
from bot.store import Store
from commands.context import parse_utc

log = logging.getLogger(__name__)

T = TypeVar("T")

# A check that hangs (a locked disk, a stuck homeserver request) counts as failed, and the
# whole answer stays well inside a container HEALTHCHECK timeout.
CHECK_TIMEOUT = 3.0


@dataclass
class Health:
    store: Store
    metrics: Metrics
    clock: Clock
    max_sync_age: float
    last_sync: float | None = None
    cross_signed: Callable[[], Awaitable[bool | None]] | None = None
    # On PostgreSQL, "active" or "standby" (bot/lease.py); None for a single instance.
    role: str | None = None
    _runner: web.AppRunner | None = field(default=None, repr=False)

    def synced(self) -> None:
        self.last_sync = self.clock.monotonic()
        self.metrics.last_sync.set(self.clock.now().timestamp())

    async def checks(self) -> dict[str, dict[str, object]]:
        age = None if self.last_sync is None else self.clock.monotonic() - self.last_sync
        if age is not None:
            self.metrics.sync_lag.set(age)
        result: dict[str, dict[str, object]] = {
            "sync": {
                "ok": age is not None and age <= self.max_sync_age,
                "seconds_since_last": None if age is None else round(age, 1),
                "max_seconds": self.max_sync_age,
            },
            "store": {"ok": bool(await _bounded(self.store.ping(), False))},
        }
        if self.cross_signed is not None:
            signed = await _bounded(self.cross_signed(), None)
            result["cross_signing"] = {"ok": bool(signed), "device_signed": signed}
        for name, check in result.items():
            self.metrics.health_check.labels(name).set(1 if check["ok"] else 0)
        oldest = await _bounded(oldest_pending(self.store), None)
        if oldest is not None:
            age = (self.clock.now() - oldest).total_seconds() if oldest else 0.0
            self.metrics.outbox_oldest.set(max(age, 0.0))
        return result

    def set_role(self, role: str) -> None:
        self.role = role
        self.metrics.active.set(1 if role == "active" else 0)

    async def report(self) -> tuple[bool, dict[str, object]]:
        """(healthy, JSON body): `failed` lists the names of the checks that did not pass.

        A standby neither syncs nor signs: only its store is checked, and it answers 200 so
        an orchestrator keeps it running, with `"role": "standby"` to tell it apart.
        """
        checks: dict[str, dict[str, object]]
        if self.role == "standby":
            checks = {"store": {"ok": bool(await _bounded(self.store.ping(), False))}}
        else:
            checks = await self.checks()
        failed = [name for name, check in checks.items() if not check["ok"]]
        body: dict[str, object] = {
            "status": "fail" if failed else "ok",
            "failed": failed,
            "checks": checks,
        }
        if self.role is not None:
            body["role"] = self.role
        return not failed, body

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = await self.report()
        return web.Response(
            status=200 if ok else 503, text=json.dumps(body), content_type="application/json"
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        await self.checks()  # refresh the derived gauges
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    async def start(self, addr: str) -> None:
        host, _, port = addr.rpartition(":")
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host.strip("[]"), int(port)).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _bounded(check: Awaitable[T], failed: T) -> T:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT)
    except Exception:
        log.warning("health check failed or timed out", exc_info=True)
        return failed


async def oldest_pending(store: Store) -> datetime | Literal[False]:
    """When the oldest message still waiting to be sent was queued; False if none waits."""
    async with store.reader.execute(
        "SELECT MIN(created_at) FROM outbox WHERE state = 'pending'"
    ) as cur:
        row = await cur.fetchone()
    return parse_utc(row[0]) if row and row[0] else False


def probe_address(http_addr: str) -> str:
    """Where a local probe connects for a listener on `http_addr`.

    The image listens on 0.0.0.0 (or [::]) so /metrics can be scraped from outside the
    container; a probe inside it must connect to loopback instead of the wildcard.
    """
    host, _, port = http_addr.rpartition(":")
    if host in ("0.0.0.0", "", "*"):  # noqa: S104 - a listener's wildcard, not a bind
        host = "127.0.0.1"
    elif host in ("[::]", "::"):
        host = "[::1]"
    return f"{host}:{port}"
