"""Every English message is translated in every shipped catalogue, placeholders intact."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from commands import i18n

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("catalogues", ROOT / "scripts" / "catalogues.py")
assert _spec is not None and _spec.loader is not None
catalogues = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogues)

SHIPPED = [code for code in i18n.available() if code != i18n.SOURCE]


def test_french_and_german_are_shipped() -> None:
    assert {"fr", "de"} <= set(SHIPPED)


@pytest.fixture(scope="module")
def template():  # type: ignore[no-untyped-def]
    return catalogues.extract()


def test_the_source_has_marked_messages(template) -> None:  # type: ignore[no-untyped-def]
    assert len([m for m in template if m.id]) > 500  # every reply, error, help text


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_message_is_translated_with_the_same_placeholders(lang, template) -> None:  # type: ignore[no-untyped-def]
    catalog = catalogues.read(catalogues.po_path(lang), lang)
    problems = catalogues.problems(lang, catalog, template)
    assert not problems, "run `make catalogues` and translate:\n" + "\n".join(problems[:40])


def test_the_check_catches_a_forgotten_and_a_broken_translation(template) -> None:  # type: ignore[no-untyped-def]
    catalog = catalogues.read(catalogues.po_path("fr"), "fr")
    first = next(
        m
        for m in template
        if m.id and catalogues.fields(m.id if isinstance(m.id, str) else m.id[0])
    )
    entry = catalog.get(first.id, context=first.context)
    entry.string = ""
    assert catalogues.problems("fr", catalog, template)
    entry.string = (
        "sans espace réservé" if isinstance(first.id, str) else ("x",) * catalog.num_plurals
    )
    assert any("placeholders" in p for p in catalogues.problems("fr", catalog, template))


@pytest.mark.parametrize("lang", SHIPPED)
def test_plural_forms_cover_the_language(lang) -> None:
    catalog = catalogues.read(catalogues.po_path(lang), lang)
    for msg in catalog:
        if msg.id and isinstance(msg.id, tuple):
            assert len(msg.string) == catalog.num_plurals, msg.id


def test_a_reader_gets_their_language_and_unknown_codes_fall_back() -> None:
    english = "Show or set the language the bot writes to you in"
    with i18n.language("fr"):
        assert i18n._(english).startswith("Afficher")
    with i18n.language("de"):
        assert i18n._(english).startswith("Die Sprache")
    with i18n.language("xx"):
        assert i18n._(english) == english
    assert i18n.normalise("FR-ca") == "fr"
    assert i18n.normalise("Deutsch") == "de"
    assert i18n.normalise("klingon") is None


# Words a translator might reach for where the glossary chose another (GLOSSARY.md): one
# word per term, throughout.
NOT_THE_GLOSSARYS = {
    "fr": ["requête", "tâche", "bureau", "rencontre", "date limite", "accusé de réception"],
    "de": ["Anforderung", "Posten", "Gipfeltreffen", "Aktionspunkt", "quittiert"],
}


@pytest.mark.parametrize("lang", sorted(NOT_THE_GLOSSARYS))
def test_translations_use_the_glossarys_terms(lang) -> None:  # type: ignore[no-untyped-def]
    catalog = catalogues.read(catalogues.po_path(lang), lang)
    glossary = (catalogues.LOCALES / "GLOSSARY.md").read_text(encoding="utf-8")
    found = []
    for msg in catalog:
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        for word in NOT_THE_GLOSSARYS[lang]:
            if any(word.lower() in s.lower() for s in strings):
                found.append(f"{word!r} in the translation of {msg.id!r}")
    assert not found, f"use the glossary's term ({len(found)}):\n" + "\n".join(found[:20])
    assert "| (liaison) request | demande (de liaison) | Anfrage (Verbindungsanfrage) |" in glossary
