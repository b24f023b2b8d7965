"""Interactive verification (SAS emoji) between the real bot and Element's crypto stack
(matrix-js-sdk + crypto-wasm), compared out of band by a verified admin (a nio client)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from nio import KeyVerificationCancel, ToDeviceMessage

from bot.verification.emoji import EMOJI
from tests.harness.bot import REPO, BotProcess
from tests.harness.clients import TestClient
from tests.harness.verifying import ElementVerifier
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import react_encrypted

pytestmark = pytest.mark.integration

ASKED = re.compile(r"^(VF-\d+): compare with (.+?) by phone or in person", re.MULTILINE)


def store(bot: BotProcess) -> sqlite3.Connection:
    return sqlite3.connect(bot.data_dir / "attache.db", timeout=30)


def seed_verified_admin(bot: BotProcess, admin: TestClient) -> None:
    """What the operator's console bootstrap leaves: the admin's pinned key verified."""
    with store(bot) as db:
        changed = db.execute(
            "UPDATE identities SET verified_key = master_key, verified_by = 'console', "
            "verified_at = '2026-12-01T00:00:00+00:00', verified_how = 'console' "
            "WHERE user_id = ? AND master_key = ?",
            (admin.user_id, admin.master_key),
        ).rowcount
    assert changed == 1


def verified_row(bot: BotProcess, user_id: str) -> tuple[Any, ...] | None:
    rows = bot.query(
        "SELECT verified_key, verified_by, verified_how FROM identities WHERE user_id = ?",
        user_id,
    )
    return rows[0] if rows else None


async def admin_with_dm(
    people: Any, bot_factory: Any, person: str
) -> tuple[BotProcess, TestClient, str]:
    admin: TestClient = await people("admin")
    bot: BotProcess = bot_factory(allowed_users=[person], admins=[admin.user_id])
    room = await open_dm(admin, bot)
    _, pong = await command(admin, room, "!ping")  # pins the admin's identity, records the DM
    assert pong.body == "pong"
    seed_verified_admin(bot, admin)
    return bot, admin, room


async def emoji_message(admin: TestClient, room: str, person: str) -> tuple[str, str]:
    """The bot's message with the emoji: (VF-n, its whole text)."""
    oid, _text, _event = await emoji_event(admin, room, person)
    return oid, _text


async def emoji_event(admin: TestClient, room: str, person: str) -> tuple[str, str, str]:
    """The bot's message with the emoji: (VF-n, its whole text, its event ID)."""
    msg = await admin.wait_for_message(
        room,
        lambda e: (
            e.sender != admin.user_id and ASKED.search(e.body) is not None and person in e.body
        ),
        timeout=90,
    )
    found = ASKED.search(msg.body)
    assert found is not None
    return found[1], msg.body, msg.event_id


def names_in(text: str) -> list[str]:
    """The emoji names of the admin's message, in order."""
    line = next(ln for ln in text.splitlines() if " · " in ln)
    names = [part.split(" ", 1)[1] for part in line.split(" · ")]
    assert all(n in {name for _e, name in EMOJI} for n in names)
    return names


async def test_person_starts_from_element_admin_confirms_both_verified(
    bot_factory: Any, people: Any, new_user: Any, synapse: Any, tmp_path: Path
) -> None:
    user = new_user("bernd")
    bot, admin, admin_room = await admin_with_dm(people, bot_factory, user["user_id"])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="request_dm"
    )
    try:
        sas = await element.next("sas", timeout=120)
        oid, text = await emoji_message(admin, admin_room, user["user_id"])
        assert names_in(text) == sas["emoji"]  # the admin reads what Bernd's Element shows
        assert " ".join(str(d) for d in sas["decimals"]) in text
        assert verified_row(bot, user["user_id"])[0] is None  # nothing before the admin
        _, reply = await command(admin, admin_room, f"!verify confirm {oid}")
        assert f"{oid} confirmed" in reply.body
        result = await element.next("result", timeout=90)
        assert result["phase"] == "Done", (result, element.tail())
        assert result["bot_verified"] is True  # Element now shows the bot as verified
        done = await admin.wait_for_message(
            admin_room, lambda e: f"{oid}: " in e.body and "is verified" in e.body, timeout=60
        )
        assert admin.user_id in done.body
        key, by, how = verified_row(bot, user["user_id"])
        assert key is not None and by == admin.user_id and how == "sas"
    finally:
        await element.close()
    # !whois shows the level (verify-policy's rendering), and nothing of the SAS is logged.
    _, whois = await command(admin, admin_room, f"!whois {user['user_id']}")
    assert f"verified by {admin.user_id}" in whois.body, whois.body
    log = bot.log_text()
    emoji_line = next(ln for ln in text.splitlines() if " · " in ln)
    assert emoji_line not in log and emoji_line.split(" · ")[0] not in log
    assert " ".join(str(d) for d in sas["decimals"]) not in log


async def test_to_device_verification_confirmed_by_a_reaction(
    bot_factory: Any, people: Any, new_user: Any, synapse: Any, tmp_path: Path
) -> None:
    """Element's to-device route (requestDeviceVerification); the admin's ✅ confirms."""
    user = new_user("carla")
    bot, admin, admin_room = await admin_with_dm(people, bot_factory, user["user_id"])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="request_to_device"
    )
    try:
        sas = await element.next("sas", timeout=120)
        oid, text, event_id = await emoji_event(admin, admin_room, user["user_id"])
        assert names_in(text) == sas["emoji"]
        await react_encrypted(admin, admin_room, event_id)
        await admin.wait_for_message(
            admin_room, lambda e: f"{oid} confirmed by your ✅" in e.body, timeout=60
        )
        result = await element.next("result", timeout=90)
        assert result["phase"] == "Done", (result, element.tail())
        assert result["bot_verified"] is True
    finally:
        await element.close()
    key, by, how = verified_row(bot, user["user_id"])
    assert key is not None and by == admin.user_id and how == "sas"


async def test_admin_starts_with_verify_then_confirms(
    bot_factory: Any, people: Any, new_user: Any, synapse: Any, tmp_path: Path
) -> None:
    """`!verify @person` makes the person's Element show a request from the bot."""
    user = new_user("dora")
    bot, admin, admin_room = await admin_with_dm(people, bot_factory, user["user_id"])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="accept"
    )
    try:
        await element.next("ready", timeout=120)  # Dora has a DM with the bot
        _, reply = await command(admin, admin_room, f"!verify {user['user_id']}")
        assert "I asked" in reply.body, reply.body
        sas = await element.next("sas", timeout=120)
        oid, text = await emoji_message(admin, admin_room, user["user_id"])
        assert names_in(text) == sas["emoji"]
        await command(admin, admin_room, f"!verify confirm {oid}")
        result = await element.next("result", timeout=90)
        assert result["phase"] == "Done", (result, element.tail())
        assert result["bot_verified"] is True
    finally:
        await element.close()
    key, by, how = verified_row(bot, user["user_id"])
    assert key is not None and by == admin.user_id and how == "sas"


async def test_admin_rejects_nothing_signed_both_sides_cancelled(
    bot_factory: Any, people: Any, new_user: Any, synapse: Any, tmp_path: Path
) -> None:
    user = new_user("emil")
    bot, admin, admin_room = await admin_with_dm(people, bot_factory, user["user_id"])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="request_dm"
    )
    try:
        await element.next("sas", timeout=120)
        oid, _text = await emoji_message(admin, admin_room, user["user_id"])
        _, reply = await command(admin, admin_room, f"!verify reject {oid}")
        assert "nothing was signed" in reply.body
        result = await element.next("result", timeout=90)
        assert result["phase"] == "Cancelled", (result, element.tail())
        assert result["cancel_code"] == "m.mismatched_sas"
        assert result["bot_verified"] is False
    finally:
        await element.close()
    await admin.wait_for_message(
        admin_room, lambda e: f"{oid}: the verification with" in e.body and "rejected" in e.body
    )
    assert verified_row(bot, user["user_id"])[0] is None
    _, again = await command(admin, admin_room, f"!verify confirm {oid}")
    assert "not a verification waiting" in again.body


async def test_person_cancels_admins_told_nothing_signed(
    bot_factory: Any, people: Any, new_user: Any, synapse: Any, tmp_path: Path
) -> None:
    user = new_user("fritz")
    bot, admin, admin_room = await admin_with_dm(people, bot_factory, user["user_id"])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="request_dm", answer="cancel"
    )
    try:
        result = await element.next("result", timeout=150)
        assert result["phase"] == "Cancelled", (result, element.tail())
    finally:
        await element.close()
    oid, _text = await emoji_message(admin, admin_room, user["user_id"])
    told = await admin.wait_for_message(
        admin_room,
        lambda e: e.body.startswith(f"{oid}: ") and "cancelled the" in e.body,
        timeout=60,
    )
    assert "Nothing was signed" in told.body
    assert verified_row(bot, user["user_id"])[0] is None


async def run_console(bot: BotProcess, user_id: str, stdin: str) -> tuple[int, str]:
    """`attache-bot verify USER` as the operator runs it, with a scripted stdin."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "verify",
        user_id,
        env=bot.env,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=300)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.parametrize(
    ("answer", "store_backend"),
    [("y", "sqlite"), ("n", "sqlite"), ("y", "postgresql")],
    indirect=["store_backend"],
)
async def test_console_bootstrap_verifies_the_first_admin_in_person(
    bot_factory: Any, new_user: Any, synapse: Any, tmp_path: Path, answer: str, store_backend: str
) -> None:
    """The operator compares the emoji in the terminal with the admin's Element. On
    PostgreSQL the device is every host's: the console refuses while any host's instance
    holds the lease, not only the one whose data directory it shares."""
    user = new_user("ops")
    bot: BotProcess = bot_factory(admins=[user["user_id"]])
    element = await ElementVerifier.start(
        synapse.url, user, bot.user_id, tmp_path / "js.log", mode="accept"
    )
    try:
        await element.next("ready", timeout=120)  # the admin has a DM with the bot
        refused, said = await run_console(bot, user["user_id"], "y\n")
        assert refused == 1 and "Stop the bot's service first" in said  # one device, one process
        if store_backend == "postgresql":  # the console on another host, same database
            other_host = bot.replica(tmp_path / "other-host")
            refused, said = await run_console(other_host, user["user_id"], "y\n")
            assert refused == 1 and "holds the lease" in said, said
            assert bot.role() == "active"
        await bot.astop()
        code, out = await run_console(bot, user["user_id"], f"{answer}\n")
        sas = await element.next("sas", timeout=60)
        result = await element.next("result", timeout=90)
    finally:
        await element.close()
    for name in sas["emoji"]:
        assert f"  {name}" in out  # the terminal showed what the admin's Element showed
    if answer == "y":
        assert code == 0, out
        assert result["phase"] == "Done" and result["bot_verified"] is True, result
        assert verified_row(bot, user["user_id"])[1:] == ("console", "console")
    else:
        assert code == 1 and "nothing was signed" in out, out
        assert result["phase"] == "Cancelled" and result["cancel_code"] == "m.mismatched_sas"
        assert verified_row(bot, user["user_id"])[0] is None


async def test_a_device_not_signed_by_its_owner_is_refused_with_a_cancel(
    bot_factory: Any, people: Any
) -> None:
    """A request from a device its owner never cross-signed (nio, to-device): cancelled."""
    mallory: TestClient = await people("mallory", cross_sign=False)
    bot: BotProcess = bot_factory(allowed_users=[mallory.user_id])
    cancels: list[dict[str, Any]] = []

    async def on_cancel(event: Any) -> None:
        cancels.append(event.source.get("content") or {})

    mallory.client.add_to_device_callback(on_cancel, (KeyVerificationCancel,))
    content = {
        "from_device": mallory.device_id,
        "methods": ["m.sas.v1"],
        "timestamp": int(time.time() * 1000),
        "transaction_id": "mallory-1",
    }
    device = bot.device_id
    assert device is not None
    await mallory.client.to_device(
        ToDeviceMessage("m.key.verification.request", bot.user_id, device, content)
    )
    async with asyncio.timeout(60):
        while not cancels:
            await asyncio.sleep(0.2)
    assert cancels[0]["transaction_id"] == "mallory-1"
    assert cancels[0]["code"] == "m.user"
    assert "not cross-signed" in cancels[0]["reason"] or "no cross-signing" in cancels[0]["reason"]
    assert bot.query("SELECT COUNT(*) FROM outbox WHERE key LIKE 'verification:%'") == [(0,)]
