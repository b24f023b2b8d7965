"""Summit action items end to end: real bot process, real Synapse, E2EE clients."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from nio.crypto.attachments import decrypt_attachment
from nio.events.room_events import RoomEncryptedFile

from commands.exports import CSV_HEADER
from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration


async def test_summit_items_done_visibility_and_encrypted_export(
    bot_factory, people, synapse
) -> None:
    admin = await people("admin")
    sec = await people("sec")
    owner1 = await people("owner1", auto_join=True)
    owner2 = await people("owner2", auto_join=True)
    outsider = await people("outsider")
    everyone = [p.user_id for p in (admin, sec, owner1, owner2, outsider)]
    bot: BotProcess = bot_factory(allowed_users=everyone, admins=[admin.user_id])

    # The admin gives the secretariat role (the directory, by command).
    admin_dm = await open_dm(admin, bot)
    _, reply = await command(admin, admin_dm, f"!dir person {sec.user_id} role=secretariat")
    assert "secretariat" in reply.body

    # The secretariat's summit room: the bot and one owner in it.
    room = await open_dm(sec, bot)
    await sec.client.room_invite(room, owner1.user_id)
    await sec.wait_joined(room, owner1.user_id, timeout=20)
    _, reply = await command(sec, room, '!summit open "Integration summit"')
    assert reply.body.startswith("S-1 opened")
    due = (date.today() + timedelta(days=30)).isoformat()
    _, r1 = await command(sec, room, f"!actions add S-1 {owner1.user_id} due={due} -- first task")
    _, r2 = await command(sec, room, f"!actions add S-1 {owner2.user_id} due={due} -- second task")
    assert r1.body.startswith("A-1 added") and r2.body.startswith("A-2 added")

    # An owner marks theirs done, in the summit room.
    _, reply = await command(owner1, room, "!actions done A-1 -- shipped")
    assert reply.body == "A-1 is now done: first task"
    assert reply.decrypted

    # Someone outside the room sees nothing of the summit, and is not told it exists.
    out_dm = await open_dm(outsider, bot)
    _, reply = await command(outsider, out_dm, "!actions list S-1")
    assert "No such summit that you can see" in reply.body
    _, reply = await command(outsider, out_dm, "!show A-2")
    assert "No action item A-2 that you can see" in reply.body
    assert "second task" not in reply.body

    # The room sees both, sorted and with status.
    _, reply = await command(owner1, room, "!actions list S-1 status=all")
    assert "A-1" in reply.body and "A-2" in reply.body and "done" in reply.body

    # The export arrives as an encrypted file; download, decrypt, parse.
    event_id, reply = await command(sec, room, "!actions export S-1 csv")
    assert "2 action item(s)" in reply.body
    file_event = await sec.wait_for_message(
        room,
        lambda e: replied_to(e) == event_id and isinstance(e, RoomEncryptedFile),
        timeout=30,
    )
    assert file_event.body == "S-1-actions.csv"
    download = await sec.client.download(mxc=file_event.url)
    ciphertext = download.body
    assert b"first task" not in ciphertext  # the server holds only ciphertext
    plain = decrypt_attachment(
        ciphertext, file_event.key["k"], file_event.hashes["sha256"], file_event.iv
    )
    rows = list(csv.reader(io.StringIO(plain.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    got = {(r[0], r[2], r[3], r[5]) for r in rows[1:]}
    assert got == {
        ("A-1", "first task", owner1.user_id, "done"),
        ("A-2", "second task", owner2.user_id, "open"),
    }
    stored = await synapse.aroom_messages_as_admin(room)
    assert {e["type"] for e in stored if "state_key" not in e} == {"m.room.encrypted"}
