"""Help, registry errors and the directory in the reader's language (French, German).

Command names, parameter names and option keys stay as they are (people copy them); what
they mean, the table's words and the errors read in the sender's language.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.directory.store import load_seed
from commands.i18n import language
from commands.registry import roles_refusal
from tests.harness.fakes import BotCore

ADMIN = "@admin:test"
EVE = "@eve:test"
DM = "!dm:test"


async def test_help_table_in_french_and_german(core: BotCore) -> None:
    await core.say(EVE, "!lang fr")
    (reply,) = await core.say(EVE, "!help")
    assert reply.body.startswith("Commandes\ncommande")
    assert "ce qu'elle fait" in reply.body
    assert "Envoyez !help <command> pour les détails et un exemple." in reply.body
    assert "!ping" in reply.body and "Vérifier que le bot fonctionne et vous lit" in reply.body
    assert "Afficher ou choisir votre fuseau horaire (nom IANA)" in reply.body
    assert "List commands" not in reply.body
    await core.say(EVE, "!lang de")
    (reply,) = await core.say(EVE, "!help")
    assert reply.body.startswith("Befehle\nBefehl")
    assert "was er tut" in reply.body
    assert "Senden Sie !help <command> für Einzelheiten und ein Beispiel." in reply.body
    assert "Ein Element mit seinem Verlauf anzeigen" in reply.body


async def test_help_for_a_command_in_french_and_german(core: BotCore) -> None:
    await core.say(EVE, "!lang fr")
    (reply,) = await core.say(EVE, "!help tz")
    assert reply.body.startswith("!tz [<zone>] — Afficher ou choisir votre fuseau horaire")
    assert "  zone : p. ex. Europe/Paris" in reply.body
    assert "  Exemple : !tz Europe/Paris" in reply.body
    (reply,) = await core.say(EVE, "!help meeting")
    assert reply.body.startswith("!meeting ")  # the command and its parameter names stay
    assert "  Exemple : !meeting " in reply.body and "Example:" not in reply.body
    (reply,) = await core.say(EVE, "!help cancel")
    # No meeting of theirs to name yet: where theirs are listed; then their own.
    assert reply.body.endswith("\n  Envoyez !agenda pour voir les vôtres.")
    assert "Exemple" not in reply.body
    await core.say(EVE, "!meeting demain 10:00 -- Point")
    (reply,) = await core.say(EVE, "!help cancel")
    assert "Exemple : !cancel M-1 -- reportée à la semaine prochaine" in reply.body
    await core.say(EVE, "!lang de")
    (reply,) = await core.say(EVE, "!help meeting")
    assert reply.body.startswith("!meeting ")
    assert "  Beispiel: !meeting " in reply.body
    (reply,) = await core.say(EVE, "!help cancel")
    assert "  reason: warum, wird den Betroffenen angezeigt" in reply.body
    assert "Beispiel: !cancel M-1 -- auf nächste Woche verschoben" in reply.body


async def test_unknown_help_topic_and_command_in_french(core: BotCore) -> None:
    await core.say(EVE, "!lang fr")
    (reply,) = await core.say(EVE, "!help pign")
    assert reply.body == (
        "Aucune commande 'pign'. Vouliez-vous dire !ping ? Envoyez !help pour la liste."
    )
    (reply,) = await core.say(EVE, "!pign")
    assert reply.body == (
        "Commande inconnue !pign. Vouliez-vous dire !ping ? Envoyez !help pour la liste."
    )


async def test_registry_error_with_usage_and_example_in_german(core: BotCore) -> None:
    await core.say(EVE, "!lang de")
    (reply,) = await core.say(EVE, "!ping extra")
    assert reply.body == "Unerwartet: 'extra'.\nVerwendung: !ping\nBeispiel: !ping"
    (reply,) = await core.say(EVE, "!trust")
    assert reply.body.startswith("trust braucht einen Unterbefehl. Wählen Sie einen von:")
    # Not an example of an admin's command: where the ones they may use are listed.
    assert reply.body.endswith("\nDie Befehle, die Sie verwenden dürfen, sehen Sie mit !help.")
    (reply,) = await core.say(EVE, "!tz Mars/Olympus")
    assert "'Mars/Olympus' ist keine IANA-Zeitzone." in reply.body
    assert "Verwendung: !tz [<zone>]" in reply.body


async def test_role_refusals_name_the_role_in_the_readers_language(core: BotCore) -> None:
    with language("fr"):
        assert roles_refusal("!dir list", ["admin"]) == (
            "!dir list est réservée au rôle administrateur. "
            "Demandez à un administrateur si vous en avez besoin."
        )
    with language("de"):
        assert roles_refusal("!x", ["secretariat", "admin"]).startswith(
            "!x ist der Rolle Administrator oder Sekretariat vorbehalten."
        )
    assert roles_refusal("!x", ["secretariat", "admin"]) == (
        "!x is for admin or secretariat only. Ask an admin if you need it."
    )


async def test_english_is_unchanged(core: BotCore) -> None:
    (reply,) = await core.say(EVE, "!help")
    assert reply.body.startswith("Commands\ncommand")
    assert "Send !help <command> for details and an example." in reply.body
    (reply,) = await core.say(EVE, "!ping extra")
    assert reply.body == "Unexpected 'extra'.\nUsage: !ping\nExample: !ping"


async def test_dir_person_lang_sets_the_language_they_are_answered_in(core: BotCore) -> None:
    (shown,) = await core.say(ADMIN, f"!dir person {EVE} lang=de", room_id=DM)
    assert "language: de (Deutsch)" in shown.body
    rows = await core.query("SELECT language FROM people WHERE user_id = ?", EVE)
    assert [r[0] for r in rows] == ["de"]
    (reply,) = await core.say(EVE, "!tz Europe/Berlin")
    assert reply.body == (
        "Zeitzone auf Europe/Berlin gesetzt. Uhrzeiten, die Sie eingeben, werden in dieser "
        "Zone gelesen."
    )
    (reply,) = await core.say(EVE, "!whois")
    assert "Sprache: de (Deutsch)" in reply.body and "Zeitzone: Europe/Berlin" in reply.body
    assert "Rollen: Attaché" in reply.body
    await core.say(ADMIN, f"!dir person {EVE} lang=-", room_id=DM)
    (reply,) = await core.say(EVE, "!tz")
    assert reply.body == "Your time zone is Europe/Berlin."


async def test_dir_person_refuses_a_language_it_does_not_speak(core: BotCore) -> None:
    (reply,) = await core.say(ADMIN, f"!dir person {EVE} lang=klingon", room_id=DM)
    assert reply.body.startswith("lang: 'klingon' is not a language I speak; available: en, ")
    # Made for this directory (it has nobody else): the admin names themself, no post.
    example = reply.body.split("\nExample: ")[1]
    assert example.startswith("!dir person @admin:test ") and "post=" not in example
    assert "lang=fr" in reply.body
    assert await core.count("people") == 0


async def test_dir_post_lang_sets_the_rooms_language(core: BotCore) -> None:
    (shown,) = await core.say(ADMIN, "!dir post DE-BERLIN lang=Deutsch", room_id=DM)
    assert "language: de (Deutsch)" in shown.body
    rows = await core.query("SELECT language FROM posts WHERE code = 'DE-BERLIN'")
    assert [r[0] for r in rows] == ["de"]
    await core.say(ADMIN, "!lang fr", room_id=DM)
    (shown,) = await core.say(ADMIN, "!dir show DE-BERLIN", room_id=DM)
    assert "poste : DE-BERLIN" in shown.body and "langue : de (Deutsch)" in shown.body
    (shown,) = await core.say(ADMIN, "!dir list", room_id=DM)
    assert shown.body.startswith("Postes\nposte") and "personne connue." in shown.body


SEED = """
posts:
  - code: DE-BERLIN
    members: ["@bernd:test"]
    lang: de
people:
  - id: "@bernd:test"
    lang: de
  - id: "@eve:test"
    lang: français
"""


async def test_seed_sets_languages_of_people_and_posts(core: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED, encoding="utf-8")
    async with core.store.write() as db:
        await load_seed(db, path, core.clock.now())
    rows = await core.query("SELECT user_id, language FROM people ORDER BY user_id")
    assert [tuple(r) for r in rows] == [("@bernd:test", "de"), ("@eve:test", "fr")]
    rows = await core.query("SELECT language FROM posts")
    assert [r[0] for r in rows] == ["de"]
    (reply,) = await core.say("@bernd:test", "!ping")
    assert reply.body == "pong"
    (reply,) = await core.say(EVE, "!tz")
    assert reply.body.startswith("Votre fuseau horaire est ")
    (reply,) = await core.say(EVE, "!whois", room_id=DM)
    assert "rôles : attaché\n" in reply.body and "langue : fr (français)" in reply.body


async def test_seed_refuses_an_unknown_language(core: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("people: [{id: '@a:test', lang: xx}]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"people\[0\]\.lang"):
        async with core.store.write() as db:
            await load_seed(db, path, core.clock.now())
    assert await core.count("people") == 0
