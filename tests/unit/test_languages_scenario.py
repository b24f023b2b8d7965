"""One scenario, each reader in their language (issue 15): a French attaché in Paris asks a
German post, the post acknowledges, a meeting between them is reminded, an action item goes
overdue, and each makes a mistake. Every message reads in its recipient's language, with
dates in their locale and their time zone."""

from __future__ import annotations

from tests.harness.fakes import BotCore, Sent

ANNA, BERND, ADMIN = "@anna:test", "@bernd:test", "@admin:test"  # fr Paris, de Berlin


def to(sent: list[Sent], who: str) -> list[str]:
    return [m.body for m in sent if m.user_id == who]


def reply(sent: list[Sent]) -> str:
    (body,) = [m.body for m in sent if m.room_id == "!room:test"]
    return body


async def test_a_french_and_a_german_attache_each_read_their_own_language(core: BotCore) -> None:
    await core.say(ADMIN, f"!dir person {ANNA} name=Anna tz=Europe/Paris lang=fr")
    await core.say(ADMIN, f"!dir person {BERND} name=Bernd tz=Europe/Berlin role=secretariat")
    await core.say(ADMIN, f"!dir person {BERND} lang=Deutsch")
    await core.say(ADMIN, f"!dir post DE-BERLIN members={BERND}")

    # The request: German for the post's member, French for the sender; due dates in each
    # reader's locale (Thursday 5 March, end of day, Paris and Berlin share CET).
    sent = await core.say(ANNA, "!request DE-BERLIN Visite du CEMA due=2026-03-05 -- dates ?")
    (to_bernd,) = to(sent, BERND)
    assert to_bernd.startswith("LR-1 · Routine · von Anna (@anna:test) an DE-BERLIN")
    assert "Betreff: Visite du CEMA" in to_bernd
    assert "Fällig: Do., 5. März 2026 23:59 CET" in to_bernd
    (to_anna,) = to(sent, ANNA)
    assert to_anna.startswith("LR-1 · routine · de Anna (@anna:test) à DE-BERLIN")
    assert "Échéance : jeu. 5 mars 2026 23:59 CET" in to_anna
    assert reply(sent).startswith("LR-1 envoyée à DE-BERLIN (1 personne).")

    # The acknowledgement: Bernd's confirmation in German, Anna told in French.
    sent = await core.say(BERND, "!ack LR-1")
    assert reply(sent) == "LR-1 bestätigt; Anna (@anna:test) wird benachrichtigt."
    assert to(sent, ANNA) == ["LR-1 prise en compte par Bernd (@bernd:test)."]

    # A meeting typed in French words: Anna confirmed in French in Paris time, Bernd invited
    # in German with his own zone first.
    sent = await core.say(ANNA, f"!meeting demain 10h with={BERND} to=dm -- Coordination")
    assert reply(sent).startswith("C'est noté, M-1 : Coordination\n")
    assert "Quand : mar. 3 mars 2026 10:00 Europe/Paris" in reply(sent)
    (invite,) = to(sent, BERND)
    assert invite.startswith("Anna (@anna:test) hat Sie zu M-1 hinzugefügt: Coordination")
    assert "Wann: Di., 3. März 2026 10:00 Europe/Berlin (10:00 Europe/Paris)" in invite

    # Bernd's summit and his own action item, due on Tuesday.
    await core.say(BERND, "!summit open Gipfel from=2026-03-10 to=2026-03-11")
    sent = await core.say(BERND, f"!actions add S-1 {BERND} due=2026-03-03 -- Entwurf verteilen")
    assert "fällig 3. März 2026" in reply(sent)

    # Each makes a mistake: the refusal, with its example, in their own language.
    refused = reply(await core.say(ANNA, "!meeting hier 10h -- x"))
    assert refused.startswith("dim. 1 mars 2026 10:00 Europe/Paris est déjà passé.")
    assert "\nExemple : !meeting " in refused
    refused = reply(await core.say(BERND, "!meeting gestern 10 Uhr -- x"))
    assert refused.startswith("So., 1. März 2026 10:00 Europe/Berlin liegt in der Vergangenheit.")
    assert "\nBeispiel: !meeting " in refused
    assert await core.count("schedule_items") == 1

    # The meeting's one-hour reminder: one DM each, in each one's language and zone.
    core.clock.advance(hours=23)  # Tuesday 08:00 UTC, 09:00 in Paris and Berlin
    fired = await core.fire_due()
    assert to(fired, ANNA) == [
        "⏰ M-1 Coordination commence dans 1 heure : mar. 3 mars 2026 10:00 Europe/Paris"
    ]
    assert to(fired, BERND) == [
        "⏰ M-1 Coordination beginnt in 1 Stunde: "
        "Di., 3. März 2026 10:00 Europe/Berlin (10:00 Europe/Paris)"
    ]

    # Wednesday: the action item is overdue, and Bernd is nudged in German.
    core.clock.advance(hours=25)
    fired = await core.fire_due()
    (nudge,) = [b for b in to(fired, BERND) if "A-1" in b]
    assert nudge.startswith("A-1 ist jetzt überfällig"), nudge
    assert "3. März 2026" in nudge and "!actions done A-1" in nudge
