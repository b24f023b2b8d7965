"""Action items, summits and exports in each reader's language (issue 15): a nudge in its
owner's, a digest in its summit room's (lang=), an export in its requester's; CSV stays English."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from actions_fixtures import ADMIN, DM, OWNER, ROOM, SEC, say_ok, seed

from commands.exports import CSV_HEADER
from tests.harness.fakes import BotCore


async def _lang(core: BotCore, user: str, code: str) -> None:
    await say_ok(core, user, f"!lang {code}", DM)


async def test_overdue_nudge_reads_german_for_its_owner_while_the_secretariat_reads_french(
    core: BotCore,
) -> None:
    await seed(core)
    await _lang(core, SEC, "fr")
    await _lang(core, OWNER, "de")
    sent = await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-03-05 -- Entwurf prüfen")
    reply = [m.body for m in sent if m.room_id == ROOM]
    told = [m.body for m in sent if m.user_id == OWNER]
    assert len(reply) == 1 and reply[0].startswith("A-3 ajoutée à S-1 : Entwurf prüfen")
    assert "responsable" in reply[0] and "échéance" in reply[0]
    assert len(told) == 1 and told[0].startswith("Sie sind verantwortlich für A-3 (S-1 NATO")
    assert "Wenn erledigt: !actions done A-3" in told[0]

    core.clock.set(datetime(2026, 3, 6, 0, 0, tzinfo=UTC))  # A-3 is overdue now
    nudges = [m.body for m in await core.fire_due() if m.user_id == OWNER]
    soon = [b for b in nudges if b.startswith("Erinnerung: A-3 ist fällig am ")]
    overdue = [b for b in nudges if b.startswith("A-3 ")]
    assert len(soon) == 1 and "(verspätet gesendet: " in soon[0]  # both came late, together
    assert len(overdue) == 1 and overdue[0].startswith("A-3 ist jetzt überfällig")
    assert "Entwurf prüfen (S-1 NATO DefMin)" in overdue[0]
    assert "!actions done A-3" in overdue[0] and "overdue" not in overdue[0]

    # The secretariat's view of the same item: French labels and status words.
    (shown,) = await core.say(SEC, "!show A-3", room_id=ROOM)
    assert "responsable : Olga Owner" in shown.body and "historique :" in shown.body
    assert "statut : ouverte, EN RETARD" in shown.body
    assert "créée" in shown.body


async def test_owner_sets_a_status_in_their_words_and_reads_the_reply_in_german(
    core: BotCore,
) -> None:
    await seed(core)
    await _lang(core, OWNER, "de")
    (reply,) = await say_ok(core, OWNER, "!actions status A-1 in Bearbeitung", DM)
    assert reply.body.startswith("A-1 hat jetzt den Status „in Bearbeitung“")
    (refused,) = await core.say(OWNER, "!actions status A-1 cancelled", room_id=DM)
    assert "(das darf nur das Sekretariat)" in refused.body
    (shown,) = await say_ok(core, OWNER, "!show A-1", DM)
    assert "Status: offen → in Bearbeitung" in shown.body and "Verlauf:" in shown.body
    listing = await say_ok(core, OWNER, "!actions list mine", DM)
    assert "Aufgaben" in listing[0].body and "Verantwortliche(r)" in listing[0].body


async def test_a_summit_opened_with_lang_de_posts_its_digest_in_german(core: BotCore) -> None:
    await say_ok(core, ADMIN, f"!dir person {SEC} role=secretariat", DM)
    await _lang(core, SEC, "fr")
    (refused,) = await core.say(SEC, '!summit open "Gipfel" lang=klingon', room_id=ROOM)
    assert "klingon" in refused.body and "lang=fr" in refused.body
    assert await core.count("summits") == 0
    (opened,) = await say_ok(core, SEC, '!summit open "Berliner Runde" lang=de')
    assert opened.body.startswith("S-1 ouvert : Berliner Runde.")  # the sender reads French
    assert "Deutsch (de)" in opened.body
    rows = await core.query("SELECT language FROM summits")
    assert [r[0] for r in rows] == ["de"]
    await say_ok(core, SEC, f"!actions add S-1 {OWNER} due=2026-03-03 -- Agenda verschicken")
    await say_ok(core, SEC, f"!actions add S-1 {SEC} due=2026-03-20 -- Saal buchen")

    core.clock.set(datetime(2026, 3, 5, 12, 0, tzinfo=UTC))
    digest = [m.body for m in await core.fire_due() if m.room_id == ROOM]
    assert len(digest) == 1, digest
    assert digest[0].startswith("S-1 Berliner Runde: 2 offene Aufgaben, 1 überfällig")
    assert "A-1 fällig" in digest[0] and "[offen, ÜBERFÄLLIG]" in digest[0]
    assert "verspätet gesendet" in digest[0]  # the bot was "offline" for two days

    # A reply in the summit's room now reads in the room's language, whoever asked: a room's
    # message is entirely in the room's language (issue 22).
    (details,) = await say_ok(core, SEC, "!show S-1")
    assert "Sprache: Deutsch (de)" in details.body

    await say_ok(core, SEC, "!summit edit S-1 lang=fr")
    core.clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    digest = [m.body for m in await core.fire_due() if m.room_id == ROOM]
    assert len(digest) == 1 and "2 actions ouvertes, 1 en retard" in digest[0]
    (bad,) = await core.say(SEC, "!edit S-1 lang=xx", room_id=ROOM)
    assert "lang" in bad.body and "!edit S-1 lang=de" in bad.body


async def test_a_summit_without_lang_shows_the_default(core: BotCore) -> None:
    await seed(core)
    (details,) = await say_ok(core, SEC, "!show S-1")
    assert "language: English (en), the default" in details.body


async def test_markdown_export_is_in_the_requesters_language(core: BotCore) -> None:
    await seed(core)
    await _lang(core, SEC, "fr")
    core.clock.set(datetime(2026, 3, 22, 12, 0, tzinfo=UTC))  # A-1 (due 03-20) is overdue
    sent = await say_ok(core, SEC, "!actions export S-1 md")
    assert sent[0].body.startswith("S-1 : 2 actions, heures en")
    text = sent[1].attachment.decode("utf-8")
    assert text.startswith("# S-1 NATO DefMin : actions\n")
    assert "Exporté le " in text and "celles en retard sont signalées **EN RETARD**" in text
    owner_section = text.split("## ")[1]
    assert owner_section.startswith("Olga Owner (@owner:test)")
    assert "- **A-1** (ouverte **EN RETARD**), échéance " in owner_section
    assert "- **A-2** (ouverte), échéance " in text.split("## ")[2]
    assert "action items" not in text and "OVERDUE" not in text


async def test_csv_header_and_values_stay_english_for_a_french_requester(core: BotCore) -> None:
    await seed(core)
    await _lang(core, SEC, "fr")
    await say_ok(core, ADMIN, f"!dir person {SEC} tz=Europe/Paris", DM)
    sent = await say_ok(core, SEC, "!actions export S-1 csv")
    assert sent[0].body.startswith("S-1 : 2 actions")  # the reply is French, the file is not
    rows = list(csv.reader(io.StringIO(sent[1].attachment.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[0][:3] == ["id", "summit", "text"]
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert {r["status"] for r in records} == {"open"}
    assert {r["overdue"] for r in records} == {"no"}


async def test_help_for_an_action_command_reads_french(core: BotCore) -> None:
    await _lang(core, OWNER, "fr")
    (reply,) = await core.say(OWNER, "!help actions done", room_id=DM)
    assert "Marquer une action comme terminée" in reply.body
    # No item of theirs yet: where theirs are listed, in French, instead of the docs' A-7.
    assert reply.body.endswith("Envoyez !actions list pour voir les vôtres."), reply.body
    await seed(core)
    (reply,) = await core.say(OWNER, "!help actions done", room_id=DM)
    assert "!actions done A-1 -- envoyé à toutes les délégations" in reply.body
    (reply,) = await core.say(OWNER, "!help summit open", room_id=DM)
    assert "lang" in reply.body and "la langue de ce qui est envoyé à son salon" in reply.body
