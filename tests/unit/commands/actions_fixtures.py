"""Shared setup for the action-item unit tests: a directory, a summit, two items."""

from __future__ import annotations

from tests.harness.fakes import BotCore

ADMIN = "@admin:test"
SEC = "@sec:test"
OWNER = "@owner:test"
PARIS = "@paris:test"
MEMBER = "@member:test"  # an attaché in the summit room who owns nothing
OUTSIDER = "@outsider:test"  # an attaché elsewhere who owns nothing
ROOM = "!summit:test"
DM = "!dm:test"


async def seed(core: BotCore) -> None:
    """Directory by command (as an admin would), then S-1 with A-1 (OWNER), A-2 (FR-PARIS)."""
    await core.bot_in_room("!other:test")  # an encrypted room the bot is in, for room=
    for text in (
        f'!dir post FR-PARIS name="Paris DATT" members={PARIS}',
        f'!dir person {SEC} role=secretariat name="Sam Secretariat"',
        f'!dir person {OWNER} name="Olga Owner" tz=Europe/Paris',
    ):
        sent = await core.say(ADMIN, text, room_id=DM)
        assert "is for" not in sent[0].body, sent[0].body
    await say_ok(core, SEC, '!summit open "NATO DefMin" from=2026-03-10 to=2026-03-12', ROOM)
    await say_ok(
        core, SEC, f"!actions add S-1 {OWNER} due=2026-03-20 -- draft the communiqué", ROOM
    )
    await say_ok(core, SEC, "!actions add S-1 FR-PARIS due=2026-03-25 -- book the venue", ROOM)


async def say_ok(core: BotCore, sender: str, text: str, room: str = ROOM) -> list:
    sent = await core.say(sender, text, room_id=room)
    outcome = (await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1"))[
        0
    ][0]
    assert outcome == "ok", (text, [m.body for m in sent])
    return sent
