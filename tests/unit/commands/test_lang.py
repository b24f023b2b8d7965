"""!lang: each person chooses the language the bot writes to them in."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.harness.fakes import BotCore, make_settings

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


async def test_attache_language_is_everyones_default_until_they_choose(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, language="de").open()
    try:
        (reply,) = await core.say(EVE, "!tz")
        assert reply.body == "Ihre Zeitzone ist UTC."
        (reply,) = await core.say(EVE, "!lang")
        assert reply.body.startswith("Ich schreibe Ihnen auf Deutsch (de).")
        await core.say(EVE, "!lang en")
        (reply,) = await core.say(EVE, "!tz")
        assert reply.body == "Your time zone is UTC."
    finally:
        await core.close()


def test_attache_language_is_validated(tmp_path: Path) -> None:
    assert make_settings(tmp_path, language="Français").language == "fr"
    with pytest.raises(ValidationError, match="must be one of en, de, fr"):
        make_settings(tmp_path, language="klingon")
