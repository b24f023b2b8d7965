"""!lang: each person chooses the language the bot writes to them in."""

from __future__ import annotations

from tests.harness.fakes import BotCore

EVE = "@eve:test"


async def test_lang_alone_shows_the_choice_and_what_is_available(core: BotCore) -> None:
    (reply,) = await core.say(EVE, "!lang")
    assert "English (en)" in reply.body
    assert "fr (français)" in reply.body and "de (Deutsch)" in reply.body


async def test_lang_sets_the_language_of_later_replies(core: BotCore) -> None:
    (reply,) = await core.say(EVE, "!lang FR")
    assert reply.body.startswith("Désormais")
    rows = await core.query("SELECT language FROM people WHERE user_id = ?", EVE)
    assert [r[0] for r in rows] == ["fr"]
    (reply,) = await core.say(EVE, "!lang")
    assert reply.body.startswith("Je vous écris en français (fr)")
    (reply,) = await core.say(EVE, "!lang Deutsch")
    assert reply.body.startswith("Ab jetzt schreibe ich Ihnen auf Deutsch")


async def test_an_unknown_language_is_refused_with_an_example_and_changes_nothing(
    core: BotCore,
) -> None:
    (reply,) = await core.say(EVE, "!lang klingon")
    assert "klingon" in reply.body and "!lang fr" in reply.body
    assert await core.count("people") == 0
