"""!dir handover on the fake clock: what moves, what stays (and why), who is told once,
dry-run and bad input change nothing, undo within a day and not after, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock, Sent

ADMIN = "@admin:test"
OLD = "@olga:test"  # FR-PARIS, leaving
NEW = "@nina:test"  # her successor: cleared for nothing marked above UNCLASSIFIED
CARL = "@carl:test"  # DE-BERLIN: her counterpart on requests and a meeting
SEC = "@sec:test"  # the secretariat that gave her an action item
ROOM = "!summit:test"
LEVELS = ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"]


@pytest.fixture
async def world(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    """LR-1 Olga → DE-BERLIN, LR-2 Carl → FR-PARIS, LR-3 Olga → DE-BERLIN marked RESTRICTED,
    A-1 owned by Olga (S-1), M-1 Olga's meeting with Carl; Olga is FR-PARIS's member."""
    core = await BotCore(tmp_path, clock, database_url=store_url, marking_levels=LEVELS).open()
    try:
        for user in (ADMIN, OLD, NEW, CARL, SEC):
            await core.dm_with(user, dm(user))
        for text in (
            f'!dir post FR-PARIS name="Paris DATT" members={OLD}',
            f'!dir post DE-BERLIN name="Berlin DATT" members={CARL}',
            f'!dir person {OLD} name="Olga" nation=FRA post=FR-PARIS',
            f'!dir person {NEW} name="Nina" nation=FRA clearance=UNCLASSIFIED',
            f'!dir person {CARL} name="Carl" nation=DEU',
            f"!dir person {SEC} role=secretariat nation=FRA",
            f"!dir person {ADMIN} nation=FRA",
        ):
            await ok(core, ADMIN, text)
        await ok(core, OLD, "!request DE-BERLIN Visit of the CHOD -- dates?")
        await ok(core, CARL, "!request FR-PARIS Port call -- which berth?")
        await ok(
            core,
            OLD,
            "!request DE-BERLIN Convoy route -- the pass marking=RESTRICTED rel=FRA,DEU",
        )
        await ok(core, SEC, '!summit open "DefMin" from=2026-03-10', ROOM)
        await ok(core, SEC, f"!actions add S-1 {OLD} due=2026-03-20 -- draft the communiqué", ROOM)
        await ok(core, OLD, f"!meeting 2026-03-05 10:00 with={CARL} -- Attachés' lunch")
        await core.new_messages()
        yield core
    finally:
        await core.close()


def dm(user: str) -> str:
    """Each person's direct chat with the bot."""
    return f"!dm-{user[1:].split(':')[0]}:test"


async def ok(core: BotCore, sender: str, text: str, room: str | None = None) -> list[Sent]:
    sent = await core.say(sender, text, room_id=room or dm(sender))
    assert await outcome(core) == "ok", (text, [m.body for m in sent])
    return sent


async def outcome(core: BotCore) -> str:
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    return str(rows[0][0])


async def holders(core: BotCore) -> list[object]:
    """Who holds what: the rows a hand-over changes (not their timestamps)."""
    out: list[object] = []
    for sql in (
        "SELECT id, requester, target FROM liaison_requests ORDER BY id",
        "SELECT request_id, user_id FROM liaison_addressees ORDER BY 1, 2",
        "SELECT key, request_id, side, user_id FROM liaison_threads ORDER BY key",
        "SELECT id, owner_kind, owner FROM action_items ORDER BY id",
        "SELECT kind, number, creator FROM schedule_items ORDER BY id",
        "SELECT item_id, who FROM schedule_participants ORDER BY 1, 2",
        "SELECT post, user_id FROM post_members ORDER BY 1, 2",
        "SELECT user_id, post FROM people ORDER BY 1",
        "SELECT COUNT(*) FROM handovers",
    ):
        out.append([tuple(r) for r in await core.query(sql)])
    return out


def to(sent: list[Sent], user: str) -> list[Sent]:
    return [m for m in sent if m.user_id == user]


async def test_a_dry_run_shows_the_plan_and_changes_nothing(world: BotCore) -> None:
    before = await holders(world)
    [reply] = await ok(world, ADMIN, f"!dir handover {OLD} {NEW} dry-run")
    assert await holders(world) == before
    body = reply.body
    assert "dry run: nothing changed" in body
    moves = body.split("Would move:")[1].split("Post:")[0]
    for oid in ("LR-1", "LR-2", "A-1", "M-1"):
        assert f"• {oid} — " in moves, body
    assert "LR-3" not in moves and "Post: FR-PARIS" in body
    # What stays, with the marking's reason (to an admin).
    stays = body.split("Stays with")[1]
    assert (
        "LR-3 — requester: Convoy route" in stays
        and "their clearance does not cover RESTRICTED" in stays
    )
    assert "2 other people would be told" in body


async def test_the_hand_over_moves_everything_open_and_tells_each_person_once(
    world: BotCore,
) -> None:
    sent = await ok(world, ADMIN, f"!dir handover {OLD} {NEW} -- welcome, Nina")
    # The store: every open thing of hers is Nina's, the marked request stays with Olga.
    requests = await world.query("SELECT id, requester FROM liaison_requests ORDER BY id")
    assert [tuple(r) for r in requests] == [(1, NEW), (2, CARL), (3, OLD)]
    assert [
        tuple(r)
        for r in await world.query("SELECT user_id FROM liaison_addressees WHERE request_id = 2")
    ] == [(NEW,)]
    assert (await world.query("SELECT owner FROM action_items WHERE id = 1"))[0][0] == NEW
    assert (await world.query("SELECT creator FROM schedule_items"))[0][0] == NEW
    members = await world.query("SELECT user_id FROM post_members WHERE post = 'FR-PARIS'")
    assert [r[0] for r in members] == [NEW]
    people = dict(tuple(r) for r in await world.query("SELECT user_id, post FROM people"))
    assert people[NEW] == "FR-PARIS" and people[OLD] is None

    # One message each: the successor, the leaving person, each counterpart; the reply.
    [mine] = to(sent, NEW)
    for oid in ("LR-1", "LR-2", "A-1", "M-1"):
        assert f"{oid} — " in mine.body, mine.body
    assert "LR-3" not in mine.body and "Post: FR-PARIS" in mine.body
    assert "welcome, Nina" in mine.body
    [carl] = to(sent, CARL)
    assert "your contact is now" in carl.body
    assert {"LR-1", "LR-2", "M-1"} == {
        o for o in ("LR-1", "LR-2", "M-1", "LR-3", "A-1") if o in carl.body
    }
    [sec] = to(sent, SEC)
    assert "A-1" in sec.body and "LR-1" not in sec.body
    [olga] = to(sent, OLD)
    assert "Still yours:" in olga.body and "LR-3" in olga.body
    assert "not releasable to them" in olga.body  # not her successor's clearance
    assert "clearance" not in olga.body
    [reply] = [m for m in sent if m.room_id == dm(ADMIN)]
    assert reply.body.startswith("H-1: handed over from")
    assert "!dir handover undo H-1" in reply.body
    assert "their clearance does not cover RESTRICTED" in reply.body
    assert len(sent) == 5
    # Each message to a person names the objects it holds: routed by their markings.
    assert all(m.content for m in sent)

    # The history of every moved object records it.
    for oid in ("LR-1", "LR-2", "A-1", "M-1", "H-1"):
        rows = await world.query(
            "SELECT actor, old, new FROM history WHERE object = ? AND action = 'handover'", oid
        )
        assert [tuple(r) for r in rows] == [(ADMIN, OLD, NEW)], oid
    assert not await world.query(
        "SELECT 1 FROM history WHERE object = 'LR-3' AND action = 'handover'"
    )


async def test_the_successor_takes_over_the_threads(world: BotCore) -> None:
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    await world.new_messages()
    relayed = await ok(world, CARL, "!reply LR-1 Dates: 12-14 May.")
    assert [m.thread_key for m in relayed if m.user_id == NEW] == [f"LR-1:{NEW}"]
    assert not to(relayed, OLD)
    # Nina answers Carl's request, which was Olga's to answer.
    answered = await ok(world, NEW, "!answer LR-2 -- berth 4")
    assert to(answered, CARL)
    refused = await world.say(OLD, "!answer LR-2 -- berth 5", room_id=dm(OLD))
    assert await outcome(world) == "user_error", [m.body for m in refused]


async def test_the_leaving_person_may_hand_over_their_own(world: BotCore) -> None:
    sent = await ok(world, OLD, f"!dir handover {OLD} {NEW} post=FR-PARIS")
    assert not to(sent, OLD)  # the reply is her summary
    [reply] = [m for m in sent if m.room_id == dm(OLD)]
    assert "H-1" in reply.body and "not releasable to them" in reply.body
    assert "clearance" not in reply.body  # a marking's reason is an admin's business


@pytest.mark.parametrize(
    ("sender", "text", "said"),
    [
        (ADMIN, f"!dir handover @ghost:test {NEW}", "I know nothing of"),
        (ADMIN, f"!dir handover {OLD} @ghost:test", "is not in the directory"),
        (ADMIN, f"!dir handover {OLD} {OLD}", "is named twice"),
        (CARL, f"!dir handover {OLD} {NEW}", "Only an admin may hand over"),
        (ADMIN, f"!dir handover {OLD} {NEW} post=DE-BERLIN", "is not a member of DE-BERLIN"),
        (ADMIN, f"!dir handover {OLD} {NEW} now", "write dry-run"),
        (ADMIN, f"!dir handover olga {NEW}", "is not a Matrix ID"),
        (ADMIN, f"!dir handover {OLD} @nina:elsewhere.org", "is not in the directory"),
    ],
)
async def test_bad_input_is_refused_with_an_example_and_changes_nothing(
    world: BotCore, sender: str, text: str, said: str
) -> None:
    before = await holders(world)
    [reply] = await world.say(sender, text, room_id=dm(sender))
    assert await outcome(world) == "user_error"
    assert said in reply.body and "Example: !dir handover " in reply.body, reply.body
    assert await holders(world) == before


async def test_undo_within_a_day_puts_everything_back(world: BotCore, clock: FakeClock) -> None:
    before = await holders(world)
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    await world.new_messages()
    clock.advance(hours=23)
    sent = await ok(world, ADMIN, "!dir handover undo H-1")
    after = await holders(world)
    assert after[:-1] == before[:-1] and after[-1] == [(1,)]
    [back] = to(sent, OLD)
    assert "Yours again:" in back.body and "LR-1" in back.body
    [gone] = to(sent, NEW)
    assert "No longer yours:" in gone.body
    [carl] = to(sent, CARL)
    assert "Your contact is" in carl.body and "again" in carl.body
    rows = await world.query("SELECT COUNT(*) FROM history WHERE action = 'handover undone'")
    assert rows[0][0] == 5  # LR-1, LR-2, A-1, M-1 and H-1
    [listed] = await ok(world, ADMIN, "!dir handovers")
    assert "H-1" in listed.body and "undone" in listed.body
    [again] = await world.say(ADMIN, "!dir handover undo H-1", room_id=dm(ADMIN))
    assert "was undone already" in again.body
    # The example is made for the reader: none of theirs left to undo, so where to look.
    assert again.body.endswith("Send !dir handovers for yours."), again.body


async def test_undo_is_refused_after_a_day(world: BotCore, clock: FakeClock) -> None:
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    clock.advance(hours=25)
    before = await holders(world)
    [reply] = await world.say(ADMIN, "!dir handover undo H-1", room_id=dm(ADMIN))
    assert "more than a day ago" in reply.body
    assert f"Example: !dir handover {NEW} {OLD} dry-run" in reply.body
    assert await holders(world) == before


async def test_undo_is_refused_once_something_moved_on(world: BotCore) -> None:
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    await ok(world, NEW, "!ack LR-2")
    before = await holders(world)
    [reply] = await world.say(ADMIN, "!dir handover undo H-1", room_id=dm(ADMIN))
    assert await outcome(world) == "user_error"
    assert "cannot be undone: LR-2 changed since" in reply.body
    assert await holders(world) == before


async def test_only_its_maker_or_an_admin_may_undo(world: BotCore) -> None:
    await ok(world, OLD, f"!dir handover {OLD} {NEW}")
    [reply] = await world.say(NEW, "!dir handover undo H-1", room_id=dm(NEW))
    assert "Only an admin or" in reply.body
    assert reply.body.endswith("Send !dir handovers for yours."), reply.body
    [hidden] = await world.say(CARL, "!dir handover undo H-1", room_id=dm(CARL))
    assert "No hand-over H-1 that you can see" in hidden.body
    # Olga mistypes the ID: the example names her own hand-over, which she may undo.
    [typo] = await world.say(OLD, "!dir handover undo H-9", room_id=dm(OLD))
    assert "No hand-over H-9" in typo.body
    assert "Example: !dir handover undo H-1" in typo.body, typo.body
    [extra] = await world.say(OLD, "!dir handover undo H-1 dry-run", room_id=dm(OLD))
    assert "takes the hand-over's ID only" in extra.body
    assert "Example: !dir handover undo H-1" in extra.body, extra.body
    await ok(world, OLD, "!dir handover undo H-1")


async def test_exactly_once_when_the_command_arrives_twice(world: BotCore) -> None:
    first = await world.say(
        ADMIN, f"!dir handover {OLD} {NEW}", room_id=dm(ADMIN), event_id="$once"
    )
    again = await world.say(
        ADMIN, f"!dir handover {OLD} {NEW}", room_id=dm(ADMIN), event_id="$once"
    )
    assert first and not again
    assert await world.count("handovers") == 1


async def test_the_successor_reads_it_in_their_language(world: BotCore) -> None:
    await ok(world, NEW, "!lang fr")
    await ok(world, CARL, "!lang de")
    await world.new_messages()
    sent = await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    [mine] = to(sent, NEW)
    assert mine.body.startswith("Vous détenez désormais"), mine.body
    [carl] = to(sent, CARL)
    assert "Ansprechpartner" in carl.body, carl.body
    [reply] = [m for m in sent if m.room_id == dm(ADMIN)]
    assert reply.body.startswith("H-1: ")


async def test_in_a_room_a_marked_line_is_its_id_only(world: BotCore) -> None:
    [reply] = await ok(world, ADMIN, f"!dir handover {OLD} {NEW} dry-run", ROOM)
    assert "LR-3 — requester: (RESTRICTED: not shown here; ask me in a direct chat)" in reply.body
    assert "Convoy" not in reply.body and "Visit of the CHOD" in reply.body


async def test_a_post_kept_and_a_request_between_the_two_stay(world: BotCore) -> None:
    await ok(world, ADMIN, f"!dir post NATO-HQ add={OLD}")
    await ok(world, CARL, "!request NATO-HQ Exercise dates")  # LR-4, Olga answers for NATO-HQ
    await ok(world, OLD, f"!request {NEW} Keys to the office")  # LR-5, between the two
    sent = await ok(world, ADMIN, f"!dir handover {OLD} {NEW} post=FR-PARIS")
    [reply] = [m for m in sent if m.room_id == dm(ADMIN)]
    stays = reply.body.split("Stays with")[1]
    assert "LR-4 — addressee: Exercise dates (it is addressed to NATO-HQ, which stays" in stays
    assert "LR-5 — requester: Keys to the office (the successor is its other party)" in stays
    members = await world.query("SELECT post, user_id FROM post_members ORDER BY 1, 2")
    assert (("FR-PARIS", NEW) in [tuple(r) for r in members]) and (
        ("NATO-HQ", OLD) in [tuple(r) for r in members]
    )
    assert (await world.query("SELECT requester FROM liaison_requests WHERE id = 5"))[0][0] == OLD


async def test_a_counterpart_learns_nothing_of_what_is_not_released_to_them(
    world: BotCore,
) -> None:
    fred = "@fred:test"
    await ok(world, ADMIN, f"!dir person {NEW} clearance=RESTRICTED")
    await ok(world, ADMIN, f"!dir person {fred} nation=FRA")
    await ok(world, ADMIN, f"!dir post DE-BERLIN add={fred}")
    # LR-4 to DE-BERLIN released to FRA only: Carl (DEU) is an addressee it was kept from.
    await ok(world, OLD, "!request DE-BERLIN Paris only -- x marking=RESTRICTED rel=FRA")
    await world.new_messages()
    sent = await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    [carl] = to(sent, CARL)
    assert "LR-4" not in carl.body and "Paris only" not in carl.body
    assert "LR-3" in carl.body  # released to DEU: his to know
    [told] = to(sent, fred)
    assert "LR-4" in told.body and "LR-1" not in told.body  # joined after LR-1 was sent
    [mine] = to(sent, NEW)
    assert "LR-3" in mine.body and "LR-4" in mine.body  # cleared now: both moved


async def test_help_and_did_you_mean(world: BotCore) -> None:
    [typo] = await world.say(OLD, f"!handvoer {OLD} {NEW}", room_id=dm(OLD))
    assert "Did you mean !handover?" in typo.body, typo.body
    [sub] = await world.say(ADMIN, f"!dir handvoer {OLD} {NEW}", room_id=dm(ADMIN))
    assert "Choose one of: handover, handovers," in sub.body, sub.body
    # The short form, for an attaché handing over their own desk.
    [mine] = await ok(world, OLD, f"!handover {OLD} {NEW} dry-run")
    assert "dry run: nothing changed" in mine.body
    [shown] = await world.say(ADMIN, "!help dir handover", room_id=dm(ADMIN))
    assert shown.body.startswith("!dir handover <old> <new> [<mode>] [post=…] [-- note]")
    [example] = [line for line in shown.body.splitlines() if "Example: " in line]
    command = example.split("Example: ")[1]
    # Made from this directory (Carl is DE-BERLIN's member), and it works as shown: a dry
    # run, so that copying it moves nobody's desk.
    assert command == f"!dir handover {CARL} {NEW} post=DE-BERLIN dry-run", command
    [plan] = await ok(world, ADMIN, command)
    assert "Would move:" in plan.body and "Post: DE-BERLIN" in plan.body


async def test_each_moved_object_shows_the_hand_over_in_its_history(world: BotCore) -> None:
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    for oid in ("LR-1", "A-1", "M-1"):
        [shown] = await ok(world, NEW, f"!show {oid}")
        assert "hand-over" in shown.body and "H-1" in shown.body, shown.body
    await ok(world, NEW, "!lang de")
    [shown] = await ok(world, NEW, "!show LR-2")
    assert "Übergabe" in shown.body, shown.body


async def test_show_a_hand_over_names_only_what_the_reader_may_see(world: BotCore) -> None:
    await ok(world, ADMIN, f"!dir person {NEW} clearance=RESTRICTED")
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW} -- welcome")
    [shown] = await ok(world, NEW, "!show H-1")
    assert shown.body.startswith("H-1: from Olga")
    for line in (
        "• LR-1 — requester",
        "• LR-2 — addressee",
        "• LR-3 — requester",
        "Post: FR-PARIS",
    ):
        assert line in shown.body, shown.body
    assert "Note from" in shown.body and "can be undone until" in shown.body
    # The admin is American now: LR-3 (released to FRA and DEU) is not named to them.
    await ok(world, ADMIN, f"!dir person {ADMIN} nation=USA")
    [admin] = await ok(world, ADMIN, "!show H-1")
    assert "LR-1" in admin.body and "LR-3" not in admin.body
    [hidden] = await world.say(CARL, "!show H-1", room_id=dm(CARL))
    assert "No hand-over H-1 that you can see" in hidden.body


async def test_exactly_once_across_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    """The same event after a restart (a replayed sync) hands over nothing a second time."""

    async def started() -> BotCore:
        return await BotCore(tmp_path, clock, marking_levels=LEVELS).open()

    core = await started()
    try:
        for text in (
            f"!dir post FR-PARIS members={OLD}",
            f"!dir person {OLD} nation=FRA",
            f"!dir person {NEW} nation=FRA",
        ):
            await ok(core, ADMIN, text)
        await ok(core, OLD, "!request @carl:test Visit -- dates?")
        first = await core.say(
            ADMIN, f"!dir handover {OLD} {NEW}", event_id="$h", room_id=dm(ADMIN)
        )
        assert any(m.user_id == NEW for m in first)
    finally:
        await core.close()
    core = await started()
    try:
        await core.new_messages()  # what the first run queued
        again = await core.say(
            ADMIN, f"!dir handover {OLD} {NEW}", event_id="$h", room_id=dm(ADMIN)
        )
        assert not again
        assert await core.count("handovers") == 1
        rows = await core.query("SELECT COUNT(*) FROM history WHERE action = 'handover'")
        assert rows[0][0] == 2  # LR-1 and H-1, once each
    finally:
        await core.close()


async def test_the_successor_answers_the_meetings_they_now_attend(world: BotCore) -> None:
    """Olga's answer stays hers (not counted once she is no longer invited); Nina answers."""
    await ok(world, CARL, f"!meeting 2026-03-06 09:00 with={OLD} -- Port visit prep")  # M-2
    await ok(world, OLD, "!rsvp M-2 yes")
    await ok(world, ADMIN, f"!dir handover {OLD} {NEW}")
    [shown] = await ok(world, CARL, "!show M-2")
    assert "Answers: 1 not answered yet" in shown.body, shown.body
    await ok(world, NEW, "!rsvp M-2 maybe -- first week in post")
    [shown] = await ok(world, CARL, "!show M-2")
    assert "Answers: 1 tentative" in shown.body, shown.body


async def test_handed_over_from_a_room_the_leaving_person_also_gets_it_in_full(
    world: BotCore,
) -> None:
    sent = await ok(world, OLD, f"!dir handover {OLD} {NEW}", ROOM)
    [reply] = [m for m in sent if m.room_id == ROOM]
    assert "(RESTRICTED: not shown here; ask me in a direct chat)" in reply.body
    [summary] = to(sent, OLD)
    assert "LR-3 — requester: Convoy route (not releasable to them)" in summary.body
