"""Plain text plus escaped HTML for every reply: user text never becomes markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


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


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], footer: str = ""
) -> Rendered:
    """An HTML table with a plain-text fallback of aligned columns."""
    cells = [[str(c) for c in row] for row in rows]
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


def bullets(title: str, items: Sequence[str]) -> Rendered:
    text = "\n".join([title, *(f"• {i}" for i in items)])
    html = (
        f"<p><b>{esc(title)}</b></p><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
    )
    return Rendered(text, html)
