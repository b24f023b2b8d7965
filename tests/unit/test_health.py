"""/healthz and /metrics over real HTTP, on a real store with a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import health as health_mod
from bot.cli import main as cli_main
from bot.health import Health, probe_address
from bot.metrics import Metrics
from bot.store import Store
from tests.harness.fakes import FakeClock
from tests.harness.synapse import free_port


@pytest.fixture
async def served(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[Health, str]]:
    store = Store(tmp_path / "health.db")
    await store.open()
    health = Health(store, Metrics(), clock, max_sync_age=60)
    addr = f"127.0.0.1:{free_port()}"
    await health.start(addr)
    try:
        yield health, addr
    finally:
        await health.stop()
        await store.close()


async def get(addr: str, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://{addr}{path}") as resp:
        return resp.status, await resp.text()


async def test_unhealthy_until_first_sync_then_healthy(served, clock: FakeClock) -> None:
    health, addr = served
    status, text = await get(addr, "/healthz")
    body = json.loads(text)
    assert status == 503
    assert body["status"] == "fail" and body["failed"] == ["sync"]
    assert body["checks"]["sync"]["seconds_since_last"] is None
    assert body["checks"]["store"]["ok"] is True

    health.synced()
    clock.advance(seconds=59)
    status, text = await get(addr, "/healthz")
    assert status == 200
    assert json.loads(text) == {
        "status": "ok",
        "failed": [],
        "checks": {
            "sync": {"ok": True, "seconds_since_last": 59.0, "max_seconds": 60},
            "store": {"ok": True},
        },
    }


async def test_stale_sync_fails_and_names_the_check(served, clock: FakeClock) -> None:
    health, addr = served
    health.synced()
    clock.advance(seconds=61)
    status, text = await get(addr, "/healthz")
    body = json.loads(text)
    assert status == 503
    assert body["failed"] == ["sync"]
    assert body["checks"]["sync"] == {"ok": False, "seconds_since_last": 61.0, "max_seconds": 60}
    # The lag is visible to Prometheus as well.
    _, metrics = await get(addr, "/metrics")
    lag = _sample(metrics, "attache_sync_lag_seconds")
    assert lag == 61.0


async def test_store_that_does_not_answer_fails(served) -> None:
    health, addr = served
    health.synced()
    await health.store.close()
    status, text = await get(addr, "/healthz")
    assert status == 503
    assert json.loads(text)["failed"] == ["store"]
    await health.store.open()  # so the fixture can close it


async def test_cross_signing_check(served, monkeypatch: pytest.MonkeyPatch) -> None:
    health, addr = served
    health.synced()
    state: dict[str, bool | None] = {"signed": True}

    async def signed() -> bool | None:
        return state["signed"]

    health.cross_signed = signed
    status, text = await get(addr, "/healthz")
    assert status == 200
    assert json.loads(text)["checks"]["cross_signing"] == {"ok": True, "device_signed": True}
    state["signed"] = False
    status, text = await get(addr, "/healthz")
    assert status == 503 and json.loads(text)["failed"] == ["cross_signing"]

    async def hangs() -> bool | None:
        await asyncio.sleep(30)
        return True

    monkeypatch.setattr(health_mod, "CHECK_TIMEOUT", 0.2)
    health.cross_signed = hangs
    status, text = await get(addr, "/healthz")
    body = json.loads(text)
    assert status == 503 and body["failed"] == ["cross_signing"]
    assert body["checks"]["cross_signing"]["device_signed"] is None


async def test_healthcheck_command_exit_codes(served, clock: FakeClock, capsys) -> None:
    health, addr = served
    run = lambda: asyncio.to_thread(cli_main, ["healthcheck", "--addr", addr])  # noqa: E731
    assert await run() == 1
    health.synced()
    assert await run() == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "ok"
    clock.advance(seconds=120)
    assert await run() == 1
    nobody = f"127.0.0.1:{free_port()}"
    assert await asyncio.to_thread(cli_main, ["healthcheck", "--addr", nobody]) == 1
    assert "unreachable" in capsys.readouterr().err


def test_probe_address_maps_wildcards_to_loopback() -> None:
    assert probe_address("0.0.0.0:9100") == "127.0.0.1:9100"
    assert probe_address("[::]:9100") == "[::1]:9100"
    assert probe_address("10.1.2.3:9100") == "10.1.2.3:9100"
    assert probe_address("127.0.0.1:8080") == "127.0.0.1:8080"


def _sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
