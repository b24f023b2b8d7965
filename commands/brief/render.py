"""The brief as one message of at most one screen: a title, each section that has lines,
and, for a section cut short, how many more there are and the command that lists them."""

from __future__ import annotations

from datetime import date

from commands.brief.contents import Section
from commands.brief.model import SCREEN_LINES, allot
from commands.i18n import _, ngettext, pgettext
from commands.render import Rendered, esc
from commands.time import show_pattern


def show_monday(monday: date) -> str:
    # TRANSLATORS: a CLDR date pattern, not words: a day and date, "Mon 14 Dec 2026"
    # (French "EEE d MMM y": lun. 14 déc. 2026; German "EEE, d. MMM y": Mo., 14. Dez. 2026).
    return show_pattern(monday, pgettext("CLDR pattern: day and date", "EEE dd MMM y"))


def title(monday: date, zone: str, late: str = "") -> str:
    return _(
        "Your week from {monday} (times in {zone}){late}",
        monday=show_monday(monday),
        zone=zone,
        late=late,
    )


def compose(
    head: str, sections: list[Section], footer: str = ""
) -> tuple[Rendered, tuple[str, ...]]:
    """The message and the IDs of the marked objects it shows in full (its `holds`).

    An empty week is one line saying so, not silence: someone who asked for a brief and
    gets nothing cannot tell a quiet week from a bot that forgot them."""
    filled = [s for s in sections if s.lines]
    if not filled:
        text = _(
            "{title}: nothing waiting for you or on others, no action items due, "
            "no visits or meetings.",
            title=head,
        )
        if footer:
            text = f"{text} {footer}"
        return Rendered(text, f"<p>{esc(text)}</p>"), ()
    budget = SCREEN_LINES - 1 - (1 if footer else 0)
    # A section loads at most a screen of lines (`more`: the rest, counted only).
    share = allot([len(s.lines) + s.more for s in filled], budget)
    body = [head]
    html = [f"<p><b>{esc(head)}</b></p>"]
    holds: list[str] = []
    for section, shown, hidden in zip(filled, share.shown, share.hidden, strict=True):
        lines = section.lines[:shown]
        holds += [line.ref for line in lines if line.held]
        count = len(section.lines) + section.more
        heading = f"{section.title} ({count})"
        body.append(heading)
        body += [f"• {line.text}" for line in lines]
        items = "".join(f"<li>{esc(line.text)}</li>" for line in lines)
        more = ""
        if hidden:
            more = ngettext(
                "… and {n} more: {command}",
                "… and {n} more: {command}",
                hidden,
                command=section.command,
            )
            body.append(f"  {more}")
        html.append(f"<p><b>{esc(heading)}</b></p>")
        if items:
            html.append(f"<ul>{items}</ul>")
        if more:
            html.append(f"<p>{esc(more)}</p>")
    if footer:
        body.append(footer)
        html.append(f"<p>{esc(footer)}</p>")
    return Rendered("\n".join(body), "".join(html)), tuple(dict.fromkeys(holds))
