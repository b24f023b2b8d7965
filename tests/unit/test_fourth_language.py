"""A fourth language is one catalogue file and nothing else: Italian, added as a .po beside
the shipped ones, is chosen with !lang, answers in Italian, reads Italian dates and shows
them in the Italian locale (untranslated messages fall back to English)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from commands import i18n
from tests.harness.fakes import BotCore

ANNA = "@anna:test"


@pytest.fixture
def italian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES, locales)
    catalog = Catalog(locale="it")
    catalog.add(
        "From now on I write to you in {name}. Dates you type are read in it too (and in English).",
        "D'ora in poi le scrivo in {name}.",
    )
    catalog.add("Scheduled {code}: {title}", "Pianificato {code}: {title}")
    catalog.add("When: {when}", "Quando: {when}")
    catalog.add(
        "EEE dd MMM y HH:mm", "EEE d MMM y HH:mm", context="CLDR pattern: day, date and time"
    )
    catalog.add("ambiguous", "DMY", context="numeric date order")
    folder = locales / "it" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as fp:
        write_po(fp, catalog)
    monkeypatch.setattr(i18n, "LOCALES", locales)
    i18n.available.cache_clear()
    i18n._catalogue.cache_clear()
    yield
    i18n.available.cache_clear()
    i18n._catalogue.cache_clear()


async def test_a_catalogue_file_is_all_a_new_language_needs(italian: None, core: BotCore) -> None:
    assert "it" in i18n.available()
    (reply,) = await core.say(ANNA, "!lang italiano")
    assert reply.body == "D'ora in poi le scrivo in italiano."
    (reply,) = await core.say(ANNA, "!remind domani 10:00 -- chiamare Roma")
    lines = reply.body.splitlines()
    assert lines[0] == "Pianificato R-1: chiamare Roma"
    assert lines[1] == "Quando: mar 3 mar 2026 10:00 UTC"  # read in Italian, shown in Italian
    (reply,) = await core.say(ANNA, "!remind 04/03/2026 09:00 -- x")  # 4 March, as Italians read it
    assert "Quando: mer 4 mar 2026 09:00 UTC" in reply.body
    (reply,) = await core.say(ANNA, "!ping")
    assert reply.body == "pong"  # not in the catalogue yet: English, never an error
