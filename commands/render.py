"""Plain text plus escaped HTML for every reply: user text never becomes markup.

People are written into replies as `person(user_id)`, a marker that stays intact through
`plain`, `table` and `bullets`; before a reply is queued, `expand_people` turns each
marker into the name Element shows (the directory's, else the Matrix profile's) with the
Matrix ID in a pill link in the HTML, so one rule renders people in every domain.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape, unescape
from urllib.parse import quote

from commands.i18n import pgettext


def colon() -> str:
    """What stands between a label and its value: `: `, in French ` : `."""
    # TRANSLATORS: between a label and its value ("time zone: Europe/Paris"). French
    # typography puts a space before the colon (" : ").
    return pgettext("label", ": ")


@dataclass(frozen=True)
class Rendered:
    body: str
    html: str


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def paragraph_html(text: str) -> str:
    return "<br>".join(esc(line) for line in text.split("\n"))


def plain(text: str) -> Rendered:
    return Rendered(text, paragraph_html(text))


# Wider than this, a table does not fit a phone's screen (Element on Android and iOS wraps
# or clips it): each row becomes one list item, its first cell first, the rest labelled.
PHONE_COLUMNS = 5


def without_unmarked_column(
    head: list[str], rows: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """A listing's marking column (the second) dropped when no row is marked ("-"): an
    unmarked deployment's listings stay as they were before markings."""
    if any(r[1] != "-" for r in rows):
        return head, [list(r) for r in rows]
    return [head[0], *head[2:]], [[r[0], *r[2:]] for r in rows]


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], footer: str = ""
) -> Rendered:
    """An HTML table with a plain-text fallback of aligned columns; a labelled list when it
    has more columns than a phone shows."""
    cells = [[str(c) for c in row] for row in rows]
    if len(headers) > PHONE_COLUMNS:
        return _row_list(title, headers, cells, footer)
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    text_lines = [title, line(list(headers))] + [line(r) for r in cells]
    if footer:
        text_lines.append(footer)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in cells)
    html = (
        f"<p><b>{esc(title)}</b></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
    if footer:
        html += f"<p>{paragraph_html(footer)}</p>"
    return Rendered("\n".join(text_lines), html)


def _row_list(
    title: str, headers: Sequence[str], cells: Sequence[Sequence[str]], footer: str
) -> Rendered:
    """One line per row: `LR-3 — status: open · due: Fri 4 Dec 17:00`; empty cells left out."""

    def parts(row: Sequence[str]) -> list[tuple[str, str]]:
        return [(h, c) for h, c in zip(headers[1:], row[1:], strict=False) if c and c != "-"]

    text_lines = [title]
    items_html = []
    sep = colon()
    for row in cells:
        rest = parts(row)
        text_lines.append(f"{row[0]} — " + " · ".join(f"{h}{sep}{c}" for h, c in rest))
        items_html.append(
            f"<li><b>{esc(row[0])}</b> — "
            + " · ".join(f"{esc(h)}{esc(sep)}{esc(c)}" for h, c in rest)
            + "</li>"
        )
    if footer:
        text_lines.append(footer)
    html = f"<p><b>{esc(title)}</b></p><ul>{''.join(items_html)}</ul>"
    if footer:
        html += f"<p>{paragraph_html(footer)}</p>"
    return Rendered("\n".join(text_lines), html)


def bullets(title: str, items: Sequence[str]) -> Rendered:
    text = "\n".join([title, *(f"• {i}" for i in items)])
    html = (
        f"<p><b>{esc(title)}</b></p><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
    )
    return Rendered(text, html)


# -- people ---------------------------------------------------------------------------------

# Private-use delimiters with a per-process nonce: text a user typed cannot forge a marker.
_NONCE = secrets.token_hex(4)
_PERSON = re.compile("\ue000" + _NONCE + "(@[^\ue000\ue001\\s]{1,255})\ue001")
MATRIX_TO = "https://matrix.to/#/"


def person(user_id: str) -> str:
    """A person in a reply's text: shown by name, with a pill, once the reply is queued."""
    return f"\ue000{_NONCE}{user_id}\ue001"


def people_in(*texts: str | None) -> set[str]:
    """The Matrix IDs marked with `person` in these texts."""
    return {m for text in texts if text for m in _PERSON.findall(text)}


def name_plain(user_id: str, name: str | None) -> str:
    """`Alice Martin (@alice:example.org)`, or the bare ID when no name is known."""
    return f"{name} ({user_id})" if name and name != user_id else user_id


def pill(user_id: str, name: str | None) -> str:
    """Element renders this link as a pill (avatar and name) and the ID on hover."""
    href = MATRIX_TO + quote(user_id, safe="@:")
    return f'<a href="{esc(href)}">{esc(name or user_id)}</a>'


def expand_people(
    body: str, html: str | None, names: Mapping[str, str | None]
) -> tuple[str, str | None]:
    """Replace person markers: the name (and ID) in the body, a pill in the HTML."""
    body = _PERSON.sub(lambda m: name_plain(m[1], names.get(m[1])), body)
    if html is not None:
        # In HTML the marker went through esc(); a Matrix ID has nothing esc() changes.
        html = _PERSON.sub(lambda m: pill(unescape(m[1]), names.get(unescape(m[1]))), html)
    return body, html
