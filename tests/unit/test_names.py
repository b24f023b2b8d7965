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
        await loop.membership.remember_names([member(A, "Anna <Profile>"), member(B, None)])
        await loop.membership.remember_names([member(C, "Carl"), member(C, "Carl", "leave")])
        rows = await core.query("SELECT user_id, display_name FROM profile_names ORDER BY 1")
        assert [tuple(r) for r in rows] == [(A, "Anna <Profile>"), (C, "Carl")]
        # A new name replaces the old one.
        await loop.membership.remember_names([member(A, "Anna Berg")])
        rows = await core.query("SELECT display_name FROM profile_names WHERE user_id = ?", A)
        assert rows[0][0] == "Anna Berg"
    finally:
        await core.close()


async def test_the_directory_name_wins_over_the_profile_name(core: BotCore) -> None:
    from commands.people import display_names

    await core.profile_name(A, "Profile A")
    await core.profile_name(B, "Profile B")
    await core.say("@admin:test", f'!dir person {A} name="Directory A"')
    async with core.store.write() as db:
        names = await display_names(db, {A, B, C})
    assert names == {A: "Directory A", B: "Profile B", C: None}


PILL = '<a href="https://matrix.to/#/{}">{}</a>'


async def _profile(core: BotCore, user_id: str, name: str) -> None:
    await core.profile_name(user_id, name)


async def test_a_request_names_both_sides_with_pills_and_mentions_only_the_addressee(
    core: BotCore,
) -> None:
    await _profile(core, A, "Anna <Profile>")  # not in the directory: her Matrix name
    await core.say("@admin:test", f'!dir person {B} name="Bernd Braun"', room_id="!dm:test")
    sent = await core.say(A, f"!request {B} Hotel list -- which hotels?")
    root = next(m for m in sent if m.user_id == B)
    assert root.body.startswith(
        "LR-1 · routine · from Anna <Profile> (@a:test) to Bernd Braun (@b:test)"
    )
    assert PILL.format(A, "Anna &lt;Profile&gt;") in (root.html or "")
    assert PILL.format(B, "Bernd Braun") in (root.html or "")
    assert root.content["m.mentions"] == {"user_ids": [B]}  # a pill is not a mention
    assert "\ue000" not in root.body and "\ue000" not in (root.html or "")


async def test_meeting_participants_and_item_owners_are_shown_by_name(core: BotCore) -> None:
    await _profile(core, B, "Bernd")
    sent = await core.say(A, f"!meeting tomorrow 10:00 with={B} -- Sync")
    assert "With: Bernd (@b:test)" in sent[0].body
    assert PILL.format(B, "Bernd") in (sent[0].html or "")
    assert sent[0].content["m.mentions"] == {}
    await core.say("@admin:test", f"!dir person {C} role=secretariat", room_id="!dm:test")
    await core.say(C, '!summit open "Summit"', room_id="!s:test")
    added = await core.say(C, f"!actions add S-1 {B} due=2026-04-01 -- draft", room_id="!s:test")
    assert "owner Bernd (@b:test)" in added[0].body
    assert PILL.format(B, "Bernd") in (added[0].html or "")


async def test_whois_shows_the_profile_name_of_someone_not_in_the_directory(
    core: BotCore,
) -> None:
    await _profile(core, B, "Bernd")
    shown = await core.say(A, f"!whois {B}")
    assert "name: Bernd (their Matrix profile)" in shown[0].body
