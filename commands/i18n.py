"""The reader's language: gettext catalogues (Babel), chosen per reader by a context variable.

Source strings are English. Mark them where they are shown:

    _("Time zone set to {zone}.", zone=zone)            # named placeholders only
    ngettext("{n} item", "{n} items", n)                 # plural forms; {n} is filled in
    pgettext("status", "open")                           # same English, other meaning
    N_("List commands") ... _(summary)    # module level: mark now, translate where shown

Which language: the dispatcher sets the person's (`!lang`, directory, else ATTACHE_LANGUAGE)
for a command; whoever renders for someone else (a post, a DM to a member, a reminder)
wraps it in `with language(code):`. A new language is one catalogue file,
commands/locales/<code>/LC_MESSAGES/messages.po (see commands/locales/README.md).
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

SOURCE = "en"
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("attache_language", default=SOURCE)


@cache
def available() -> tuple[str, ...]:
    """Language codes shipped: the source and every catalogue present."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *[code for code in found if code != SOURCE])


def current() -> str:
    return _current.get()


@contextmanager
def language(code: str | None) -> Iterator[str]:
    """Render what is built inside in `code` (unknown or None: the source language)."""
    chosen = code if code in available() else SOURCE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def normalise(text: str) -> str | None:
    """A language code as people type it (fr, FR, fr_FR, fr-CA, français) -> 'fr', or None."""
    cleaned = text.strip().lower().replace("-", "_")
    code = cleaned.split("_", 1)[0]
    if code in available():
        return code
    for candidate in available():
        if cleaned in (name(candidate).lower(), name(candidate, SOURCE).lower()):
            return candidate
    return None


def name(code: str, in_language: str | None = None) -> str:
    """A language's name, in its own language by default ('français', 'Deutsch')."""
    from babel import Locale  # only when shown: Babel's locale data is not loaded at start

    return str(Locale.parse(code).get_display_name(in_language or code) or code)


@cache
def _catalogue(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue (.mo, made by `make catalogues` or the image build); compiled
    in memory from the .po if it is missing or older, so a fresh clone works as it is."""
    if code == SOURCE:
        return _gettext.NullTranslations()
    folder = LOCALES / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fp:
            return _gettext.GNUTranslations(fp)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fp:
        catalog = read_po(fp, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def _fill(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if values else text


def _(message: str, /, **values: Any) -> str:
    """`message` in the current reader's language, placeholders filled from `values`."""
    return _fill(_catalogue(current()).gettext(message), values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The plural form for `n` in the reader's language; `{n}` is filled in."""
    return _fill(_catalogue(current()).ngettext(singular, plural, n), {"n": n, **values})


def pgettext(context: str, message: str, /, **values: Any) -> str:
    """`message` in a context (`pgettext("status", "open")`): same English, other words."""
    return _fill(_catalogue(current()).pgettext(context, message), values)


def N_(message: str, /) -> str:
    """Mark a string for the catalogue without translating it (module level); `_()` it
    where it is shown."""
    return message


def everywhere(message: str, /, **values: Any) -> dict[str, str]:
    """`message` in every shipped language (for matching what people type, e.g. 'yes')."""
    out = {}
    for code in available():
        with language(code):
            out[code] = _(message, **values)
    return out
