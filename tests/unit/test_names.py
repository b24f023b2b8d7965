"""People as Element shows them: display name (directory, else Matrix profile), the ID in
a pill link in the HTML, everything escaped; names come from member events seen in sync."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from nio import RoomMemberEvent

from commands.render import expand_people, person, plain
from tests.harness.fakes import BotCore, FakeClock, make_settings

A, B, C = "@a:test", "@b:test", "@c:test"


def member(user_id: str, name: str | None, membership: str = "join") -> RoomMemberEvent:
    content = {"membership": membership, **({"displayname": name} if name else {})}
    return RoomMemberEvent.from_dict(
        {
            "type": "m.room.member",
            "state_key": user_id,
            "sender": user_id,
            "event_id": f"$m-{user_id}-{name}",
            "origin_server_ts": 1,
            "content": content,
        }
    )


def test_a_marked_person_becomes_a_name_and_a_pill_with_everything_escaped() -> None:
    text = plain(f"from {person(A)} about <b>x</b>")
    body, html = expand_people(text.body, text.html, {A: 'Anna "<i>" Berg'})
    assert body == 'from Anna "<i>" Berg (@a:test) about <b>x</b>'
    assert html == (
        'from <a href="https://matrix.to/#/@a:test">Anna &quot;&lt;i&gt;&quot; Berg</a> '
        "about &lt;b&gt;x&lt;/b&gt;"
    )
    body, html = expand_people(text.body, text.html, {})
    assert body.startswith("from @a:test about")
    assert '<a href="https://matrix.to/#/@a:test">@a:test</a>' in (html or "")


def test_typed_text_cannot_forge_a_marker() -> None:
    forged = "\ue000deadbeef@a:test\ue001"
    body, html = expand_people(forged, forged, {A: "Anna"})
    assert "Anna" not in body and "<a " not in (html or "")


async def test_sync_remembers_profile_names_and_replies_use_them(tmp_path: Path) -> None:
    from bot.metrics import Metrics
    from bot.sync import SyncLoop

    core = await BotCore(tmp_path).open()
    try:
        loop = SyncLoop(
            client=SimpleNamespace(user_id="@bot:test"),  # type: ignore[arg-type]
            settings=make_settings(tmp_path),
            store=core.store,
            dispatcher=core.dispatcher,
            metrics=Metrics(),
            clock=FakeClock(),
        )
        await loop._remember_names([member(A, "Anna <Profile>"), member(B, None)])
        await loop._remember_names([member(C, "Carl"), member(C, "Carl", "leave")])
        rows = await core.query("SELECT user_id, display_name FROM profile_names ORDER BY 1")
        assert [tuple(r) for r in rows] == [(A, "Anna <Profile>"), (C, "Carl")]
        # A new name replaces the old one.
        await loop._remember_names([member(A, "Anna Berg")])
        rows = await core.query("SELECT display_name FROM profile_names WHERE user_id = ?", A)
        assert rows[0][0] == "Anna Berg"
    finally:
        await core.close()


async def test_the_directory_name_wins_over_the_profile_name(core: BotCore) -> None:
    from commands.people import display_names

    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO profile_names VALUES (?, 'Profile A', 'x'), (?, 'Profile B', 'x')",
            (A, B),
        )
    await core.say("@admin:test", f'!dir person {A} name="Directory A"')
    async with core.store.write() as db:
        names = await display_names(db, {A, B, C})
    assert names == {A: "Directory A", B: "Profile B", C: None}
