"""GET /healthz (sync fresh, store answers, device cross-signed) and GET /metrics."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.clock import Clock
from bot.metrics import Metrics
from bot.store import Store


@dataclass
class Health:
    store: Store
    metrics: Metrics
    clock: Clock
    max_sync_age: float
    last_sync: float | None = None
    cross_signed: Callable[[], Awaitable[bool | None]] | None = None
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
            },
            "store": {"ok": await self.store.ping()},
        }
        if self.cross_signed is not None:
            signed = await self.cross_signed()
            result["cross_signing"] = {"ok": bool(signed), "device_signed": signed}
        return result

    async def _healthz(self, request: web.Request) -> web.Response:
        checks = await self.checks()
        ok = all(bool(c["ok"]) for c in checks.values())
        body = {"status": "ok" if ok else "fail", "checks": checks}
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
