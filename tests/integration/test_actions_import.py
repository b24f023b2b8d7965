"""Minutes into action items end to end: a 20-line import with three mistakes, then the
corrected one confirmed by an encrypted ✅; real bot process, real Synapse, E2EE clients."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm, replied_to
from tests.integration.test_liaison import react_encrypted, wait_any

pytestmark = pytest.mark.integration


def day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def minutes(owners: list[str], mistakes: bool) -> list[str]:
    """20 action lines over the owners; with `mistakes`, lines 4, 9 and 15 are wrong."""
    lines = [
        f"{owners[i % len(owners)]} due={day(20 + i)} -- action {i + 1} of the minutes"
        for i in range(20)
    ]
    if mistakes:
        lines[3] = f"FR-PARSI due={day(23)} -- action 4 of the minutes"
        lines[8] = f"{owners[0]} due={day(-400)} -- action 9 of the minutes"
        lines[14] = f"{owners[2]} due={day(34)} marking=RESTRICTD -- action 15 of the minutes"
    return lines


async def send_import(person: TestClient, room: str, lines: list[str]) -> tuple[str, Any]:
    """As Element sends a message of several lines: the plain body, and formatted_body with
    the lines joined by <br>; the bot reads the plain body."""
    text = "\n".join(["!actions import S-1", "# Actions agreed in the plenary", *lines])
    content = {
        "msgtype": "m.text",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": "<br />".join(html.escape(line) for line in text.split("\n")),
    }
    event_id = await person.send(room, content)
    reply = await person.wait_for_message(room, lambda e: replied_to(e) == event_id, timeout=60)
    return event_id, reply


def problems(body: str) -> list[str]:
    return [line for line in body.split("\n") if line.startswith("• Line")]


def corrections(body: str) -> list[str]:
    return [
        line.strip().removeprefix("Corrected: ")
        for line in body.split("\n")
        if line.strip().startswith("Corrected: ")
    ]


async def test_minutes_with_three_mistakes_then_the_corrected_import_confirmed(
    bot_factory, people, synapse
) -> None:
    admin = await people("admin")
    sec = await people("sec")
    o1, o2, o3 = [await people(n, auto_join=True) for n in ("olga", "anne", "paul")]
    everyone = [p.user_id for p in (admin, sec, o1, o2, o3)]
    bot: BotProcess = bot_factory(allowed_users=everyone, admins=[admin.user_id])
    admin_dm = await open_dm(admin, bot)
    for text in (
        f"!dir person {sec.user_id} role=secretariat",
        f'!dir person {o1.user_id} name="Olga"',
        f'!dir person {o2.user_id} name="Anne" lang=fr',
        f'!dir post FR-PARIS name="Paris DATT" members={o3.user_id}',
    ):
        _, reply = await command(admin, admin_dm, text)
        assert "is for" not in reply.body, reply.body
    room = await open_dm(sec, bot)
    _, reply = await command(sec, room, '!summit open "Plenary"')
    assert reply.body.startswith("S-1 opened"), reply.body
    owners = [o1.user_id, o2.user_id, "FR-PARIS"]

    # 20 lines, three of them wrong: the preview names exactly those, each corrected.
    _, preview = await send_import(sec, room, minutes(owners, True))
    assert preview.decrypted
    found = problems(preview.body)
    assert [p.split(":")[0] for p in found] == ["• Line 5", "• Line 10", "• Line 16"], found
    assert "Did you mean FR-PARIS?" in found[0] and "in the past" in found[1]
    assert "not a marking level" in found[2]
    fixed = corrections(preview.body)
    assert fixed[0] == f"FR-PARIS due={day(23)} -- action 4 of the minutes"
    assert fixed[1].startswith(f"{o1.user_id} due=") and day(-400) not in fixed[1]
    _, reply = await command(sec, room, "!actions list S-1")
    assert "No action items match" in reply.body  # nothing was created

    # The corrected import, confirmed with a ✅ on its preview (encrypted, as Element does).
    lines = minutes(owners, False)
    lines[3], lines[8] = fixed[0], fixed[1]
    _, preview = await send_import(sec, room, lines)
    assert not problems(preview.body) and "React with ✅" in preview.body, preview.body
    await react_encrypted(sec, room, preview.event_id)
    done = await sec.wait_for_message(
        room, lambda e: replied_to(e) == preview.event_id and "created" in e.body, timeout=60
    )
    assert done.decrypted and "20 items created in S-1" in done.body, done.body

    # Each owner is told once, with all their items (Anne in French). A later item for
    # each of them is a marker: the bot sends a person's DMs in order, so once the marker
    # is there, any second message about the import would have been too.
    expected = {o1: 7, o2: 7, o3: 6}
    for person, count in expected.items():
        _, told = await wait_any(person, lambda e: "• A-" in e.body, timeout=60)
        assert told.decrypted and told.body.count("• A-") == count, told.body
    french = next(ev for _, ev in o2.received if "nouvelles actions" in ev.body)
    assert "Vous êtes responsable de 7 nouvelles actions dans S-1" in french.body
    for person, owner in ((o1, o1.user_id), (o2, o2.user_id), (o3, "FR-PARIS")):
        _, reply = await command(sec, room, f"!actions add S-1 {owner} due={day(60)} -- marker")
        assert "added" in reply.body
        await wait_any(person, lambda e: "marker" in e.body)
        about_import = [ev for _, ev in person.received if "new action item" in ev.body]
        about_import += [ev for _, ev in person.received if "nouvelles actions" in ev.body]
        assert len(about_import) == 1, [ev.body for ev in about_import]

    # A second ✅ creates nothing more: the 20 items and the 3 markers, no more.
    await react_encrypted(sec, room, preview.event_id, key="✔️")
    _, reply = await command(sec, room, "!show A-23")
    assert "marker" in reply.body
    _, reply = await command(sec, room, "!show A-24")
    assert "No action item A-24" in reply.body
    stored = await synapse.aroom_messages_as_admin(room)
    assert {e["type"] for e in stored if "state_key" not in e} == {"m.room.encrypted"}
