"""Keep the gettext catalogues in step with the source (`make catalogues`).

    python scripts/catalogues.py update     # extract, merge into every <lang>/messages.po
    python scripts/catalogues.py compile    # .po -> .mo (also done by the image build)
    python scripts/catalogues.py check      # what is untranslated or has wrong placeholders

A new language: `mkdir -p commands/locales/xx/LC_MESSAGES`, then `update` creates its
catalogue from the template; translate it; `check` until it says nothing.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "commands" / "locales"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
SOURCES = ("bot", "commands")
HEADER = "attache-bot's messages. English is the source; see commands/locales/GLOSSARY.md."


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())


def extract(paths: list[Path] | None = None) -> Catalog:
    """Every marked string of the source (or of `paths`), as a template."""
    template = Catalog(project="attache-bot", header_comment=f"# {HEADER}")
    for source in SOURCES:
        folder = ROOT / source
        for filename, lineno, message, comments, context in extract_from_dir(
            str(folder),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        ):
            path = folder / filename
            if paths is not None and not any(path.is_relative_to(p) for p in paths):
                continue
            template.add(
                message,
                None,
                [(f"{source}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
                flags=("python-brace-format",) if _has_fields(message) else (),
            )
    return template


def _has_fields(message: str | tuple[str, ...]) -> bool:
    texts = message if isinstance(message, tuple) else (message,)
    return any(fields(t) for t in texts)


def fields(text: str) -> set[str]:
    """The named placeholders of a message ({zone}, {n}); '{{' is a literal brace."""
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=lang)


def write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fp:
        write_po(fp, catalog, width=100, sort_by_file=False, omit_header=False)


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def update() -> None:
    template = extract()
    for lang in languages():
        path = po_path(lang)
        catalog = read(path, lang) if path.exists() else Catalog(locale=lang, project="attache-bot")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False  # the header: compilers skip a catalogue marked fuzzy
        catalog.obsolete.clear()
        write(path, catalog)
        print(f"{lang}: {len(catalog)} messages")


def compile_() -> None:
    for lang in languages():
        catalog = read(po_path(lang), lang)
        with (po_path(lang).with_suffix(".mo")).open("wb") as fp:
            write_mo(fp, catalog)


def problems(lang: str, catalog: Catalog, template: Catalog) -> list[str]:
    """Missing, untranslated, fuzzy or placeholder-changing entries of one catalogue."""
    found = []
    for wanted in template:
        if not wanted.id:
            continue
        entry = catalog.get(wanted.id, context=wanted.context)
        label = f"{lang}: {wanted.id!r}"
        if entry is None:
            found.append(f"{label} is missing (run: make catalogues)")
            continue
        sources = list(wanted.id) if isinstance(wanted.id, tuple) else [wanted.id]
        targets = list(entry.string) if isinstance(entry.string, tuple) else [entry.string]
        if entry.fuzzy or not all(targets):
            found.append(f"{label} is not translated")
            continue
        expected = set().union(*(fields(s) for s in sources))
        for target in targets:
            if fields(target) != expected:
                found.append(
                    f"{label}: placeholders {sorted(fields(target))} != {sorted(expected)}"
                )
    return found


def check() -> int:
    template = extract()
    found = [p for lang in languages() for p in problems(lang, read(po_path(lang), lang), template)]
    print("\n".join(found) or "every message translated in " + ", ".join(languages()))
    return 1 if found else 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    command = argv[0]
    if command == "update":
        update()
    elif command == "compile":
        compile_()
    elif command == "check":
        return check()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
