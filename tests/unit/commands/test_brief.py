"""The Monday brief on a real store (SQLite and PostgreSQL) and the fake clock: what it
holds, in what order, on one screen, in the reader's language, releasability applied; and
the weekly DM at 08:00 on each person's Monday wall clock, DST-correct, exactly once
across restarts, late once after an outage, replanned when the zone changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from commands.brief import plan as brief_plan
from commands.brief.model import SCREEN_LINES, allot, brief_at, next_brief, week_span
from commands.context import Context, parse_utc
from commands.directory.store import set_person
from commands.schedule.rsvp_store import ACCEPTED, TENTATIVE, Answer, save_answer
from tests.harness.fakes import BotCore, FakeClock, Sent

ADMIN = "@admin:test"
SEC = "@sec:test"
ANNA = "@anna:test"  # Europe/Paris
BOB = "@bob:test"  # America/New_York
CARL = "@carl:test"
DORA = "@dora:test"
DM_ANNA = "!dm-anna:test"
DM_BOB = "!dm-bob:test"
SUMMIT_ROOM = "!summit:test"
ROOM = "!shared:test"


async def ok(core: BotCore, sender: str, text: str, room: str) -> list[Sent]:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])
    return sent


async def people(core: BotCore) -> None:
    await core.dm_with(ANNA, DM_ANNA)
    await core.dm_with(BOB, DM_BOB)
    await ok(core, ANNA, "!tz Europe/Paris", DM_ANNA)
    await ok(core, BOB, "!tz America/New_York", DM_BOB)
    await ok(core, ADMIN, f"!dir person {SEC} role=secretariat", "!dm-admin:test")


async def briefs(core: BotCore) -> list[tuple[str, str, datetime]]:
    rows = await core.query(
        "SELECT ref, state, due_at FROM jobs WHERE kind = 'brief.weekly' ORDER BY due_at, ref"
    )
    return [(r[0], r[1], parse_utc(r[2])) for r in rows]


def pending_for(jobs: list[tuple[str, str, datetime]], user: str) -> list[datetime]:
    return [due for ref, state, due in jobs if ref == user and state == "pending"]


def dms(sent: list[Sent], user: str) -> list[str]:
    return [m.body for m in sent if m.user_id == user and "Your week" in m.body]


# -- the pure rules --------------------------------------------------------------------------


def test_monday_0800_on_the_wall_clock_across_dst() -> None:
    # Paris: CET (UTC+1) until Sunday 29 March 2026, CEST (UTC+2) after.
    assert brief_at(date(2026, 3, 23), "Europe/Paris") == datetime(2026, 3, 23, 7, tzinfo=UTC)
    assert brief_at(date(2026, 3, 30), "Europe/Paris") == datetime(2026, 3, 30, 6, tzinfo=UTC)
    # New York: EST until Sunday 8 March 2026, EDT after.
    assert brief_at(date(2026, 3, 2), "America/New_York") == datetime(2026, 3, 2, 13, tzinfo=UTC)
    assert brief_at(date(2026, 3, 9), "America/New_York") == datetime(2026, 3, 9, 12, tzinfo=UTC)
    # The week of the change is an hour short: Monday 00:00 CET to Monday 00:00 CEST.
    start, end = week_span(date(2026, 3, 23), "Europe/Paris")
    assert end - start == timedelta(hours=167)


def test_next_brief_skips_a_week_already_briefed() -> None:
    monday_0730 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # 07:30 in Paris
    assert next_brief(monday_0730, "Europe/Paris") == (
        datetime(2026, 3, 2, 7, tzinfo=UTC),
        date(2026, 3, 2),
    )
    assert next_brief(monday_0730, "Europe/Paris", briefed=date(2026, 3, 2)) == (
        datetime(2026, 3, 9, 7, tzinfo=UTC),
        date(2026, 3, 9),
    )
    after = datetime(2026, 3, 2, 7, 0, 1, tzinfo=UTC)
    assert next_brief(after, "Europe/Paris")[1] == date(2026, 3, 9)


def test_allot_keeps_short_sections_whole_and_fits_the_budget() -> None:
    share = allot([3, 50, 0, 30], 38)
    assert share.shown[0] == 3 and share.hidden[0] == 0  # the short one whole
    cost = sum(
        s + 1 + (1 if h else 0)
        for s, h, c in zip(share.shown, share.hidden, [3, 50, 0, 30], strict=True)
        if c
    )
    assert cost <= 38
    assert share.shown[1] + share.hidden[1] == 50 and share.hidden[1] > 0
    assert allot([2, 1], 38).hidden == (0, 0)


# -- !brief: what a week holds --------------------------------------------------------------


async def test_brief_lists_the_week_oldest_first_overdue_marked(core: BotCore) -> None:
    clock = core.clock  # Monday 2 March 2026 09:00 UTC
    await people(core)
    # Two requests to Anna, the older one overdue by the time she asks; one from her to Bob.
    await ok(core, BOB, f"!request {ANNA} Fuel for the C-130 due=2026-03-03", DM_BOB)
    clock.advance(hours=1)
    await ok(core, BOB, f"!request {ANNA} Convoy route -- via the pass?", DM_BOB)
    await ok(core, ANNA, f"!request {BOB} Visit programme due=2026-03-20", DM_ANNA)
    # Action items: one due this week, one overdue, one next week (not in this week's brief).
    await ok(core, SEC, '!summit open "DefMin" from=2026-03-10 to=2026-03-12', SUMMIT_ROOM)
    await ok(
        core, SEC, f"!actions add S-1 {ANNA} due=2026-03-03 -- draft the communiqué", SUMMIT_ROOM
    )
    await ok(core, SEC, f"!actions add S-1 {ANNA} due=2026-03-06 -- book the venue", SUMMIT_ROOM)
    await ok(core, SEC, f"!actions add S-1 {ANNA} due=2026-03-12 -- brief the CHOD", SUMMIT_ROOM)
    # A meeting this week, a visit next week, someone else's meeting.
    await ok(core, BOB, f"!meeting 2026-03-05 10:00 with={ANNA} -- Convoy review", DM_BOB)
    await ok(core, BOB, f"!visit 2026-03-10 10:00 with={ANNA} -- Kiel", DM_BOB)
    await ok(core, BOB, f"!meeting 2026-03-04 10:00 with={CARL} -- Not Anna's", DM_BOB)
    clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))  # Wednesday

    [reply] = await ok(core, ANNA, "!brief", DM_ANNA)
    lines = reply.body.splitlines()
    assert lines[0] == "Your week from Mon 02 Mar 2026 (times in Europe/Paris)"
    waiting = lines.index("Waiting for you (2)")
    # Oldest first, overdue marked (due the end of Tuesday in Bob's New York: 05:59 in Paris).
    assert lines[waiting + 1] == (
        "• LR-1 from @bob:test: Fuel for the C-130 · due Wed 04 Mar 2026 05:59 CET · OVERDUE"
    )
    assert lines[waiting + 2] == "• LR-2 from @bob:test: Convoy route"
    on = lines.index("You are waiting on (1)")
    assert lines[on + 1].startswith("• LR-3 to @bob:test: Visit programme · due Fri 20 Mar")
    assert not lines[on + 1].endswith("OVERDUE")
    items = lines.index("Action items due this week (2)")
    assert lines[items + 1].startswith("• A-1 due 2026-03-03") and "OVERDUE" in lines[items + 1]
    assert lines[items + 2] == "• A-2 due 2026-03-06 (UTC): book the venue (S-1)"
    assert "A-3" not in reply.body  # next week
    meetings = lines.index("Visits and meetings this week (1)")
    # 10:00 in New York; Anna has not answered the invitation yet.
    assert lines[meetings + 1] == "• M-1 Thu 05 Mar 2026 16:00: Convoy review · not answered yet"
    assert "V-1" not in reply.body and "M-2" not in reply.body
    assert len(lines) <= SCREEN_LINES


async def test_an_empty_week_says_so_in_one_line(core: BotCore) -> None:
    await people(core)
    [reply] = await ok(core, ANNA, "!brief", DM_ANNA)
    assert reply.body == (
        "Your week from Mon 02 Mar 2026 (times in Europe/Paris): nothing waiting for you or "
        "on others, no action items due, no visits or meetings."
    )


async def test_one_screen_the_rest_as_a_count_and_the_command(core: BotCore) -> None:
    await people(core)
    for n in range(45):  # more than a screen: the last ones are counted, never loaded
        await ok(core, BOB, f"!request {ANNA} Question {n}", DM_BOB)
    await ok(core, SEC, '!summit open "DefMin" from=2026-03-10 to=2026-03-12', SUMMIT_ROOM)
    for n in range(25):
        await ok(core, SEC, f"!actions add S-1 {ANNA} due=2026-03-05 -- task {n}", SUMMIT_ROOM)
    [reply] = await ok(core, ANNA, "!brief", DM_ANNA)
    lines = reply.body.splitlines()
    assert len(lines) <= SCREEN_LINES
    assert "Waiting for you (45)" in lines and "Action items due this week (25)" in lines
    more = [line.strip() for line in lines if line.strip().startswith("… and")]
    shown_requests = sum(1 for line in lines if line.startswith("• LR-"))
    shown_items = sum(1 for line in lines if line.startswith("• A-"))
    assert more == [
        f"… and {45 - shown_requests} more: !requests incoming",
        f"… and {25 - shown_items} more: !actions list owner=me",
    ]
    assert lines[lines.index("Waiting for you (45)") + 1].startswith("• LR-1 ")  # oldest first


async def test_brief_in_the_readers_language(core: BotCore) -> None:
    await people(core)
    await ok(core, ANNA, "!lang fr", DM_ANNA)
    await ok(core, BOB, f"!request {ANNA} Convoi due=2026-03-03", DM_BOB)
    [reply] = await ok(core, ANNA, "!brief", DM_ANNA)
    assert reply.body.startswith("Votre semaine du lun. 2 mars 2026 (heures en Europe/Paris)")
    assert "En attente de votre part (1)" in reply.body
    assert "LR-1 de @bob:test : Convoi · échéance" in reply.body


async def test_meeting_lines_carry_the_answers_to_the_invitation(core: BotCore) -> None:
    await people(core)
    await ok(core, BOB, f"!meeting 2026-03-05 10:00 with={ANNA},{CARL} -- Convoy review", DM_BOB)
    [item_id] = [r[0] for r in await core.query("SELECT id FROM schedule_items")]
    async with core.store.write() as db:
        await save_answer(db, item_id, ANNA, Answer(ACCEPTED, "", core.clock.now()))
        await save_answer(db, item_id, CARL, Answer(TENTATIVE, "maybe late", core.clock.now()))
    [anna] = await ok(core, ANNA, "!brief", DM_ANNA)
    assert "• M-1 Thu 05 Mar 2026 16:00: Convoy review · you: accepted" in anna.body
    [bob] = await ok(core, BOB, "!brief", DM_BOB)  # the organiser: the tally
    assert "Convoy review · 1 accepted, 0 declined, 1 tentative" in bob.body


# -- releasability ----------------------------------------------------------------------------


@pytest.fixture
async def marked(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=store_url,
        marking_levels=["UNCLASSIFIED", "RESTRICTED"],
    ).open()
    try:
        await people(bot)
        for who, nation in ((ANNA, "FRA"), (BOB, "FRA"), (CARL, "DEU")):
            await ok(bot, ADMIN, f"!dir person {who} nation={nation}", "!dm-admin:test")
        yield bot
    finally:
        await bot.close()


async def test_marked_lines_show_their_banner_and_what_is_not_released_is_not_there(
    marked: BotCore,
) -> None:
    core = marked
    await ok(core, BOB, f"!request {ANNA} Convoy marking=RESTRICTED rel=FRA", DM_BOB)
    await ok(core, BOB, f"!request {ANNA} Plain one", DM_BOB)
    await ok(
        core,
        ANNA,
        f"!meeting 2026-03-05 10:00 with={CARL} marking=RESTRICTED rel=FRA,DEU -- Both",
        DM_ANNA,
    )
    # Anna's nation changes: LR-1 (REL TO FRA) is no longer released to her.
    await ok(core, ADMIN, f"!dir person {ANNA} nation=DEU", "!dm-admin:test")
    [reply] = await ok(core, ANNA, "!brief", DM_ANNA)
    assert "LR-1" not in reply.body and "Convoy" not in reply.body
    assert "Waiting for you (1)" in reply.body  # no count includes it
    assert "• M-1 · RESTRICTED // REL TO FRA, DEU · Thu 05 Mar 2026 10:00: Both" in reply.body
    assert reply.content.get("body") == reply.body
    # In a shared room the marked line is its ID and marking only.
    [in_room] = await ok(core, ANNA, "!brief", ROOM)
    assert "Both" not in in_room.body
    assert "M-1 · RESTRICTED // REL TO FRA, DEU: (RESTRICTED: not shown here" in in_room.body
    # The DM reply holds M-1: the outbox routes it by M-1's marking as it is when it leaves.
    rows = await core.query("SELECT content FROM outbox ORDER BY id DESC LIMIT 2")
    assert '"holds": ["M-1"]' in rows[1][0] and '"holds"' not in rows[0][0]


# -- the weekly DM --------------------------------------------------------------------------


async def start(core: BotCore) -> int:
    """What the bot does at every start (bot/app.py): plan briefs for who has one on."""
    async with core.store.write() as db:
        ctx = Context(db, core.settings, core.registry, core.clock.now())
        return await brief_plan.reconcile(ctx)


async def test_weekly_brief_on_each_persons_monday_in_two_zones_once_across_restarts(
    tmp_path: Path, clock: FakeClock, store_url: str
) -> None:
    clock.set(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))  # after 08:00 in Paris and New York
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        await people(core)
        await ok(core, BOB, "!lang fr", DM_BOB)
        [on] = await ok(core, ANNA, "!brief weekly on", DM_ANNA)
        assert "the first on Mon 09 Mar 2026 08:00 Europe/Paris" in on.body
        await ok(core, BOB, "!brief weekly on", DM_BOB)
        await ok(core, BOB, f"!meeting 2026-03-10 10:00 with={ANNA} -- Convoy review", DM_BOB)
        jobs = await briefs(core)
        assert pending_for(jobs, ANNA) == [datetime(2026, 3, 9, 7, tzinfo=UTC)]
        # New York moved to EDT on Sunday 8 March: Bob's 08:00 is 12:00 UTC.
        assert pending_for(jobs, BOB) == [datetime(2026, 3, 9, 12, tzinfo=UTC)]
        clock.set(datetime(2026, 3, 9, 6, 59, tzinfo=UTC))
        assert dms(await core.fire_due(), ANNA) == []
        clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
        sent = await core.fire_due()
        [anna] = dms(sent, ANNA)
        assert anna.startswith("Your week from Mon 09 Mar 2026 (times in Europe/Paris)\n")
        # 10:00 in New York (EDT since Sunday) is 15:00 in Paris (CET until the 29th).
        assert "• M-1 Tue 10 Mar 2026 15:00: Convoy review · not answered yet" in anna
        assert anna.endswith("Sent each Monday at 08:00 your time; !brief weekly off stops it.")
        assert "late" not in anna
        assert [m for m in sent if m.user_id == BOB] == []
    finally:
        await core.close()
    # A restart at 07:30 UTC: nothing again for Anna; Bob's comes at his 08:00, in French.
    clock.set(datetime(2026, 3, 9, 7, 30, tzinfo=UTC))
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    await core.new_messages()
    try:
        assert await start(core) == 0  # nothing to plan again: both pending in their zone
        assert dms(await core.fire_due(), ANNA) == []
        clock.set(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
        sent = await core.fire_due()
        [bob] = [m.body for m in sent if m.user_id == BOB]
        assert bob.startswith("Votre semaine du lun. 9 mars 2026 (heures en America/New_York)")
        assert "• M-1 mar. 10 mars 2026 10:00 : Convoy review" in bob
        assert [m for m in sent if m.user_id == ANNA] == []
        jobs = await briefs(core)
        assert pending_for(jobs, ANNA) == [datetime(2026, 3, 16, 7, tzinfo=UTC)]
        assert pending_for(jobs, BOB) == [datetime(2026, 3, 16, 12, tzinfo=UTC)]
        assert [(r, s) for r, s, _due in jobs if s == "done"] == [(ANNA, "done"), (BOB, "done")]
    finally:
        await core.close()


async def test_a_dst_week_brief_comes_at_0800_summer_time(core: BotCore) -> None:
    clock = core.clock
    await people(core)
    clock.set(datetime(2026, 3, 23, 8, 0, tzinfo=UTC))  # Monday 23 March, 09:00 CET
    await ok(core, ANNA, "!brief weekly on", DM_ANNA)
    # Sunday 29 March 23:30 CEST is in the week of the 23rd; 30 March 00:30 is not.
    await ok(core, BOB, f"!meeting 2026-03-29 23:30 Europe/Paris with={ANNA} -- Late call", DM_BOB)
    await ok(core, BOB, f"!meeting 2026-03-30 00:30 Europe/Paris with={ANNA} -- Next week", DM_BOB)
    [now] = await ok(core, ANNA, "!brief", DM_ANNA)
    assert "M-1 Sun 29 Mar 2026 23:30: Late call" in now.body and "M-2" not in now.body
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 30, 6, tzinfo=UTC)]
    clock.set(datetime(2026, 3, 30, 6, 0, tzinfo=UTC))  # 08:00 CEST
    [brief] = dms(await core.fire_due(), ANNA)
    assert brief.startswith("Your week from Mon 30 Mar 2026 (times in Europe/Paris)")
    assert "M-2 Mon 30 Mar 2026 00:30: Next week" not in brief  # before 08:00: already past
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 4, 6, 6, tzinfo=UTC)]


async def test_a_brief_missed_while_down_comes_late_once(core: BotCore) -> None:
    clock = core.clock
    await people(core)
    await ok(core, ANNA, "!brief weekly on", DM_ANNA)
    # The bot is down from before Monday 9 March until Wednesday 25 March.
    clock.set(datetime(2026, 3, 25, 10, 0, tzinfo=UTC))
    sent = await core.fire_due()
    [late] = dms(sent, ANNA)
    assert late.startswith(
        "Your week from Mon 23 Mar 2026 (times in Europe/Paris) "
        "(sent late: I was offline when it was due)"
    )
    assert dms(await core.fire_due(), ANNA) == []
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 30, 6, tzinfo=UTC)]
    # An on-time brief carries the outbox's late note instead, should sending be held up.
    clock.set(datetime(2026, 3, 30, 6, 0, tzinfo=UTC))
    await core.fire_due()
    rows = await core.query("SELECT content FROM outbox WHERE user_id = ? ORDER BY id", ANNA)
    assert '"late_note_after": null' in rows[-2][0] and '"late_note_after": 60.0' in rows[-1][0]


async def test_a_zone_change_moves_the_brief_but_never_brings_a_second_one(core: BotCore) -> None:
    clock = core.clock
    clock.set(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))  # after 08:00 in Paris and New York
    await people(core)
    await ok(core, ANNA, "!brief weekly on", DM_ANNA)
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 9, 7, tzinfo=UTC)]
    await ok(core, ANNA, "!tz America/New_York", DM_ANNA)
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 9, 12, tzinfo=UTC)]
    await ok(core, ADMIN, f"!dir person {ANNA} tz=Europe/Paris", "!dm-admin:test")
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 9, 7, tzinfo=UTC)]
    clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    assert len(dms(await core.fire_due(), ANNA)) == 1
    # Briefed in Paris; flying to New York at 09:00 UTC, before 08:00 there: not again.
    clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await ok(core, ANNA, "!tz America/New_York", DM_ANNA)
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 16, 12, tzinfo=UTC)]
    clock.set(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    assert dms(await core.fire_due(), ANNA) == []


async def test_off_cancels_and_bad_input_changes_nothing(core: BotCore) -> None:
    await people(core)
    await ok(core, ANNA, "!brief weekly on", DM_ANNA)
    [shown] = await ok(core, ANNA, "!brief weekly", DM_ANNA)
    assert (
        shown.body
        == "Your brief comes each Monday at 08:00 (Europe/Paris). !brief weekly off stops it."
    )
    sent = await core.say(ANNA, "!brief weekly maybe", room_id=DM_ANNA)
    assert (
        "'maybe' is not on or off" in sent[0].body and "Example: !brief weekly on" in sent[0].body
    )
    assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 9, 7, tzinfo=UTC)]
    [off] = await ok(core, ANNA, "!brief weekly off", DM_ANNA)
    assert off.body == "Weekly brief off. !brief still shows your week whenever you ask."
    assert pending_for(await briefs(core), ANNA) == []
    core.clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    assert dms(await core.fire_due(), ANNA) == []


async def test_help_and_did_you_mean(core: BotCore) -> None:
    [typo] = await core.say(ANNA, "!breif")
    assert "Did you mean !brief?" in typo.body
    [help_] = await core.say(ANNA, "!help brief weekly")
    assert "!brief weekly [<setting>]" in help_.body and "Example: !brief weekly on" in help_.body


async def test_nobody_off_the_allow_list_gets_a_brief(
    tmp_path: Path, clock: FakeClock, store_url: str
) -> None:
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        await people(core)
        await ok(core, ANNA, "!brief weekly on", DM_ANNA)
    finally:
        await core.close()
    core = BotCore(tmp_path, clock, database_url=store_url, allowed_servers=["other"])
    await core.open()
    await core.new_messages()
    try:
        clock.set(datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
        assert dms(await core.fire_due(), ANNA) == []
        assert pending_for(await briefs(core), ANNA) == [datetime(2026, 3, 16, 7, tzinfo=UTC)]
    finally:
        await core.close()


async def test_the_deployment_default_plans_for_people_who_chose_neither(
    tmp_path: Path, clock: FakeClock, store_url: str
) -> None:
    clock.set(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))  # after 08:00 in Paris and New York
    core = await BotCore(tmp_path, clock, database_url=store_url, brief_default="on").open()
    try:
        await people(core)  # each command that touches a person plans their brief
        await ok(core, ANNA, "!brief weekly off", DM_ANNA)  # Anna chose: off
        await ok(core, ADMIN, f"!dir person {CARL} tz=Asia/Tokyo", "!dm-admin:test")
        jobs = await briefs(core)
        assert pending_for(jobs, CARL) == [datetime(2026, 3, 8, 23, tzinfo=UTC)]  # 08:00 Tokyo
        assert pending_for(jobs, BOB) == [datetime(2026, 3, 9, 12, tzinfo=UTC)]
        assert pending_for(jobs, SEC) == [datetime(2026, 3, 9, 8, tzinfo=UTC)]  # UTC, the default
        assert pending_for(jobs, ANNA) == []
        # Someone the directory seed brought in while the bot was down: planned at start.
        async with core.store.write() as db:
            await set_person(db, DORA, clock.now(), timezone="Australia/Sydney")
        assert await start(core) == 1
        assert pending_for(await briefs(core), DORA) == [datetime(2026, 3, 8, 21, tzinfo=UTC)]
        jobs = await briefs(core)
        assert await start(core) == 0 and await briefs(core) == jobs
    finally:
        await core.close()
    # The operator turns the default off: at the next start only explicit choices remain.
    core = await BotCore(tmp_path, clock, database_url=store_url).open()
    try:
        await ok(core, BOB, "!brief weekly on", DM_BOB)
        await start(core)
        jobs = await briefs(core)
        assert {ref for ref, state, _ in jobs if state == "pending"} == {BOB}
    finally:
        await core.close()
