"""verified_for_marking over real E2EE on Synapse (issue 28): a RESTRICTED meeting's
invitation never reaches a participant whose identity is only pinned on first sight (tofu),
the organiser is told why; once that person is verified (recorded in the bot's store
through commands/verified.py, as the interactive verification does), the same meeting
reaches them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import open_store
from commands.directory import store as directory
from commands.verified import HOW_SAS, mark_verified, verification_of
from tests.harness.bot import BotProcess
from tests.harness.fakes import make_settings
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any

pytestmark = pytest.mark.integration

SUBJECT = "Convoy route through the northern pass"
BANNER = "RESTRICTED // REL TO FRA, DEU"


async def in_store(bot: BotProcess, tmp_path: Path, work) -> None:  # type: ignore[no-untyped-def]
    """Run `work(db, settings)` in one write transaction on the bot's own store."""
    store = open_store(bot.store_url())
    await store.open()
    try:
        async with store.write() as db:
            await work(db, make_settings(tmp_path))
    finally:
        await store.close()


@pytest.mark.usefixtures("store_backend")  # PostgreSQL parity
async def test_a_marked_meeting_reaches_a_participant_only_once_verified(
    bot_factory, people, tmp_path: Path
) -> None:
    org = await people("org")  # FRA, verified
    dora = await people("dora", auto_join=True)  # DEU, verified
    bernd = await people("bernd", auto_join=True)  # DEU, tofu
    bot: BotProcess = bot_factory(
        start=False,
        allowed_users=[org.user_id, dora.user_id, bernd.user_id],
        settings={
            "timezone": "UTC",
            "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
            "verified_for_marking": "RESTRICTED",
        },
    )
    now = datetime.now(UTC)

    async def seed(db, settings) -> None:  # type: ignore[no-untyped-def]
        for person, nation in ((org, "FRA"), (dora, "DEU"), (bernd, "DEU")):
            await directory.set_person(db, person.user_id, now, nation=nation)
        await directory.set_post(
            db, "DE-BERLIN", now, name="Berlin", add=[dora.user_id, bernd.user_id]
        )
        # An admin confirmed org's and dora's keys (the keys their clients really have).
        for person in (org, dora):
            await mark_verified(
                db,
                person.user_id,
                person.master_key,
                "@ops:test",
                HOW_SAS,
                at=now,
                settings=settings,
            )

    await in_store(bot, tmp_path, seed)
    await bot.astart()
    room = await open_dm(org, bot)
    start = (now + timedelta(days=1)).strftime("%Y-%m-%d 10:00")
    _sent, reply = await command(
        org,
        room,
        f"!meeting {start} with=DE-BERLIN marking=RESTRICTED rel=FRA,DEU -- {SUBJECT}",
        timeout=60,
    )
    assert reply.body.startswith(f"{BANNER}\nScheduled M-1"), reply.body
    # The verified participant is invited; the organiser is told, by name, who was not, why.
    _where, invite = await wait_any(dora, lambda e: "added you to M-1" in e.body, timeout=60)
    assert invite.decrypted and SUBJECT in invite.body and invite.body.startswith(BANNER)
    _where, told = await wait_any(org, lambda e: "I did not send M-1" in e.body, timeout=60)
    assert bernd.user_id in told.body and "identity is not verified yet" in told.body
    # Bernd, tofu, asks for it: it does not exist for him, and nothing of it reached him.
    bernd_dm = await open_dm(bernd, bot)
    _sent, answer = await command(bernd, bernd_dm, "!show M-1", timeout=60)
    assert "M-1" in answer.body and SUBJECT not in answer.body
    assert not [e for _room, e in bernd.received if SUBJECT in e.body]
    stored = bot.query("SELECT master_key FROM identities WHERE user_id = ?", bernd.user_id)
    assert stored == [(bernd.master_key,)]  # pinned on first sight: tofu

    async def confirm(db, settings) -> None:  # type: ignore[no-untyped-def]
        assert await verification_of(db, bernd.user_id, settings) is None
        await mark_verified(
            db, bernd.user_id, bernd.master_key, "@ops:test", HOW_SAS, at=now, settings=settings
        )

    await in_store(bot, tmp_path, confirm)
    _sent, shown = await command(bernd, bernd_dm, "!show M-1", timeout=60)
    assert shown.decrypted and SUBJECT in shown.body and shown.body.startswith(BANNER)
    _sent, whois = await command(bernd, bernd_dm, "!whois", timeout=60)
    assert "identity: verified by @ops:test" in whois.body
