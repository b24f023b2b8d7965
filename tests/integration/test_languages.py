"""Languages over real E2EE on Synapse: a French attaché and a German post member each read
the bot in their own language, with dates read and shown the way they write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from babel.dates import format_date

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import in_thread, seed_directory, wait_any

pytestmark = pytest.mark.integration


async def test_a_french_attache_and_a_german_post_member(bot_factory, people) -> None:
    claire = await people("claire")
    dieter = await people("dieter", auto_join=True)
    bot: BotProcess = bot_factory(
        start=False, allowed_users=[claire.user_id, dieter.user_id], settings={"timezone": "UTC"}
    )
    await seed_directory(bot, "DE-BERLIN", [dieter])
    await bot.astart()
    room_c = await open_dm(claire, bot)
    room_d = await open_dm(dieter, bot)

    _unused, set_fr = await command(claire, room_c, "!lang fr")
    assert set_fr.decrypted and set_fr.body.startswith("Désormais, je vous écris en français")
    _unused, set_de = await command(dieter, room_d, "!lang de")
    assert set_de.body.startswith("Ab jetzt schreibe ich Ihnen auf Deutsch")

    # Claire's request reaches Dieter in German, and her confirmation is French.
    _unused, sent = await command(claire, room_c, "!request DE-BERLIN Visite du CEMA -- dates ?")
    assert sent.body.startswith("LR-1 · routine · de claire"), sent.body
    assert "Objet : Visite du CEMA" in sent.body
    _room, root = await wait_any(dieter, lambda e: e.body.startswith("LR-1 · Routine · von"))
    assert root.decrypted and "Betreff: Visite du CEMA" in root.body, root.body
    assert "Antworten Sie in diesem Thread." in root.body

    # Dieter acknowledges in German; Claire hears it in French, in her request's thread.
    _unused, acked = await command(dieter, room_d, "!ack LR-1")
    assert acked.body.startswith("LR-1 bestätigt;") and "wird benachrichtigt" in acked.body
    note = await claire.wait_for_message(
        room_c, in_thread(sent.event_id, "LR-1 prise en compte par"), timeout=30
    )
    assert note.decrypted

    # Claire schedules in French words and reads the date as a French reader writes it.
    _unused, booked = await command(
        claire, room_c, "!meeting demain 10h -- Coordination des attachés"
    )
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    day = format_date(tomorrow, "EEE d MMM y", locale="fr")  # e.g. "lun. 30 nov. 2026"
    assert booked.body.startswith("C'est noté, M-1 : Coordination des attachés"), booked.body
    assert f"Quand : {day} 10:00 UTC" in booked.body, booked.body
    _unused, shown = await command(claire, room_c, "!help meeting")
    assert shown.body.startswith("!meeting <when…>")  # the interface people copy: unchanged
    assert "Planifier une réunion" in shown.body and "Exemple : !meeting" in shown.body
    assert "Schedule a meeting" not in shown.body
