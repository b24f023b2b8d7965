"""Only the sender's own words command the bot, over real E2EE on Synapse (issue 22,
finding 2): Mallory posts a pill whose text says Bob but whose link is her; an admin
replies to it, as Element does (the quoted message in `<mx-reply>` and `> ` lines), with
`!dir person @bob… nation=FRA clearance=RESTRICTED`. Bob gets the nation and clearance,
Mallory nothing. A pill in the admin's own text still counts when its text is the linked
person's name, and a pill whose text names someone else counts for nothing."""

from __future__ import annotations

import sqlite3

import pytest

from bot.app import STORE_FILE
from tests.harness.bot import BotProcess
from tests.integration.conftest import command, replied_to

pytestmark = pytest.mark.integration

MARKINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}


def directory_row(bot: BotProcess, user_id: str) -> tuple[str | None, str | None] | None:
    """(nation, clearance) the bot's directory holds for a person."""
    with sqlite3.connect(f"file:{bot.data_dir / STORE_FILE}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT nation, clearance FROM people WHERE user_id = ?", (user_id,)
        ).fetchone()
    return (row[0], row[1]) if row else None


def pill(user_id: str, text: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{text}</a>'


def element_reply(
    original: str,
    sender: str,
    quoted_plain: str,
    quoted_html: str,
    own: str,
    own_html: str,
    room_id: str,
) -> dict:
    """A rich reply exactly as Element (before MSC2781) sends it."""
    return {
        "msgtype": "m.text",
        "body": f"> <{sender}> {quoted_plain}\n\n{own}",
        "format": "org.matrix.custom.html",
        "formatted_body": (
            f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{original}'
            f'?via=localhost">In reply to</a> {pill(sender, sender)}<br>{quoted_html}'
            f"</blockquote></mx-reply>{own_html}"
        ),
        "m.relates_to": {"m.in_reply_to": {"event_id": original}},
    }


async def test_a_reply_to_a_lying_pill_commands_for_the_person_the_admin_wrote(
    bot_factory, people
) -> None:
    admin = await people("admin")
    mallory = await people("mallory", auto_join=True)
    bob = await people("bob", auto_join=True)
    await bob.client.set_displayname("Bob Example")
    await mallory.client.set_displayname(bob.user_id)  # her name even reads as his ID
    bot: BotProcess = bot_factory(
        allowed_users=[admin.user_id, mallory.user_id, bob.user_id],
        admins=[admin.user_id],
        settings=MARKINGS,
    )
    room = await admin.create_encrypted_dm(bot.user_id, wait_joined=30)
    for other in (mallory, bob):
        await admin.client.room_invite(room, other.user_id)
        await admin.wait_joined(room, other.user_id, timeout=30)
    # Once the bot answers the last to join, its sync has seen every member and name.
    await command(bob, room, "!ping", timeout=60)

    # Mallory's message: the pill's text is Bob's ID, its link is Mallory.
    trap = await mallory.send_text(
        room,
        bob.user_id,
        extra={
            "format": "org.matrix.custom.html",
            "formatted_body": pill(mallory.user_id, bob.user_id),
        },
    )
    own = f"!dir person {bob.user_id} nation=FRA clearance=RESTRICTED"
    reply = element_reply(
        trap, mallory.user_id, bob.user_id, pill(mallory.user_id, bob.user_id), own, own, room
    )
    sent = await admin.send(room, reply)
    answer = await admin.wait_for_message(room, lambda e: replied_to(e) == sent, timeout=30)
    assert bob.user_id in answer.body and mallory.user_id not in answer.body
    assert directory_row(bot, bob.user_id) == ("FRA", "RESTRICTED")
    assert directory_row(bot, mallory.user_id) is None

    # The same reply without formatted_body (a plain client): the quote is dropped too.
    plain = {k: v for k, v in reply.items() if k not in ("format", "formatted_body")}
    plain["body"] = plain["body"].replace("nation=FRA", "nation=DEU")
    sent = await admin.send(room, plain)
    await admin.wait_for_message(room, lambda e: replied_to(e) == sent, timeout=30)
    assert directory_row(bot, bob.user_id) == ("DEU", "RESTRICTED")
    assert directory_row(bot, mallory.user_id) is None

    # The admin's own pill counts where its text is the linked person's name …
    body = "!dir person Bob Example nation=FRA"
    html = f"!dir person {pill(bob.user_id, 'Bob Example')} nation=FRA"
    sent = await admin.send_text(
        room, body, extra={"format": "org.matrix.custom.html", "formatted_body": html}
    )
    await admin.wait_for_message(room, lambda e: replied_to(e) == sent, timeout=30)
    assert directory_row(bot, bob.user_id) == ("FRA", "RESTRICTED")
    # … and for nothing where its text names someone else: the typed text is refused.
    html = f"!dir person {pill(mallory.user_id, 'Bob Example')} nation=USA"
    sent = await admin.send_text(
        room,
        "!dir person Bob Example nation=USA",
        extra={"format": "org.matrix.custom.html", "formatted_body": html},
    )
    refused = await admin.wait_for_message(room, lambda e: replied_to(e) == sent, timeout=30)
    assert "is not a Matrix ID" in refused.body
    assert directory_row(bot, bob.user_id) == ("FRA", "RESTRICTED")
    assert directory_row(bot, mallory.user_id) is None
