"""/healthz and /metrics of a standby: 200, role standby, not syncing is not a failure."""

from __future__ import annotations

import json
from pathlib import Path

from bot.health import Health
from bot.metrics import Metrics
from bot.store import Store
from tests.harness.fakes import FakeClock
from tests.harness.synapse import free_port
from tests.unit.test_health import get


async def test_standby_is_healthy_without_sync_and_says_its_role(
    tmp_path: Path, clock: FakeClock
) -> None:
    store = Store(tmp_path / "health.db")
    await store.open()
    metrics = Metrics()
    health = Health(store, metrics, clock, max_sync_age=60)
    health.set_role("standby")
    addr = f"127.0.0.1:{free_port()}"
    await health.start(addr)
    try:
        status, text = await get(addr, "/healthz")
        assert status == 200
        assert json.loads(text) == {
            "status": "ok",
            "failed": [],
            "checks": {"store": {"ok": True}},
            "role": "standby",
        }
        _, text = await get(addr, "/metrics")
        assert "attache_active 0.0" in text
        health.set_role("active")  # took over: now the sync must be fresh like any bot's
        status, text = await get(addr, "/healthz")
        assert status == 503 and json.loads(text)["role"] == "active"
        assert json.loads(text)["failed"] == ["sync"]
        _, text = await get(addr, "/metrics")
        assert "attache_active 1.0" in text
    finally:
        await health.stop()
        await store.close()
