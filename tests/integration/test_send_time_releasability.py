"""Releasability decided at send time, over real E2EE on Synapse (issue 22, findings 1, 3,
4, 8): a DM that gains a member is a room (joined, or invited and joining later to read the
history), a marked agenda file is marked and routed, a queued invitation re-marked before
it leaves follows the new marking, and a level the operator removed fails closed in a CSV
export. Who was left out is told to the sender alone, in their DM."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from nio import MegolmEvent, RoomEncryptedFile
from nio.crypto.attachments import decrypt_attachment

from bot.app import STORE_FILE
from bot.outbox.queue import enqueue
from bot.store import Store
from commands.context import OutMessage, utc_iso
from commands.markings import Marking
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any
from tests.integration.test_marking_wiring import seed

pytestmark = pytest.mark.integration

SETTINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}
BANNER = "RESTRICTED // REL TO FRA, DEU"
SUBJECT = "Convoy route north"
TITLE = "Escort planning"


async def set_clearance(bot: BotProcess, user_id: str, clearance: str) -> None:
    store = Store(bot.data_dir / STORE_FILE)
    await store.open()
    try:
        async with store.write() as db:
            await db.execute(
                "UPDATE people SET clearance = ? WHERE user_id = ?", (clearance, user_id)
            )
    finally:
        await store.close()


async def history(person: TestClient, room_id: str) -> list[str]:
    """Every bot message body this person can read in the room's history, from the server
    (what a member who joined later reads by scrolling up), decrypted where they can."""
    bodies: list[str] = []
    token: str | None = person.client.next_batch
    for _ in range(10):
        resp: Any = await person.client.room_messages(room_id, start=token, limit=100)
        chunk = getattr(resp, "chunk", None)
        if not chunk:
            break
        for event in chunk:
            if isinstance(event, MegolmEvent):
                try:
                    event = person.client.decrypt_event(event)
                except Exception:  # no key for it: nothing she can read
                    event = None
            body = getattr(event, "body", None)
            if isinstance(body, str):
                bodies.append(body)
        token = resp.end
    return bodies


def files_from(person: TestClient, bot: BotProcess, room_id: str | None = None) -> list[Any]:
    return [
        e
        for room, e in person.received
        if isinstance(e, RoomEncryptedFile)
        and e.sender == bot.user_id
        and (room_id is None or room == room_id)
    ]


async def file_text(person: TestClient, event: Any) -> str:
    download = await person.client.download(mxc=event.url)
    plain = decrypt_attachment(download.body, event.key["k"], event.hashes["sha256"], event.iv)
    return plain.decode("utf-8")


async def _marked_dm_world(bot_factory: Any, people: Any, *, uma_joins: bool) -> tuple[Any, ...]:
    """Anne (FRA, RESTRICTED) with a marked request to Bernd (DEU) and a marked meeting in
    her DM with the bot; Uma (USA) in the directory."""
    anne = await people("anne", auto_join=True)
    bernd = await people("bernd", auto_join=True)
    uma = await people("uma", auto_join=uma_joins)
    everyone = [p.user_id for p in (anne, bernd, uma)]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(anne, "FRA", ""), (bernd, "DEU", ""), (uma, "USA", "")])
    await set_clearance(bot, anne.user_id, "RESTRICTED")
    await bot.astart()
    dm = await open_dm(anne, bot)
    _, made = await command(
        anne,
        dm,
        f"!request {bernd.user_id} {SUBJECT} -- via the pass marking=RESTRICTED rel=FRA,DEU",
        timeout=60,
    )
    assert SUBJECT in made.body, made.body
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    _, made = await command(
        anne, dm, f"!meeting {day} 10:00 marking=RESTRICTED rel=FRA,DEU -- {TITLE}", timeout=60
    )
    assert TITLE in made.body, made.body
    return bot, anne, bernd, uma, dm


def _reply_to(event: Any) -> str | None:
    relates = (event.source.get("content") or {}).get("m.relates_to") or {}
    return (relates.get("m.in_reply_to") or {}).get("event_id")


async def _ask_everything(anne: TestClient, dm: str) -> list[str]:
    """The four commands of the finding; the answers Anne got (in the room, or in another
    one if the bot decides at send time that the room is no longer her DM). Waits for all
    four, but returns what came so that the leak is what a failure reports."""
    asked = [
        await anne.send_text(dm, text)
        for text in ("!requests", "!agenda 7", "!ics agenda 7", f"!whois {anne.user_id}")
    ]

    def answers() -> list[str]:
        return [
            e.body for _, e in anne.received if _reply_to(e) in asked or "so I answer" in e.body
        ]

    with contextlib.suppress(TimeoutError):
        await anne._wait_until(lambda: len(answers()) >= 4 or None, 90, "four answers")
    await asyncio.sleep(3)  # anything late would have arrived by now
    return answers()


async def test_dm_that_gains_a_member_answers_as_a_room(bot_factory, people) -> None:
    bot, anne, _bernd, uma, dm = await _marked_dm_world(bot_factory, people, uma_joins=True)
    await anne.client.room_invite(dm, uma.user_id)
    await anne.wait_joined(dm, uma.user_id, timeout=30)

    answers = await _ask_everything(anne, dm)
    # Nothing of the marked objects or of Anne's clearance reaches Uma...
    seen = [e.body for room, e in uma.received if e.sender == bot.user_id]
    assert not [b for b in seen if SUBJECT in b or TITLE in b], seen
    assert not [b for b in seen if "time zone" in b and "RESTRICTED" in b], seen
    for event in files_from(uma, bot):
        assert TITLE not in await file_text(uma, event)
    # ...and Anne is answered, as in a room.
    assert len(answers) >= 4 and any("LR-1" in a for a in answers), answers


async def test_dm_invited_then_joined_reads_nothing_from_history(bot_factory, people) -> None:
    _bot, anne, _bernd, uma, dm = await _marked_dm_world(bot_factory, people, uma_joins=False)
    await anne.client.room_invite(dm, uma.user_id)
    invited = await uma.wait_invited(timeout=30)
    assert invited == dm

    await _ask_everything(anne, dm)
    await uma.join(dm, timeout=30)
    await asyncio.sleep(3)  # the keys she may be sent, if any, have arrived by now
    read = await history(uma, dm) + [e.body for r, e in uma.received if r == dm]
    assert read, "the history holds at least Anne's commands"
    assert not [b for b in read if SUBJECT in b or TITLE in b], read
    assert not [b for b in read if "time zone" in b and "RESTRICTED" in b], read


async def test_marked_agenda_file_is_marked_and_routed(bot_factory, people) -> None:
    bot, anne, _bernd, uma, dm = await _marked_dm_world(bot_factory, people, uma_joins=True)
    await command(anne, dm, "!ics agenda 7", timeout=60)
    file_event = await anne.wait_for_message(
        dm, lambda e: isinstance(e, RoomEncryptedFile) and e.sender == bot.user_id, timeout=60
    )
    # The file carries the combined marking: its caption's first line, and inside it.
    assert file_event.body.startswith(f"{BANNER}\n"), file_event.body
    text = await file_text(anne, file_event)
    assert TITLE in text and "X-ATTACHE-MARKING:RESTRICTED // REL TO FRA, DEU" in text, text
    assert "X-WR-CALNAME:[RESTRICTED" in text

    # The same file asked for in a room with an American member: not to that room.
    room = await anne.create_encrypted_dm(bot.user_id, wait_joined=30)
    await anne.client.room_invite(room, uma.user_id)
    await anne.wait_joined(room, uma.user_id, timeout=30)
    await command(uma, room, "!ping", timeout=60)
    await command(anne, room, "!ics agenda 7", timeout=60)
    await asyncio.sleep(3)
    for event in files_from(uma, bot):
        assert TITLE not in await file_text(uma, event)
    assert not [e for r, e in uma.received if TITLE in e.body]


async def test_queued_invitation_re_marked_before_delivery_is_not_delivered(
    bot_factory, people
) -> None:
    anne = await people("anne", auto_join=True)  # FRA, the organiser
    bernd = await people("bernd", auto_join=False)  # DEU, joins his DM only when told to
    everyone = [anne.user_id, bernd.user_id]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(anne, "FRA", ""), (bernd, "DEU", "")])
    await bot.astart()
    dm = await open_dm(anne, bot)
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    _, made = await command(
        anne,
        dm,
        f"!meeting {day} 10:00 with={bernd.user_id} to=dm marking=RESTRICTED rel=FRA,DEU "
        f"-- {TITLE}",
        timeout=60,
    )
    assert made.body.startswith(BANNER), made.body
    # The bot has invited Bernd to a DM and waits for him to join before it sends.
    invited = await bernd.wait_invited(timeout=60)
    # Re-marked so that Bernd is no longer covered: he leaves the participants in the same
    # edit (a re-mark that would exclude a remaining participant is refused, see
    # tests/unit/commands/test_uncovered_parties.py); his invitation is already queued.
    _, edited = await command(anne, dm, f"!edit M-1 rel=FRA with={anne.user_id}", timeout=60)
    assert "M-1" in edited.body and "REL TO FRA" in edited.body, edited.body
    await bernd.join(invited, timeout=30)

    def outcome() -> bool | None:
        told = [e for _, e in anne.received if "I did not send M-1" in e.body]
        return bool(told or [e for _, e in bernd.received if TITLE in e.body]) or None

    with contextlib.suppress(TimeoutError):
        await anne._wait_until(outcome, 90, "the invitation's fate")
    await asyncio.sleep(3)
    assert not [e.body for _, e in bernd.received if TITLE in e.body]
    # Anne is told, in her DM, that it did not go to Bernd, and why (never his clearance).
    room, told = await wait_any(anne, lambda e: "I did not send M-1" in e.body, timeout=30)
    assert room == dm and bernd.user_id in told.body and "(DEU)" in told.body, told.body
    assert not [e for _, e in bernd.undecryptable if e.sender == bot.user_id]


async def test_removed_level_withholds_a_csv_export(bot_factory, people) -> None:
    sam = await people("sam", auto_join=True)  # FRA, secretariat
    franz = await people("franz", auto_join=True)  # FRA
    everyone = [sam.user_id, franz.user_id]
    settings = {**SETTINGS, "max_marking": "CONFIDENTIAL"}
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=settings)
    await seed(bot, [(sam, "FRA", "secretariat"), (franz, "FRA", "")])
    await bot.astart()
    # The summit room: Franz's room with the bot, Sam invited (not Sam's DM).
    room = await franz.create_encrypted_dm(bot.user_id, wait_joined=30)
    await franz.client.room_invite(room, sam.user_id)
    await franz.wait_joined(room, sam.user_id, timeout=30)
    await command(sam, room, "!ping", timeout=60)
    await command(sam, room, '!summit open "DefMin"', timeout=60)
    due = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    secret = "the confidential annex"
    for level, text in (("RESTRICTED", "the restricted part"), ("CONFIDENTIAL", secret)):
        _, added = await command(
            sam,
            room,
            f"!actions add S-1 {franz.user_id} due={due} marking={level} rel=FRA -- {text}",
            timeout=60,
        )
        assert "added" in added.body, added.body

    # The operator removes CONFIDENTIAL from the levels and restarts the bot.
    await bot.astop()
    config = yaml.safe_load(bot.config_path.read_text(encoding="utf-8"))
    config.update(marking_levels=["UNCLASSIFIED", "RESTRICTED"], max_marking="RESTRICTED")
    bot.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    await bot.astart()

    await command(sam, room, "!actions export S-1 csv", timeout=60)
    # An item at a level that is no longer configured is released to nobody: the export
    # leaves it out when it is made (commands/markings/access.py), and a file queued before
    # the level went is withheld when sent (an unknown level ranks above every known one:
    # tests/unit/test_recipients.py). Either way its text reaches no one.
    await franz._wait_until(lambda: files_from(franz, bot, room) or None, 60, "the export")
    await asyncio.sleep(3)  # anything else would have arrived by now
    texts = [await file_text(p, e) for p in (sam, franz) for e in files_from(p, bot)]
    assert texts and all(secret not in text for text in texts)
    assert any("the restricted part" in text for text in texts)


async def test_people_invited_before_the_bot_joined_count_as_members(bot_factory, people) -> None:
    """Finding 11: with lazy-loaded members the bot's client never sees an invitation sent
    before it joined; the server's /members does."""
    franz = await people("franz", auto_join=True)  # FRA
    uma = await people("uma", auto_join=False)  # USA, invited first, not joined
    everyone = [franz.user_id, uma.user_id]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(franz, "FRA", ""), (uma, "USA", "")])
    await bot.astart()
    room = await franz.create_encrypted_dm(uma.user_id)  # Uma invited, the bot not yet
    await uma.wait_invited(timeout=30)
    # A named room (Synapse then sends a lazy-loading client no "hero" members) where Uma's
    # invitation is older than the bot's first sync window (the bot asks for 100 timeline
    # events): the bot's client never learns of her from its sync.
    await franz.client.room_put_state(room, "m.room.name", {"name": "Convoy cell"})
    for n in range(105):
        await franz.client.room_put_state(room, "m.room.topic", {"topic": f"note {n}"})
    await franz.client.room_invite(room, bot.user_id)
    await franz.wait_joined(room, bot.user_id, timeout=30)
    await command(franz, room, "!ping", timeout=60)

    store = Store(bot.data_dir / STORE_FILE)
    await store.open()
    try:
        async with store.write() as db:
            now = utc_iso(datetime.now(UTC))
            marking = Marking("RESTRICTED", ("FRA", "DEU"))
            await db.execute(
                "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
                "created_at, updated_at, marking) VALUES (5, ?, 'DE-BERLIN', ?, 'routine', ?, "
                "?, ?)",
                (franz.user_id, SUBJECT, now, now, Marking.column(marking)),
            )
            message = OutMessage(
                body=f"LR-5: {SUBJECT}", room_id=room, marking=marking, about="LR-5"
            )
            await enqueue(db, [message], now)
    finally:
        await store.close()

    await wait_any(franz, lambda e: "LR-5" in e.body and e.sender == bot.user_id, timeout=60)
    await asyncio.sleep(3)
    in_room = [e.body for e in franz.messages(room) if e.sender == bot.user_id]
    assert not [b for b in in_room if SUBJECT in b], in_room
    assert [b for b in in_room if b.startswith(f"LR-5 ({BANNER}) is not shown in this room")]
