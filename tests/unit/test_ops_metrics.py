"""What /metrics exports for operators (issue 23, findings 4 and 5): the standard process
and Python series, attache_build_info, no `_created` series, and the gauges the alert
rules in deploy/prometheus/alerts.yml need (outbox age, health checks, late jobs)."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import main
from bot.health import Health
from bot.metrics import Metrics
from bot.scheduler import Scheduler
from bot.version import commit
from tests.harness.fakes import BotCore, FakeClock


def samples(metrics: Metrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_standard_process_and_python_series_and_build_info() -> None:
    got = samples(Metrics())
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_collections_total",
    ):
        assert name in got, name
    [(labels, value)] = got["attache_build_info"]
    assert labels == {"version": dist_version("attache-bot"), "commit": commit()}
    assert value == 1
    assert len(commit()) == 40  # this checkout's HEAD, from git


def test_no_created_series() -> None:
    metrics = Metrics()
    metrics.commands.labels("ping", "ok").inc()
    metrics.messages_sent.inc()
    metrics.command_seconds.labels("ping").observe(0.01)
    names = set(samples(metrics))
    assert "attache_commands_total" in names
    assert not [n for n in names if n.endswith("_created")]


def test_version_flag_prints_version_and_commit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == (
        f"attache-bot {dist_version('attache-bot')} (commit {commit()[:12]})\n"
    )


async def test_outbox_age_and_health_check_gauges(tmp_path: Path, clock: FakeClock) -> None:
    core = await BotCore(tmp_path, clock).open()
    try:
        health = Health(core.store, core.metrics, clock, max_sync_age=60)
        await health.checks()
        got = samples(core.metrics)
        assert got["attache_outbox_oldest_pending_seconds"] == [({}, 0.0)]
        assert ({"check": "store"}, 1.0) in got["attache_health_check"]
        assert ({"check": "sync"}, 0.0) in got["attache_health_check"]  # never synced

        await core.say("@alice:test", "!ping")  # a reply waits in the outbox
        clock.advance(seconds=90)
        health.synced()
        await health.checks()
        got = samples(core.metrics)
        assert got["attache_outbox_oldest_pending_seconds"] == [({}, 90.0)]
        assert ({"check": "sync"}, 1.0) in got["attache_health_check"]
    finally:
        await core.close()


async def test_a_job_fired_late_is_observed_with_its_delay(
    tmp_path: Path, clock: FakeClock
) -> None:
    core = await BotCore(tmp_path, clock).open()
    try:
        scheduler = Scheduler(core.store, core.dispatcher, clock, core.metrics)
        await scheduler._fire(12345, due=clock.now() - timedelta(seconds=90))
        buckets = dict(
            (labels["le"], value)
            for labels, value in samples(core.metrics)["attache_job_delay_seconds_bucket"]
        )
        assert buckets["60.0"] == 0 and buckets["300.0"] == 1
    finally:
        await core.close()
