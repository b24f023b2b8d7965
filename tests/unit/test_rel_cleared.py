"""`rel=-` clears a releasability, as `-` clears every other option: `!edit M-1
marking=UNCLASSIFIED rel=-` was refused ("'-' is neither a nation nor a group"), so a marked
meeting could not be made unmarked again."""

from __future__ import annotations

from pathlib import Path

from tests.harness.fakes import BotCore

ADMIN, HANNA = "@zoe:test", "@hanna:test"


async def test_rel_dash_clears_and_a_marked_level_still_needs_a_rel(
    tmp_path: Path, store_url: str
) -> None:
    core = await BotCore(
        tmp_path,
        database_url=store_url,
        admins=[ADMIN],
        allowed_users=[HANNA],
        marking_levels=["UNCLASSIFIED", "RESTRICTED"],
    ).open()
    try:
        await core.say(ADMIN, f"!dir person {HANNA} nation=NLD clearance=RESTRICTED")
        await core.say(HANNA, "!meeting tomorrow 10:00 marking=RESTRICTED rel=NLD -- Konvoi")
        [refused] = await core.say(HANNA, "!edit M-1 rel=-")
        assert "must say who it is releasable to" in refused.body, refused.body
        sent = await core.say(HANNA, "!edit M-1 marking=UNCLASSIFIED rel=-")
        assert any("M-1" in m.body for m in sent), [m.body for m in sent]
        rows = await core.query("SELECT marking FROM schedule_items")
        assert [tuple(r) for r in rows] == [(None,)]
    finally:
        await core.close()
