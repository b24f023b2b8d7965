"""A decrypted Matrix event as the dispatcher's `Incoming`: a command's text (only the
sender's own words), an edit's new text, a reaction, a reply or a thread reply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nio.events import Event

from bot.own_words import command_text
from commands.context import Incoming


def to_incoming(
    room_id: str,
    event: Event,
    source: dict[str, Any],
    prefix: str = "!",
    names: Mapping[str, set[str]] | None = None,
) -> Incoming | None:
    content = source.get("content") or {}
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.replace":
        return _edit(room_id, event, source, prefix, names)
    ts = int(source.get("origin_server_ts") or 0)
    if source.get("type") == "m.reaction":
        if relates.get("rel_type") != "m.annotation":
            return None
        return Incoming(
            event_id=event.event_id,
            room_id=room_id,
            sender=event.sender,
            timestamp_ms=ts,
            reaction_key=str(relates.get("key", "")),
            reaction_target=relates.get("event_id"),
        )
    if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
        return None
    body = command_text(content, prefix, names)  # only the sender's own words
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
    if thread_root and relates.get("is_falling_back"):
        reply_to = None
    return Incoming(
        event_id=event.event_id,
        room_id=room_id,
        sender=event.sender,
        body=body,
        timestamp_ms=ts,
        thread_root=thread_root,
        reply_to=reply_to,
    )


def _edit(
    room_id: str,
    event: Event,
    source: dict[str, Any],
    prefix: str,
    names: Mapping[str, set[str]] | None = None,
) -> Incoming | None:
    """Element's edit: the new text is in m.new_content; the dispatcher decides what it means."""
    content = source.get("content") or {}
    new = content.get("m.new_content")
    original = (content.get("m.relates_to") or {}).get("event_id")
    if not isinstance(new, dict) or not isinstance(original, str):
        return None
    if new.get("msgtype") != "m.text" or not isinstance(new.get("body"), str):
        return None
    body = command_text(new, prefix, names)
    return Incoming(
        event_id=event.event_id,
        room_id=room_id,
        sender=event.sender,
        body=body,
        timestamp_ms=int(source.get("origin_server_ts") or 0),
        replaces=original,
    )
