"""What an operator watches, read the way Prometheus, an orchestrator and a log shipper do."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import main as cli_main
from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, keyed by (name, labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = float(s.value)
    return out


def value(parsed: dict, name: str, **labels: str) -> float | None:
    return parsed.get((name, frozenset(labels.items())))


async def test_metrics_count_commands_latency_and_sends(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    for _ in range(3):
        _, reply = await command(alice, room, "!ping")
        assert reply.body == "pong"
    _, reply = await command(alice, room, "!nosuchcommand")
    parsed = samples(bot.metrics())

    assert value(parsed, "attache_commands_total", command="ping", outcome="ok") == 3
    assert value(parsed, "attache_commands_total", command="-", outcome="user_error") == 1
    assert value(parsed, "attache_command_seconds_count", command="ping") == 3
    assert 0 < value(parsed, "attache_command_seconds_sum", command="ping") < 3  # type: ignore[operator]
    # Replies are counted once delivered; nothing had to be retried or given up on.
    assert value(parsed, "attache_messages_sent_total") >= 4  # type: ignore[operator]
    giveups = [v for (name, _), v in parsed.items() if name == "attache_send_giveups_total"]
    assert giveups and sum(giveups) == 0  # every {kind, reason}
    assert value(parsed, "attache_decryption_failures_total") == 0
    assert value(parsed, "attache_pending_jobs") == 0
    lag = value(parsed, "attache_sync_lag_seconds")
    assert lag is not None and 0 <= lag < 30
    assert value(parsed, "attache_last_sync_timestamp_seconds") > time.time() - 60  # type: ignore[operator]


async def test_healthz_fails_when_homeserver_is_gone_and_recovers(
    bot_factory, synapse_factory
) -> None:
    """A server of its own: stopping the shared one would disturb every other test."""
    server = synapse_factory()
    bot: BotProcess = bot_factory(
        synapse_server=server, settings={"health_max_sync_age": 5, "sync_timeout_ms": 1000}
    )
    addr = f"127.0.0.1:{bot.http_port}"
    healthy = bot.health()
    assert healthy is not None and healthy["status"] == "ok", healthy
    assert await asyncio.to_thread(cli_main, ["healthcheck", "--addr", addr]) == 0

    await asyncio.to_thread(server.stop)
    deadline = time.monotonic() + 30
    body = bot.health()
    while body is not None and body["status"] == "ok" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        body = bot.health()
    assert body is not None, "the bot's HTTP listener must stay up while Matrix is down"
    assert body["status"] == "fail" and body["failed"] == ["sync"], body
    assert body["checks"]["sync"]["ok"] is False
    assert body["checks"]["sync"]["seconds_since_last"] > 5
    assert body["checks"]["store"]["ok"] is True
    assert await asyncio.to_thread(cli_main, ["healthcheck", "--addr", addr]) == 1
    assert bot.proc is not None and bot.proc.poll() is None, "the bot keeps retrying, not exits"

    await asyncio.to_thread(server._spawn)
    await asyncio.to_thread(bot.wait_healthy, 60)
    assert await asyncio.to_thread(cli_main, ["healthcheck", "--addr", addr]) == 0


async def test_json_logs_parse_and_carry_correlation_ids(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], settings={"log_format": "json"})
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")
    await command(alice, room, "!help canary-word-7f3a")
    assert await bot.astop() == 0

    records = []
    for line in bot.log_text().splitlines():
        if not line.strip() or line.startswith("=== start"):
            continue  # the harness's own separator between runs
        record = json.loads(line)  # every line the bot writes is one JSON object
        assert {"ts", "level", "logger", "corr", "msg"} <= record.keys(), record
        records.append(record)
    handled = [r for r in records if r["msg"].startswith("handled ")]
    assert len(handled) == 2, handled
    corrs = {r["corr"] for r in handled}
    assert len(corrs) == 2 and all(len(c) == 8 and c != "-" for c in corrs)
    # Message bodies never reach the log, at DEBUG level either.
    assert "canary-word-7f3a" not in bot.log_text()
