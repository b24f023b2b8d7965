"""Nudges and digests: each goes once, on time, to the right people, even across restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from actions_fixtures import DM, OWNER, PARIS, ROOM, SEC, say_ok, seed

from tests.harness.fakes import BotCore, FakeClock


def dms(sent: list, user: str) -> list[str]:
    return [m.body for m in sent if m.user_id == user]


def to_room(sent: list) -> list[str]:
    return [m.body for m in sent if m.room_id == ROOM]


async def test_due_soon_and_overdue_nudges_go_once_even_after_restart(tmp_path: Path) -> None:
    clock = FakeClock()  # Monday 2026-03-02 09:00 UTC
    core = await BotCore(tmp_path, clock).open()
    try:
        await seed(core)  # A-1 due 2026-03-20 (UTC day, given by SEC), owner OWNER
        clock.set(datetime(2026, 3, 18, 23, 59, tzinfo=UTC))  # 2 days before: not yet
        assert dms(await core.fire_due(), OWNER) == []
        clock.set(datetime(2026, 3, 19, 0, 0, tzinfo=UTC))
        sent = await core.fire_due()
        soon = dms(sent, OWNER)
        assert len(soon) == 1 and soon[0].startswith("Reminder: A-1 is due 2026-03-20")
        assert "!actions done A-1" in soon[0] and "late" not in soon[0]
        assert dms(await core.fire_due(), OWNER) == []  # fired once
    finally:
        await core.close()

    # A new core on the same data: the sent nudge stays sent; the overdue one comes, once.
    core = await BotCore(tmp_path, clock).open()
    await core.new_messages()  # what the previous run queued
    try:
        assert dms(await core.fire_due(), OWNER) == []
        clock.set(datetime(2026, 3, 21, 3, 0, tzinfo=UTC))  # bot was "down" over the deadline
        sent = await core.fire_due()
        late = dms(sent, OWNER)
        assert len(late) == 1 and "A-1 is now overdue" in late[0] and "sent late" in late[0]
        # The post's item (A-2, due 03-25) nudges each member of FR-PARIS.
        clock.set(datetime(2026, 3, 24, 0, 0, tzinfo=UTC))
        assert len(dms(await core.fire_due(), PARIS)) == 1
    finally:
        await core.close()
    core = await BotCore(tmp_path, clock).open()
    await core.new_messages()  # what the previous run queued
    try:
        assert dms(await core.fire_due(), OWNER) == [] and dms(await core.fire_due(), PARIS) == []
        done = await core.query(
            "SELECT kind, ref, COUNT(*) FROM jobs WHERE state = 'done' AND kind LIKE 'action.%' "
            "AND kind != 'action.digest' GROUP BY kind, ref ORDER BY ref, kind"
        )
        assert [tuple(r) for r in done] == [
            ("action.overdue", "A-1", 1),
            ("action.soon", "A-1", 1),
            ("action.soon", "A-2", 1),
        ]
    finally:
        await core.close()


async def test_moving_the_deadline_replans_and_done_items_are_not_nudged(core: BotCore) -> None:
    await seed(core)
    await say_ok(core, SEC, "!edit A-1 due=2026-03-10")  # soon nudge now 03-08 end of day
    await say_ok(core, SEC, "!edit A-1 due=2026-03-20")  # and back: the first plan returns
    pending = await core.query(
        "SELECT kind, due_at FROM jobs WHERE ref = 'A-1' AND state = 'pending' ORDER BY kind"
    )
    assert [tuple(r) for r in pending] == [
        ("action.overdue", "2026-03-20T23:59:59+00:00"),
        ("action.soon", "2026-03-18T23:59:59+00:00"),
    ]
    await say_ok(core, PARIS, "!actions done A-2", DM)
    core.clock.set(datetime(2026, 3, 30, tzinfo=UTC))
    sent = await core.fire_due()
    assert dms(sent, PARIS) == []  # done before its nudges came due
    assert len([b for b in dms(sent, OWNER) if "overdue" in b]) == 1


async def test_digest_on_working_days_at_local_time_grouped_by_owner(tmp_path: Path) -> None:
    clock = FakeClock()
    core = await BotCore(tmp_path, clock, actions_digest_time="08:30").open()
    try:
        await say_ok(core, "@admin:test", f"!dir person {SEC} role=secretariat tz=Europe/Paris", DM)
        await say_ok(core, SEC, "!summit open Paris summit")  # zone Europe/Paris (SEC's)
        await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-03-04 -- early task")
        await say_ok(core, "@admin:test", f"!dir post FR-PARIS members={PARIS}", DM)
        await say_ok(core, SEC, "!actions add S-1 FR-PARIS due=2026-03-20 -- later task")
        jobs = await core.query("SELECT due_at FROM jobs WHERE kind = 'action.digest'")
        # Monday 09:00 UTC is already past 08:30 Paris: next is Tuesday 08:30 CET = 07:30 UTC.
        assert [r[0] for r in jobs] == ["2026-03-03T07:30:00+00:00"]
        clock.set(datetime(2026, 3, 5, 7, 30, tzinfo=UTC))  # Thursday; Tuesday's was missed
        sent = await core.fire_due()
        digest = to_room(sent)
        assert len(digest) == 1 and "2 open item(s), 1 overdue" in digest[0]
        assert "sent late" in digest[0]
        body = digest[0]
        assert body.index(OWNER) < body.index("A-1") < body.index("FR-PARIS") < body.index("A-2")
        assert "OVERDUE" in body.split("FR-PARIS")[0] and "OVERDUE" not in body.split("FR-PARIS")[1]
        assert to_room(await core.fire_due()) == []  # once
        clock.set(datetime(2026, 3, 6, 7, 30, tzinfo=UTC))  # Friday
        assert len(to_room(await core.fire_due())) == 1
        clock.set(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))  # Sunday: nothing on the weekend
        assert to_room(await core.fire_due()) == []
        jobs = await core.query(
            "SELECT due_at FROM jobs WHERE kind = 'action.digest' AND state = 'pending'"
        )
        assert [r[0] for r in jobs] == ["2026-03-09T07:30:00+00:00"]  # Monday
    finally:
        await core.close()
