"""Liaison and markings in each reader's language: a French attaché's request to a German
post reads in German for its members (and its room) and in French for the sender; what comes
back reads in the requester's language; jobs write to each recipient in theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from commands.directory import store as directory
from commands.i18n import language
from commands.liaison.views import reread
from commands.markings import Marking, Policy, Subject
from commands.markings.routing import remark_messages, room_notice, with_banner, withheld_notice
from tests.harness.fakes import BotCore, FakeClock, Sent

A, B, C = "@a:test", "@b:test", "@c:test"  # Anna (fr), Bernd and Clara (de, DE-BERLIN)
ADMIN = "@admin:test"
POST_ROOM = "!berlin:test"


async def speak(core: BotCore, user_id: str, code: str) -> None:
    async with core.store.write() as db:
        await db.execute("UPDATE people SET language = ? WHERE user_id = ?", (code, user_id))


async def seed(core: BotCore, *, room_id: str | None = None) -> None:
    now = core.clock.now()
    async with core.store.write() as db:
        await directory.set_post(db, "DE-BERLIN", now, name="Berlin", room_id=room_id)
        for user_id, name in ((A, "Anna"), (B, "Bernd"), (C, "Clara"), (ADMIN, "Ops")):
            await directory.set_person(db, user_id, now, name=name)
        await directory.set_post(db, "DE-BERLIN", now, add=[B, C])
    await speak(core, A, "fr")
    await speak(core, B, "de")
    await speak(core, C, "de")


@pytest.fixture
async def lr(core: BotCore) -> BotCore:
    await seed(core)
    return core


def by_target(sent: list[Sent]) -> dict[str, Sent]:
    return {m.user_id or m.room_id or "": m for m in sent}


async def deliver(core: BotCore) -> None:
    """Every copy sent: people's to their DM (!room:test here, where they answer)."""
    for (key,) in await core.query("SELECT key FROM liaison_threads ORDER BY rowid"):
        await core.mark_sent(key, f"$root-{key}", room_id="!room:test")


# -- the request: each member in theirs, the sender in theirs ------------------------------


async def test_a_french_request_reaches_german_members_in_german(lr: BotCore) -> None:
    out = by_target(
        await lr.say(A, "!request DE-BERLIN Visite du CEMA -- dates ? precedence=priority")
    )
    for who in (B, C):
        body = out[who].body
        assert body.startswith("LR-1 · Vorrang · von Anna (@a:test) an DE-BERLIN"), body
        assert "Betreff: Visite du CEMA" in body
        assert "Antworten Sie in diesem Thread." in body and "!ack LR-1 zum Bestätigen" in body
    mine = out[A].body
    assert mine.startswith("LR-1 · prioritaire · de Anna (@a:test) à DE-BERLIN"), mine
    assert "Envoyée à : Bernd (@b:test), Clara (@c:test)" in mine
    assert "Objet : Visite du CEMA" in mine and "!close LR-1 lorsque vous êtes satisfait" in mine
    assert out["!room:test"].body.startswith("LR-1 envoyée à DE-BERLIN (2 personnes).")


async def test_the_post_room_reads_in_the_posts_language(core: BotCore) -> None:
    await seed(core, room_id=POST_ROOM)
    async with core.store.write() as db:
        await db.execute("UPDATE posts SET language = 'de' WHERE code = 'DE-BERLIN'")
    out = by_target(await core.say(A, "!request DE-BERLIN Visite du CEMA -- dates ?"))
    assert out[POST_ROOM].body.startswith("LR-1 · Routine · von Anna (@a:test) an DE-BERLIN")
    assert out[A].body.startswith("LR-1 · routine · de Anna")


async def test_an_english_post_room_stays_english_for_a_french_sender(core: BotCore) -> None:
    await seed(core, room_id=POST_ROOM)
    out = by_target(await core.say(A, "!request DE-BERLIN Visit -- dates?"))
    assert out[POST_ROOM].body.startswith("LR-1 · routine · from Anna (@a:test) to DE-BERLIN")
    assert "Reply in this thread to answer." in out[POST_ROOM].body


# -- what comes back: in the requester's language ------------------------------------------


async def test_ack_answer_and_relays_come_back_in_the_requesters_language(lr: BotCore) -> None:
    await lr.say(A, "!request DE-BERLIN Visite du CEMA -- dates ?")
    await deliver(lr)
    out = by_target(await lr.say(B, "!ack LR-1"))
    assert out[A].body == "LR-1 prise en compte par Bernd (@b:test)."
    assert out[C].body == "LR-1 von Bernd (@b:test) bestätigt."
    assert out["!room:test"].body == "LR-1 bestätigt; Anna (@a:test) wird benachrichtigt."

    out = by_target(await lr.say(C, "!reply LR-1 Termine folgen morgen."))
    assert out[A].body == "Clara (@c:test), DE-BERLIN sur LR-1 :\nTermine folgen morgen."
    assert out[B].body == "Clara (@c:test), DE-BERLIN zu LR-1:\nTermine folgen morgen."

    out = by_target(await lr.say(B, "!answer LR-1 -- 12.-14. Mai bestätigt."))
    assert out[A].body == "LR-1 répondue par Bernd (@b:test).\nNote : 12.-14. Mai bestätigt."
    assert out["!room:test"].body == (
        "LR-1 als beantwortet markiert; die anfragende Person wird benachrichtigt."
    )
    out = by_target(await lr.say(A, "!close LR-1 -- Merci."))
    assert out[B].body == "LR-1 von Anna (@a:test) abgeschlossen.\nAnmerkung: Merci."
    assert out["!room:test"].body == "LR-1 clôturée."


async def test_a_thread_reply_acknowledges_in_each_readers_words(lr: BotCore) -> None:
    await lr.say(A, "!request DE-BERLIN Visite -- dates ?")
    await deliver(lr)
    out = by_target(await lr.say(B, "Wir melden uns.", thread_root=f"$root-LR-1:{B}"))
    assert out[A].body == "Bernd (@b:test), DE-BERLIN sur LR-1 (prise en compte) :\nWir melden uns."
    assert out[C].body == "Bernd (@b:test), DE-BERLIN zu LR-1 (bestätigt):\nWir melden uns."


async def test_an_illegal_move_is_explained_in_the_movers_language(lr: BotCore) -> None:
    await lr.say(A, "!request DE-BERLIN Visite -- dates ?")
    (reply,) = await lr.say(A, "!close LR-1")
    assert reply.body.startswith(
        "LR-1 est ouverte ; elle ne peut être clôturée que lorsqu'elle est prise en compte ou "
        "répondue. Personne ne l'a encore prise en compte : annulez-la plutôt (!cancel LR-1)."
    ), reply.body


# -- jobs: each recipient in theirs ---------------------------------------------------------


async def test_escalation_reminds_and_escalates_in_each_recipients_language(lr: BotCore) -> None:
    await speak(lr, ADMIN, "de")
    await lr.say(A, "!request DE-BERLIN Visite du CEMA -- dates ? precedence=immediate")
    await deliver(lr)
    lr.clock.advance(minutes=30)
    first = by_target(await lr.fire_due())
    assert first[B].body.startswith(
        "Erinnerung: LR-1 (Sofort) von Anna (@a:test) ist nach 30 Min. nicht bestätigt.\n"
        "Betreff: Visite du CEMA\nReagieren Sie mit ✅ oder senden Sie !ack LR-1."
    ), first[B].body
    assert first[A].body == (
        "LR-1 n'est pas prise en compte après 30 min ; j'ai envoyé un rappel à DE-BERLIN."
    )
    lr.clock.advance(minutes=30)
    second = by_target(await lr.fire_due())
    assert second[ADMIN].body.startswith(
        "Eskalation: LR-1 (Sofort) von Anna (@a:test) an DE-BERLIN ist nach 1 Std. und "
        "2 Erinnerungen nicht bestätigt."
    ), second[ADMIN].body
    assert second[A].body.endswith("Les administrateurs en sont informés.")


async def test_a_late_due_nudge_reads_in_each_recipients_language(lr: BotCore) -> None:
    await lr.say(A, "!request DE-BERLIN Visite -- dates ? due=2026-03-10")
    await deliver(lr)
    lr.clock.advance(days=30)
    sent = by_target(await lr.fire_due())
    assert "arrivait à échéance le" in sent[A].body and "est toujours ouverte" in sent[A].body
    assert "war am" in sent[B].body and "ist noch offen" in sent[B].body
    assert "(Diese Erinnerung kommt" in sent[B].body and "(Ce rappel a" in sent[A].body


async def test_history_and_listing_read_in_the_readers_language(lr: BotCore) -> None:
    await lr.say(A, "!request DE-BERLIN Visite -- dates ?")
    await deliver(lr)
    await lr.react(B, f"$root-LR-1:{B}")
    (shown,) = await lr.say(A, "!request LR-1")
    assert "Historique" in shown.body and "prise en compte → prise en compte : par une " in (
        shown.body
    )
    (listing,) = await lr.say(B, "!requests")
    assert "Verbindungsanfragen (alle, aktiv)" in listing.body and "bestätigt" in listing.body


# -- markings --------------------------------------------------------------------------------


@pytest.fixture
async def mcore(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=store_url,
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"],
        max_marking="CONFIDENTIAL",
    ).open()
    try:
        await seed(bot)
        async with bot.store.write() as db:
            for user_id, nation in ((A, "FRA"), (B, "DEU")):
                await directory.set_person(db, user_id, clock.now(), nation=nation)
        yield bot
    finally:
        await bot.close()


async def test_a_markings_refusal_reads_in_french(mcore: BotCore) -> None:
    (reply,) = await mcore.say(A, "!request DE-BERLIN Visite -- x marking=RESTRICTED rel=DEU")
    assert reply.body.startswith(
        "rel=DEU n'inclut pas votre propre nation (FRA) : vous ne pourriez pas lire votre "
        "propre élément (demande)."
    ), reply.body
    assert "rel=FRA,DEU" in reply.body  # the example, fixed
    (reply,) = await mcore.say(A, "!request DE-BERLIN Visite -- x marking=SECRET rel=FRA")
    assert reply.body.startswith("Ce système peut porter au plus CONFIDENTIAL ;"), reply.body


async def test_who_was_left_out_and_why_reads_in_the_senders_language(mcore: BotCore) -> None:
    out = by_target(
        await mcore.say(A, "!request DE-BERLIN Visite -- x marking=RESTRICTED rel=FRA,DEU")
    )
    mine = out[A].body
    assert "Envoyée à : Bernd (@b:test)" in mine
    assert (
        "Non envoyée à Clara (@c:test) : cette personne n'a pas de nation dans l'annuaire et "
        "ne reçoit donc que des éléments non marqués"
    ) in mine
    record = await mcore.query("SELECT detail FROM audit WHERE action = 'lr.created'")
    assert record[0][0] == "to DE-BERLIN: @b:test"  # records stay in English


def test_banners_are_one_label_and_notices_take_the_recipients_language() -> None:
    """A banner is a formal label: the same text for every reader (issue 22, 9); the words
    around it are in the reader's language."""
    mark = Marking("RESTRICTED", ("FRA", "DEU"))
    content = {"body": "x", "formatted_body": "<p>x</p>"}
    assert with_banner(content, mark)["body"] == "RESTRICTED // REL TO FRA, DEU\nx"
    assert with_banner(content, mark, "fr")["body"] == "RESTRICTED // REL TO FRA, DEU\nx"
    de = with_banner(content, mark, "de")
    assert de["formatted_body"].startswith("<p><strong>RESTRICTED // REL TO FRA, DEU</strong>")
    with language("fr"):  # the current language does not leak into an explicit one
        assert room_notice("LR-4", mark, "de").startswith(
            "LR-4 (RESTRICTED // REL TO FRA, DEU) wird in diesem Raum nicht angezeigt"
        )
        assert mark.banner == mark.shown() == "RESTRICTED // REL TO FRA, DEU"
    policy = Policy(levels=("UNCLASSIFIED", "RESTRICTED"))
    reason = policy.exclusion(mark, Subject("@us:test", "USA"))
    assert reason == "their nation (USA) is not in REL TO FRA, DEU"
    assert reason is not None
    assert withheld_notice("LR-4", mark, [("Sam", reason)], "fr") == (
        "RESTRICTED // REL TO FRA, DEU : je n'ai pas envoyé LR-4 à Sam : sa nation "
        "(USA) ne figure pas dans REL TO FRA, DEU."
    )


def test_a_remarked_notice_goes_to_each_holder_in_theirs() -> None:
    policy = Policy(levels=("UNCLASSIFIED", "RESTRICTED"))
    holders = [Subject("@de:test", "DEU", language="de"), Subject("@us:test", "USA")]
    told, _newly = remark_messages(
        policy, "A-3", None, Marking("RESTRICTED", ("FRA",)), holders, [], "fr"
    )
    bodies = {m.user_id: m.body for m in told}
    assert bodies["@de:test"].startswith("A-3 wurde neu als RESTRICTED // REL TO FRA")
    assert bodies["@us:test"].startswith("A-3 a reçu un nouveau marquage, RESTRICTED //")


def test_history_details_written_by_the_bot_are_reread_in_the_readers_language() -> None:
    with language("de"):
        assert reread("reminder 2, admins told") == "Erinnerung 2, Administratoren benachrichtigt"
        # A record from before clearances were left out shows none either (issue 22, 7).
        old = reread("not sent to @c:test: their clearance (RESTRICTED) is below SECRET")
        assert old.startswith("nicht gesendet an @c:test: ") and "RESTRICTED" not in old
        assert "SECRET" in old
        assert reread("Termine folgen") == "Termine folgen"  # people's words as written
