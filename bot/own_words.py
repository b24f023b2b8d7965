"""Only the sender's own words command the bot.

A reply carries someone else's words twice: the plain body starts with the quoted message
(`> <@mallory:x> …` lines, Element's reply fallback), and formatted_body starts with it in
`<mx-reply>`. Both are dropped before a command is parsed and before pills are resolved
(bot/pills.py), so a quoted message can neither add words to a command nor redirect a
name in it to another person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiosqlite

from bot.pills import own_pills, resolve_pills
from commands.people import display_names


def strip_quoted(body: str) -> str:
    """The body without its leading quoted lines (a reply fallback or a quote)."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body.strip()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def command_text(
    content: dict[str, Any], prefix: str, names: Mapping[str, set[str]] | None = None
) -> str:
    """The sender's own text of a message content: quotes dropped, pills in a command
    turned into the Matrix IDs they name (`names`: what the bot knows each linked user as).

    NUL characters are dropped: invisible in every client, and PostgreSQL's text cannot
    hold one (a subject with one was an internal error there, stored on SQLite)."""
    body = strip_quoted(content["body"].replace("\x00", ""))
    if body.startswith(prefix):
        body = resolve_pills(body, content.get("formatted_body"), names)
    return body


async def pill_names(
    db: aiosqlite.Connection, room: Any, content: dict[str, Any]
) -> dict[str, set[str]]:
    """The names that may stand for each user the sender's own pills link to: the
    directory's or their profile's (the store), and the one the room shows (nio)."""
    html = content.get("formatted_body")
    new = content.get("m.new_content")
    if isinstance(new, dict):
        html = new.get("formatted_body")
    users = {p.user_id for p in own_pills(html if isinstance(html, str) else None)}
    if not users:
        return {}
    names: dict[str, set[str]] = {u: set() for u in users}
    for user_id, name in (await display_names(db, users)).items():
        if name:
            names[user_id].add(name)
    members = getattr(room, "users", None) or {}
    for user_id in users:
        shown = getattr(members.get(user_id), "display_name", None)
        if isinstance(shown, str) and shown:
            names[user_id].add(shown)
    return names
