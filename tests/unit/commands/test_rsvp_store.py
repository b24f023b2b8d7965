"""The answers' store on both backends: answers_for (the read API other features call),
an answer replaced, a reaction's answer withdrawn only by its sender, a reset of a round."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.schedule.rsvp_store import (
    ACCEPTED,
    DECLINED,
    TENTATIVE,
    Answer,
    answers_for,
    current_round,
    record_invitation,
    reset_answers,
    save_answer,
    withdraw_reaction,
)
from tests.harness.fakes import BotCore

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOB = "@bob:test"
CAROL = "@carol:test"


async def _items(core: BotCore) -> list[int]:
    await core.say("@alice:test", "!meeting tomorrow 10:00 with=@bob:test -- One")
    await core.say("@alice:test", "!visit tomorrow 11:00 with=@carol:test -- Two")
    rows = await core.query("SELECT id FROM schedule_items ORDER BY id")
    return [int(r[0]) for r in rows]


async def test_answers_for_reads_each_items_current_answers(core: BotCore) -> None:
    first, second = await _items(core)
    assert await answers_for(core.store.reader, [first, second]) == {}
    async with core.store.write() as db:
        assert await save_answer(db, first, BOB, Answer(ACCEPTED, "", AT)) is None
        await save_answer(db, second, CAROL, Answer(TENTATIVE, "if back", AT, "$r1"))
        replaced = await save_answer(db, first, BOB, Answer(DECLINED, "on leave", AT))
    assert replaced == Answer(ACCEPTED, "", AT)
    found = await answers_for(core.store.reader, [first, second, 999])
    assert found == {
        first: {BOB: Answer(DECLINED, "on leave", AT)},
        second: {CAROL: Answer(TENTATIVE, "if back", AT, "$r1")},
    }
    assert await answers_for(core.store.reader, []) == {}


async def test_a_reactions_answer_is_withdrawn_by_its_sender_only(core: BotCore) -> None:
    first, _second = await _items(core)
    async with core.store.write() as db:
        await save_answer(db, first, BOB, Answer(ACCEPTED, "", AT, "$react"))
        assert await withdraw_reaction(db, "$react", CAROL) is None
        assert await withdraw_reaction(db, "$other", BOB) is None
        assert await withdraw_reaction(db, "$react", BOB) == (
            first,
            Answer(ACCEPTED, "", AT, "$react"),
        )
    assert await answers_for(core.store.reader, [first]) == {}


async def test_a_reset_clears_answers_and_starts_a_new_round(core: BotCore) -> None:
    first, _second = await _items(core)
    async with core.store.write() as db:
        before = await current_round(db, first)
        old_key = await record_invitation(db, first, BOB, AT)
        assert await current_round(db, first) == before
        await save_answer(db, first, BOB, Answer(ACCEPTED, "", AT))
        cleared = await reset_answers(db, first)
        assert cleared == {BOB: Answer(ACCEPTED, "", AT)}
        assert await current_round(db, first) == before + 1
        new_key = await record_invitation(db, first, BOB, AT)
    assert new_key != old_key
    assert await answers_for(core.store.reader, [first]) == {}
    rounds = await core.query(
        "SELECT key, round FROM schedule_invitations WHERE item_id = ?", first
    )
    assert dict((r[0], int(r[1])) for r in rounds)[old_key] == -before
    assert dict((r[0], int(r[1])) for r in rounds)[new_key] == before + 1
