"""Split brain: the active instance is paused (SIGSTOP) past its lease, the standby takes
over and answers, then the paused one resumes (SIGCONT). It must notice that it lost the
lease and send nothing: on the server (admin API, what the homeserver really stored) each
command has exactly one reply from the bot, and the resumed process stops.
"""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.harness.postgres import PostgresServer
from tests.harness.synapse import SynapseServer
from tests.integration.conftest import command, open_dm, replied_to
from tests.reliability.test_failover import wait_active, wait_role

pytestmark = pytest.mark.integration


def stored_bot_events(synapse: SynapseServer, room_id: str, bot_id: str) -> list[dict[str, Any]]:
    """Every event the bot sent to the room, as the homeserver stored it."""
    path = f"/_synapse/admin/v1/rooms/{urllib.parse.quote(room_id)}/messages?dir=f&limit=1000"
    status, body = synapse.request("GET", path, token=synapse.admin_token)
    assert status == 200, body
    return [e for e in body["chunk"] if e["sender"] == bot_id and e["type"] == "m.room.encrypted"]


async def test_a_paused_active_instance_resumes_and_sends_nothing(
    bot_factory: Any,
    people: Any,
    postgres: PostgresServer,
    synapse: SynapseServer,
    tmp_path: Path,
) -> None:
    alice = await people("split")
    first: BotProcess = bot_factory(
        allowed_users=[alice.user_id],
        settings={"database_url": postgres.new_database("split"), "failover_seconds": 6},
        start=False,
    )
    first.start(timeout=90)
    second = first.replica(tmp_path / "replica")
    second.launch()
    try:
        await wait_role(second, "standby")
        room = await open_dm(alice, first, timeout=40)
        before, _ = await command(alice, room, "!tz Europe/Paris")
        assert first.proc is not None
        # A command arrives just before the pause: the paused one may hold it mid-sync.
        pending = await alice.send_text(room, "!tz Europe/Berlin")
        first.proc.send_signal(signal.SIGSTOP)
        paused = time.monotonic()
        took = await wait_active(second, 60)
        during, _ = await command(alice, room, "!tz Europe/Rome", timeout=60)
        first.proc.send_signal(signal.SIGCONT)
        resumed_after = time.monotonic() - paused
        # The resumed one notices at its first write or renewal and stops (exit code 1).
        code = await asyncio.to_thread(first.proc.wait, 30)
        assert code == 1, first.log_tail()
        assert "lease: lost" in first.log_text()
        await alice.wait_for_message(room, lambda e: replied_to(e) == pending, timeout=60)
        await asyncio.sleep(5)  # a duplicate would be stored by now

        sent = stored_bot_events(synapse, room, first.user_id)
        replies = [
            (e["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id")
            for e in sent
        ]
        for eid in (before, pending, during):
            assert replies.count(eid) == 1, (eid, replies)
        seen = [replied_to(e) for e in alice.messages(room, from_others=True)]
        for eid in (before, pending, during):
            assert seen.count(eid) == 1
        assert not alice.undecryptable
        print(f"\nFIGURES split-brain takeover {took:.1f} s, resumed after {resumed_after:.1f} s")
    finally:
        if first.proc is not None and first.proc.poll() is None:
            first.proc.send_signal(signal.SIGCONT)
        second.close()
