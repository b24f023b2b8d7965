"""The restore drill of docs/OPERATIONS.md, on real Synapse with real E2EE clients.

Backup (online, the bot running); 20 commands from 3 people, one of whom first talks to
the bot after the backup, an edit of a command and a ✅ reaction that acknowledges a
request; a reminder that was pending in the backup fires; stop; restore; start; 10 more
commands. Each of the 30 commands is answered exactly once, the edit and the reaction are
recognised as answered (neither runs again nor is its sender asked to send it again),
the reminder arrives once, the bot is one fresh device (the superseded one logged out, the new one
cross-signed by the same identity), no client sees an undecryptable message from the bot
after it recovered, and the time to recover is printed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness.bot import REPO, BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm, replied_to
from tests.integration.test_liaison import react_encrypted, thread_of

pytestmark = pytest.mark.integration


def cli(bot: BotProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=bot.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def sees_device(person: TestClient, user_id: str, device_id: str, timeout: float) -> None:
    """Wait until the person's client knows the bot's new device (as Element would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = person.client.device_store
        if device_id in {d.id for d in store.active_user_devices(user_id)}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{person.user_id} never saw device {device_id}")


async def commands(person: TestClient, room: str, bodies: list[str]) -> list[str]:
    sent = []
    for body in bodies:
        event_id, _ = await command(person, room, body, timeout=60)
        sent.append(event_id)
    return sent


def answers(person: TestClient, room: str, bot: BotProcess, event_id: str) -> list[Any]:
    return [
        e for e in person.messages(room) if e.sender == bot.user_id and replied_to(e) == event_id
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_restore_drill_answers_everything_once_and_strands_nobody(
    bot_factory: Any, people: Any, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    alice, bob, carol = [await people(name) for name in ("alice", "bob", "carol")]
    everyone = [alice.user_id, bob.user_id, carol.user_id]
    # Told of an unreadable message after 5 s (not 120): a command the fresh device cannot
    # read and did not recognise as answered would get a second answer within the test.
    settings: dict[str, Any] = {"undecryptable_give_up": 5}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("postgres").new_database("drill")
    bot: BotProcess = bot_factory(allowed_users=everyone, settings=settings)
    rooms = {alice: await open_dm(alice, bot), bob: await open_dm(bob, bot)}
    await command(alice, rooms[alice], "!tz Europe/Paris")
    await command(bob, rooms[bob], "!ping")
    _, scheduled = await command(alice, rooms[alice], "!remind in 20s -- drill reminder")
    assert scheduled.body.startswith("Scheduled R-1"), scheduled.body
    _, asked = await command(alice, rooms[alice], f"!request {bob.user_id} Fuel -- 200 t")
    assert asked.body.startswith("LR-1"), asked.body
    request_root = await bob.wait_for_message(
        rooms[bob], lambda e: e.body.startswith("LR-1 · routine"), timeout=60
    )
    old_device = bot.device_id

    backups = tmp_path / "backups"
    made = cli(bot, "backup", str(backups))  # online: the bot keeps running
    assert made.returncode == 0, made.stderr
    archive = Path(made.stdout.strip())
    assert archive.parent == backups and (archive.stat().st_mode & 0o777) == 0o600

    # After the backup: carol talks to the bot for the first time; 20 commands in all.
    rooms[carol] = await open_dm(carol, bot)
    before = await asyncio.gather(
        commands(
            alice,
            rooms[alice],
            ["!ping", "!tz Asia/Tokyo", "!ping", "!tz", "!ping"] + ["!ping"] * 2,
        ),
        commands(bob, rooms[bob], ["!ping", "!tz America/New_York"] + ["!ping"] * 5),
        commands(carol, rooms[carol], ["!ping", "!tz Europe/Berlin"] + ["!ping"] * 4),
    )
    # An edit and a reaction after the backup: their answers reply to another event (the
    # edited command; the thread of the request), so the restore must recognise them too.
    typo, _ = await command(alice, rooms[alice], "!pnig", timeout=60)
    edit = await alice.send_edit(rooms[alice], typo, "!ping")
    await alice.wait_for_message(
        rooms[alice], lambda e: replied_to(e) == typo and e.body == "pong", timeout=60
    )
    reaction = await react_encrypted(bob, rooms[bob], request_root.event_id)
    acked = "LR-1 acknowledged by your ✅"
    await bob.wait_for_message(
        rooms[bob],
        lambda e: thread_of(e) == request_root.event_id and acked in e.body,
        timeout=60,
    )
    await alice.wait_for_message(rooms[alice], lambda e: "Reminder R-1" in e.body, timeout=90)
    assert sum(len(b) for b in before) == 20

    assert await bot.astop() == 0
    refused_live = None  # restore is refused while a bot holds the data dir
    bot.start()
    refused_live = cli(bot, "restore", str(archive))
    assert refused_live.returncode == 2 and "refused" in refused_live.stderr
    assert len(refused_live.stderr.strip().splitlines()) == 1, refused_live.stderr
    assert await bot.astop() == 0
    restored = cli(bot, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr

    started = time.monotonic()
    await bot.astart(timeout=120)
    new_device = bot.device_id
    assert new_device and new_device != old_device
    for person in (alice, bob, carol):
        await sees_device(person, bot.user_id, new_device, timeout=60)
    after: list[list[str]] = [[], [], []]
    first = await asyncio.gather(
        commands(alice, rooms[alice], ["!ping"]),
        commands(bob, rooms[bob], ["!ping"]),
        commands(carol, rooms[carol], ["!ping"]),
    )
    recovered = time.monotonic() - started
    print(
        f"\nrestore drill ({backend}): time to recover (start -> all 3 answered) {recovered:.1f} s"
    )
    rest = await asyncio.gather(
        commands(alice, rooms[alice], ["!tz", "!ping"]),
        commands(bob, rooms[bob], ["!ping", "!tz"]),
        commands(carol, rooms[carol], ["!ping", "!ping", "!tz"]),
    )
    after = [f + r for f, r in zip(first, rest, strict=True)]
    assert sum(len(a) for a in after) == 10
    # The restored state is the backup's: alice's zone is Paris again, Tokyo was undone.
    _, tz = await command(alice, rooms[alice], "!tz", timeout=60)
    assert "Europe/Paris" in tz.body, tz.body
    await asyncio.sleep(8)  # give duplicates (a re-run, a second reminder) time to show

    for person, sent in zip(
        (alice, bob, carol), [b + a for b, a in zip(before, after, strict=True)], strict=True
    ):
        for event_id in sent:
            got = answers(person, rooms[person], bot, event_id)
            assert len(got) == 1, (person.user_id, event_id, [e.body for e in got])
    # The edit ran once (its answer replies to the command it edits) and the ✅ once; nobody
    # is told that either could not be read.
    edited = [e.body for e in answers(alice, rooms[alice], bot, typo)]
    assert len(edited) == 2 and edited[1] == "pong", edited
    assert not answers(alice, rooms[alice], bot, edit)
    assert not answers(bob, rooms[bob], bot, reaction)
    assert len([e for e in bob.messages(rooms[bob]) if acked in e.body]) == 1
    for person in (alice, bob, carol):
        unread = [
            e.body
            for e in person.messages(rooms[person])
            if e.sender == bot.user_id and e.body.startswith("I could not decrypt")
        ]
        assert not unread, (person.user_id, unread)
    for person in (alice, bob, carol):  # told once, in their room, what the restore undid
        told = [
            e
            for e in person.messages(rooms[person])
            if e.sender == bot.user_id and e.body.startswith("I was restored from a backup")
        ]
        assert len(told) == 1, (person.user_id, [e.body for e in told])
    reminders = [
        e
        for e in alice.messages(rooms[alice])
        if e.sender == bot.user_id and "Reminder R-1" in e.body
    ]
    assert len(reminders) == 1, [e.body for e in reminders]  # fired before the restore only
    restart_ms = (time.time() - (time.monotonic() - started)) * 1000
    for person in (alice, bob, carol):
        unreadable = [
            e
            for room, e in person.undecryptable
            if e.sender == bot.user_id and e.server_timestamp >= restart_ms
        ]
        assert not unreadable, (person.user_id, len(unreadable))
    status, devices = bot.synapse.request(
        "GET", f"/_synapse/admin/v2/users/{bot.user_id}/devices", token=bot.synapse.admin_token
    )
    assert status == 200, devices
    assert [d["device_id"] for d in devices["devices"]] == [new_device]  # the old one is gone
    health = bot.health() or {}
    assert health.get("checks", {}).get("cross_signing", {}).get("device_signed"), health
    log = bot.log_text()
    assert "restore: recovered in" in log
    line = next(x for x in log.splitlines() if "restore: recovered in" in x)
    print(f"restore drill ({backend}): {line.split('restore: ', 1)[1]}")
