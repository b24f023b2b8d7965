"""`!verify`, `!verify confirm/reject` and the ✅ (commands/verification.py) on both store
backends, against the runtime's port faked (tests/harness/fakes.FakeVerifier): who may ask
and answer, from where, and what each answer is passed on as."""

from __future__ import annotations

from tests.harness.fakes import BotCore

ADMIN = "@admin:test"  # make_settings' admin
BERND = "@bernd:test"
DM = "!admin-dm:test"


async def verified_admin_in_dm(core: BotCore, *, verified: bool = True) -> None:
    async with core.store.write() as db:
        await db.execute("INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?)", (ADMIN, DM))
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, verified_key, "
            "verified_by, verified_at, verified_how) VALUES (?, 'K', 'x', 'test', ?, "
            "'console', '2026-01-01T00:00:00+00:00', 'console')",
            (ADMIN, "K" if verified else None),
        )


async def test_verify_asks_the_runtime_and_numbers_each_request(core: BotCore) -> None:
    [reply] = await core.say(ADMIN, f"!verify {BERND}")
    assert reply.body.startswith("VF-1: I asked @bernd:test's Element")
    assert core.verifier.requested == [(1, BERND, ADMIN)]
    [again] = await core.say(ADMIN, f"!verify {BERND}")
    assert "already running (VF-1)" in again.body  # one at a time per person
    [other] = await core.say(ADMIN, "!verify @carla:test")
    assert other.body.startswith("VF-2: ")
    rows = await core.query(
        "SELECT action, object FROM audit WHERE action = 'verify.request' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [("verify.request", "VF-1"), ("verify.request", "VF-2")]


async def test_verify_is_for_admins_and_not_for_oneself(core: BotCore) -> None:
    [refused] = await core.say(BERND, "!verify @carla:test")
    assert "admin" in refused.body
    [own] = await core.say(ADMIN, f"!verify {ADMIN}")
    assert "cannot verify yourself" in own.body
    [outsider] = await core.say(ADMIN, "!verify @eve:elsewhere.org")
    assert "may not use this bot" in outsider.body
    assert core.verifier.requested == []


async def test_confirm_from_the_admins_dm_is_passed_on(core: BotCore) -> None:
    await verified_admin_in_dm(core)
    core.verifier.waiting[3] = {ADMIN}
    [reply] = await core.say(ADMIN, "!verify confirm VF-3", room_id=DM)
    assert reply.body == "VF-3 confirmed: finishing the verification."
    assert core.verifier.decided == [(3, ADMIN, True)]
    [gone] = await core.say(ADMIN, "!verify confirm VF-3", room_id=DM)
    assert "not a verification waiting" in gone.body


async def test_reject_is_passed_on(core: BotCore) -> None:
    await verified_admin_in_dm(core)
    core.verifier.waiting[4] = {ADMIN}
    [reply] = await core.say(ADMIN, "!verify reject VF-4", room_id=DM)
    assert "nothing was signed" in reply.body
    assert core.verifier.decided == [(4, ADMIN, False)]


async def test_an_answer_outside_the_admins_dm_is_refused(core: BotCore) -> None:
    await verified_admin_in_dm(core)
    core.verifier.waiting[3] = {ADMIN}
    [reply] = await core.say(ADMIN, "!verify confirm VF-3", room_id="!shared:test")
    assert "in your direct chat with me" in reply.body
    assert core.verifier.decided == []


async def test_an_admin_not_verified_cannot_answer(core: BotCore) -> None:
    await verified_admin_in_dm(core, verified=False)
    core.verifier.waiting[3] = {ADMIN}
    [reply] = await core.say(ADMIN, "!verify confirm VF-3", room_id=DM)
    assert "whose own identity is verified" in reply.body
    assert core.verifier.decided == []


async def test_a_tick_on_the_emoji_message_confirms(core: BotCore) -> None:
    await verified_admin_in_dm(core)
    core.verifier.waiting[5] = {ADMIN}
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO outbox (user_id, content, key, state, event_id, created_at) "
            "VALUES (?, '{}', ?, 'sent', '$emoji', 'x')",
            (ADMIN, f"verification:5:{ADMIN}"),
        )
    await core.new_messages()  # the emoji message itself, as the outbox sent it
    [told] = await core.react(ADMIN, "$emoji", "✅", room_id=DM)
    assert core.verifier.decided == [(5, ADMIN, True)]
    assert told.body == "VF-5 confirmed by your ✅: finishing the verification."
    assert told.room_id == DM
    await core.react(ADMIN, "$other-message", "✅", room_id=DM)  # any other message: nothing
    assert core.verifier.decided == [(5, ADMIN, True)]
