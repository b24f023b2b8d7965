"""Trust levels in chat and the policies that require `verified` (issue 28): !whois and
!trust list show tofu or verified; a changed identity loses it and the admins are told;
verified_for_roles refuses a tofu person their role's commands; verified_for_marking
withholds marked items from tofu people in listings, at creation and at send time. Real
store on each backend, fake clock and homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.crypto.identities import Identities
from bot.crypto.trust import UserTrust
from bot.metrics import Metrics
from commands.context import OutMessage, utc_iso
from commands.fingerprints import fingerprint
from commands.markings import Marking, Policy
from commands.verified import HOW_CONSOLE, HOW_SAS, mark_verified
from tests.harness.fakes import BotCore, FakeClock, FakeTransport

ADMIN = "@admin:test"
FR = "@fr:test"
DE = "@de:test"
SEC = "@sec:test"
DM = "!dm:test"
ROOM = "!room:test"
KEY = {FR: "F" * 43, DE: "D" * 43, SEC: "S" * 43, ADMIN: "A" * 43}
NEW = "N" * 43
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUBJECT = "Convoy route north"


async def pin(core: BotCore, *users: str) -> None:
    """Pinned on first sight (tofu), as bot/crypto/identities.py does."""
    async with core.store.write() as db:
        for user in users:
            await db.execute(
                "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by) "
                "VALUES (?, ?, ?, 'first sight')",
                (user, KEY[user], utc_iso(AT)),
            )


async def verify(core: BotCore, user: str, by: str = ADMIN, how: str = HOW_SAS) -> None:
    async with core.store.write() as db:
        await mark_verified(db, user, KEY[user], by, how, at=AT, settings=core.settings)


async def ok(core: BotCore, sender: str, text: str, room: str = DM) -> list:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])
    return sent


async def refused(core: BotCore, sender: str, text: str, room: str = DM) -> str:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "user_error", (text, [m.body for m in sent])
    return sent[-1].body


# -- levels shown ---------------------------------------------------------------------------


async def test_whois_shows_tofu_verified_and_how_to_get_verified(core: BotCore) -> None:
    body = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert "identity: no cross-signing identity pinned yet" in body
    await pin(core, FR, DE)
    mine = (await ok(core, FR, "!whois"))[0].body
    assert "identity: tofu: pinned on first sight or approved, not verified." in mine
    assert f"ask an admin to send !verify {FR}" in mine and "choose Verify" in mine
    theirs = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert "tofu" in theirs and "!verify" not in theirs  # the hint is for the person only
    await verify(core, DE)
    await verify(core, FR, by="console", how=HOW_CONSOLE)
    theirs = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert (
        "identity: verified by @admin:test, Mon 02 Mar 2026 09:00 UTC (interactive "
        "verification confirmed by an admin)" in theirs
    )
    mine = (await ok(core, FR, "!whois"))[0].body
    assert "verified by the operator, at the console" in mine and "!verify" not in mine


async def test_whois_and_trust_list_speak_the_readers_language(core: BotCore) -> None:
    await pin(core, FR, DE)
    await verify(core, DE)
    await ok(core, FR, "!lang fr")
    body = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert "identité : vérifiée par @admin:test" in body
    assert "vérification interactive confirmée par un administrateur" in body
    await ok(core, ADMIN, "!lang de")
    table = (await ok(core, ADMIN, "!trust list"))[0].body
    assert "Stufe" in table and "verifiziert durch @admin:test" in table
    assert "tofu: beim ersten Kontakt hinterlegt" in table


async def test_trust_list_shows_each_level(core: BotCore) -> None:
    await pin(core, FR, DE)
    await verify(core, DE)
    sent = await ok(core, ADMIN, "!trust list")
    lines = sent[0].body.splitlines()
    de = next(line for line in lines if DE in line)
    fr = next(line for line in lines if FR in line)
    assert "verified by @admin:test" in de and fingerprint(KEY[DE]) in de
    assert "tofu" in fr and "verified by" not in fr


# -- a changed identity ------------------------------------------------------------------


def shown(user: str, key: str, pin: str | None) -> UserTrust:
    return UserTrust(user, key, "S" * 43, pin, None if pin is None else key == pin)


async def test_a_changed_identity_loses_verified_and_the_admins_are_told(core: BotCore) -> None:
    identities = Identities(None, core.settings, core.store, Metrics())  # type: ignore[arg-type]
    await identities._record(DE, None, shown(DE, KEY[DE], None))  # first sight
    await verify(core, DE)
    await core.new_messages()
    await identities._record(DE, KEY[DE], shown(DE, NEW, KEY[DE]))  # the server shows another
    told = [m.body for m in await core.new_messages() if m.user_id == ADMIN]
    assert len(told) == 1 and "changed" in told[0]
    assert "They were verified (by @admin:test)" in told[0] and "no longer counts" in told[0]
    assert f"!verify {DE}" in told[0]
    body = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert "changed, waiting for an admin's approval; not verified" in body
    # Approving the new key does not carry the verification over, and says so.
    sent = await ok(core, ADMIN, f"!trust approve {DE} {NEW}")
    assert "the new one is not verified until they are verified again" in sent[0].body
    body = (await ok(core, FR, f"!whois {DE}"))[0].body
    assert "identity: tofu" in body
    rows = await core.query(
        "SELECT verified_key, verified_by FROM identities WHERE user_id = ?", DE
    )
    assert tuple(rows[0]) == (None, None)


async def test_a_verified_key_shown_again_is_verified_again(core: BotCore) -> None:
    identities = Identities(None, core.settings, core.store, Metrics())  # type: ignore[arg-type]
    await identities._record(DE, None, shown(DE, KEY[DE], None))
    await verify(core, DE)
    await identities._record(DE, KEY[DE], shown(DE, NEW, KEY[DE]))  # a forged key, once
    await core.new_messages()
    await identities._record(DE, KEY[DE], shown(DE, KEY[DE], KEY[DE]))  # the real one again
    told = [m.body for m in await core.new_messages() if m.user_id == ADMIN]
    assert "back to the pinned one" in told[0] and "counts again" in told[0]
    assert "verified by @admin:test" in (await ok(core, FR, f"!whois {DE}"))[0].body


# -- verified_for_roles -------------------------------------------------------------------


@pytest.fixture
async def rcore(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    bot = await BotCore(
        tmp_path, clock, database_url=store_url, verified_for_roles=["admin", "secretariat"]
    ).open()
    try:
        yield bot
    finally:
        await bot.close()


async def test_a_tofu_admin_is_refused_admin_commands_until_verified(rcore: BotCore) -> None:
    await pin(rcore, ADMIN)
    body = await refused(rcore, ADMIN, "!dir list")
    assert "!dir list is for admin only. You have that role" in body
    assert f"ask an admin to send !verify {ADMIN}" in body and "choose Verify" in body
    await refused(rcore, ADMIN, f"!trust approve {FR} {NEW}")  # the role first, every time
    whois = (await ok(rcore, ADMIN, "!whois"))[0].body
    assert "admin (counts once their identity is verified)" in whois
    # The console bootstrap (attache-bot verify) records through the same API: no role needed.
    await verify(rcore, ADMIN, by="console", how=HOW_CONSOLE)
    await ok(rcore, ADMIN, "!dir list")
    assert "counts once" not in (await ok(rcore, ADMIN, "!whois"))[0].body


async def test_a_tofu_secretary_is_refused_until_verified(rcore: BotCore) -> None:
    await verify(rcore, ADMIN, by="console", how=HOW_CONSOLE)
    await ok(rcore, ADMIN, f"!dir person {SEC} role=secretariat")
    await pin(rcore, SEC)
    body = await refused(rcore, SEC, '!summit open "DefMin" from=2026-03-10', ROOM)
    assert "is for secretariat only. You have that role" in body
    assert await rcore.count("summits") == 0
    await verify(rcore, SEC)
    await ok(rcore, SEC, '!summit open "DefMin" from=2026-03-10', ROOM)
    # A role nobody requires verification for is untouched: attachés need nothing.
    await pin(rcore, FR)
    await ok(rcore, FR, "!whois")


def test_the_settings_name_only_roles_and_levels_that_can_require_it(tmp_path: Path) -> None:
    from tests.harness.fakes import make_settings

    with pytest.raises(ValueError, match="'attache' is not a role that can require"):
        make_settings(tmp_path, verified_for_roles="admin,attache")
    with pytest.raises(ValueError, match="verified_for_marking: RESTRICTED needs markings"):
        make_settings(tmp_path, verified_for_marking="RESTRICTED")
    levels = ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"]
    with pytest.raises(ValueError, match="the lowest, UNCLASSIFIED, means unmarked"):
        make_settings(tmp_path, marking_levels=levels, verified_for_marking="UNCLASSIFIED")
    with pytest.raises(ValueError, match="above max_marking"):
        make_settings(
            tmp_path,
            marking_levels=levels,
            max_marking="RESTRICTED",
            verified_for_marking="CONFIDENTIAL",
        )
    settings = make_settings(tmp_path, marking_levels=levels, verified_for_marking="restricted")
    assert settings.verified_for_marking == "RESTRICTED"
    assert make_settings(tmp_path, verified_for_roles="Secretariat").verified_for_roles == [
        "secretariat"
    ]


# -- verified_for_marking -----------------------------------------------------------------


@pytest.fixture
async def mcore(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=store_url,
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        verified_for_marking="RESTRICTED",
    ).open()
    try:
        await pin(bot, FR, DE)
        await verify(bot, FR)
        for user, nation in ((FR, "FRA"), (DE, "DEU")):
            await ok(bot, ADMIN, f"!dir person {user} nation={nation}")
        await ok(bot, ADMIN, f"!dir post DE-BERLIN nation=DEU members={FR},{DE}")
        async with bot.store.write() as db:
            for user, room in ((FR, "!dm-fr:test"), (DE, "!dm-de:test")):
                await db.execute(
                    "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?)", (user, room)
                )
        yield bot
    finally:
        await bot.close()


async def test_a_marked_meeting_is_withheld_from_a_tofu_participant_in_listings(
    mcore: BotCore,
) -> None:
    await ok(
        mcore,
        FR,
        f"!meeting 2026-03-05 10:00 with=DE-BERLIN marking=RESTRICTED rel=FRA,DEU -- {SUBJECT}",
    )
    # Both are participants (through the post); only the verified one sees it.
    assert SUBJECT in (await ok(mcore, FR, "!agenda 30", "!dm-fr:test"))[0].body
    agenda = (await ok(mcore, DE, "!agenda 30", "!dm-de:test"))[0].body
    assert "M-1" not in agenda and SUBJECT not in agenda
    missing = await refused(mcore, DE, "!show M-1", "!dm-de:test")
    never_made = await refused(mcore, DE, "!show M-9", "!dm-de:test")
    assert missing == never_made.replace("M-9", "M-1")
    await verify(mcore, DE)
    assert SUBJECT in (await ok(mcore, DE, "!agenda 30", "!dm-de:test"))[0].body
    assert SUBJECT in (await ok(mcore, DE, "!show M-1", "!dm-de:test"))[0].body


async def test_below_the_level_nothing_changes_for_a_tofu_person(mcore: BotCore) -> None:
    await ok(mcore, FR, f"!meeting 2026-03-05 10:00 with={DE} rel=FRA,DEU -- {SUBJECT}")
    assert SUBJECT in (await ok(mcore, DE, "!show M-1", "!dm-de:test"))[0].body


async def test_naming_a_tofu_person_on_a_marked_object_says_they_need_verifying(
    mcore: BotCore,
) -> None:
    body = await refused(
        mcore, FR, f"!meeting 2026-03-05 10:00 with={DE} marking=RESTRICTED rel=FRA,DEU -- x"
    )
    assert f"Not releasable to {DE} yet" in body and "identity is verified" in body
    assert f"Example: !whois {DE}" in body
    assert await mcore.count("schedule_items") == 0


async def test_a_tofu_person_cannot_create_what_they_could_not_read(mcore: BotCore) -> None:
    body = await refused(
        mcore,
        DE,
        f"!meeting 2026-03-05 10:00 marking=RESTRICTED rel=FRA,DEU -- {SUBJECT}",
        "!dm-de:test",
    )
    assert "your identity is not verified yet" in body and f"!verify {DE}" in body
    assert "clearance" not in body
    assert await mcore.count("schedule_items") == 0


POLICY = Policy(
    levels=("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"), verified_for_marking="RESTRICTED"
)


async def test_at_send_time_a_marked_dm_is_withheld_from_a_tofu_person(mcore: BotCore) -> None:
    """The outbox itself: a row queued for DE while they are tofu goes nowhere, the sender
    is told why; the same row for a verified DE is delivered."""
    now = utc_iso(mcore.clock.now())
    async with mcore.store.write() as db:
        await db.execute(
            "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
            "created_at, updated_at, marking) VALUES (4, ?, 'DE-BERLIN', 's', 'routine', ?, ?, ?)",
            (FR, now, now, Marking.column(Marking("RESTRICTED", ("FRA", "DEU")))),
        )
    origin = {"user_id": FR, "room_id": "!dm-fr:test", "reply_to": None, "thread_root": None}

    def row() -> OutMessage:
        return OutMessage(body=f"LR-4: {SUBJECT}", user_id=DE, about="LR-4", origin=origin)

    transport = FakeTransport({"!dm-fr:test": [FR], "!dm-de:test": [DE]})
    transport.dms.update({FR: "!dm-fr:test", DE: "!dm-de:test"})
    async with mcore.store.write() as db:
        from bot.outbox.queue import enqueue

        await enqueue(db, [row()], now)
    await mcore.drain_outbox(transport, policy=POLICY)
    assert not [c for c in transport.received_by(DE) if SUBJECT in c.get("body", "")]
    told = [c["body"] for room, c in transport.sent if room == "!dm-fr:test"]
    assert any("their identity is not verified yet" in t for t in told), told
    audit = await mcore.query("SELECT detail FROM audit WHERE action = 'marking.withheld'")
    assert "not verified" in audit[0][0]
    await verify(mcore, DE)
    async with mcore.store.write() as db:
        from bot.outbox.queue import enqueue

        await enqueue(db, [row()], now)
    await mcore.drain_outbox(transport, policy=POLICY)
    assert [c for c in transport.received_by(DE) if SUBJECT in c.get("body", "")]


async def test_escalations_go_only_to_admins_in_force(tmp_path: Path, clock: FakeClock) -> None:
    """What goes to admins as admins (an escalation's subject) skips one not verified."""
    from tests.unit.commands.test_liaison import deliver, make, seed

    other = "@ops:test"
    core = await BotCore(
        tmp_path, clock, admins=[ADMIN, other], verified_for_roles=["admin"]
    ).open()
    try:
        await seed(core)
        await verify(core, ADMIN, by="console", how=HOW_CONSOLE)
        async with core.store.write() as db:  # the other admin: pinned, not verified
            await db.execute(
                "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by) "
                "VALUES (?, ?, 'then', 'first sight')",
                (other, NEW),
            )
        await make(core, precedence="immediate")
        await deliver(core)
        core.clock.advance(minutes=30)
        await core.fire_due()
        core.clock.advance(minutes=30)
        escalated = {m.user_id for m in await core.fire_due() if "Escalation" in m.body}
        assert escalated == {ADMIN}
    finally:
        await core.close()


async def test_an_operators_pin_is_shown_as_such_until_verified(
    tmp_path: Path, clock: FakeClock
) -> None:
    core = await BotCore(tmp_path, clock, trusted_identities={DE: KEY[DE]}).open()
    try:
        body = (await ok(core, FR, f"!whois {DE}"))[0].body
        assert "identity: pinned by the operator (trusted_identities), not verified" in body
        await verify(core, DE)
        assert "identity: verified by @admin:test" in (await ok(core, FR, f"!whois {DE}"))[0].body
    finally:
        await core.close()


async def test_at_send_time_a_room_with_a_tofu_member_gets_only_the_notice(
    mcore: BotCore,
) -> None:
    """The same rule as any uncovered member: the room gets the notice, the verified member
    the item by DM, the tofu member nothing of it."""
    from bot.outbox.queue import enqueue

    now = utc_iso(mcore.clock.now())
    marking = Marking("RESTRICTED", ("FRA", "DEU"))
    async with mcore.store.write() as db:
        await db.execute(
            "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
            "created_at, updated_at, marking) VALUES (4, ?, 'DE-BERLIN', 's', 'routine', ?, ?, ?)",
            (FR, now, now, Marking.column(marking)),
        )
        await enqueue(
            db,
            [
                OutMessage(
                    body=f"LR-4: {SUBJECT}",
                    room_id=ROOM,
                    marking=marking,
                    about="LR-4",
                    origin={"user_id": FR, "room_id": ROOM, "object": "LR-4"},
                )
            ],
            now,
        )
    transport = FakeTransport({ROOM: [FR, DE]})
    await mcore.drain_outbox(transport, policy=POLICY)
    in_room = [c["body"] for room, c in transport.sent if room == ROOM]
    assert in_room and all(SUBJECT not in body for body in in_room)
    assert "is not shown in this room" in in_room[0]
    fr_dm = [c["body"] for room, c in transport.sent if room == transport.dms.get(FR)]
    assert any(SUBJECT in body for body in fr_dm)
    assert any("their identity is not verified yet" in body for body in fr_dm)
    assert DE not in transport.dms
