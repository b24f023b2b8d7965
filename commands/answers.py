"""Which event a message answers, said where the homeserver keeps it (for a restore).

Most answers reply to the event they answer (`m.in_reply_to`, in the clear part of an
encrypted event). Three do not: an edit's answer replies to the message edited (what the
person sees in Element), a reaction's is posted in the thread reacted in (or replies to the
message reacted on), and a redaction's (a reaction taken back) replies to nothing. Those carry
the ledger field instead, naming the event they answer; the runtime sends only an HMAC of
it, in the clear (bot/transport.py, bot/ledger.py), so that after a restore bot/recovery.py
recognises the edits and reactions already answered, as it recognises commands.
"""

from __future__ import annotations

from typing import Any, Protocol

FIELD = "org.attache.ledger"


class Answered(Protocol):
    """What tag_answer reads of the incoming event (commands.context.Incoming): a protocol,
    so that context, which calls it, is not imported back (no import circle)."""

    @property
    def event_id(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def replaces(self) -> str | None: ...
    @property
    def reaction_key(self) -> str | None: ...
    @property
    def redacts(self) -> str | None: ...


def event_origin(event_id: str) -> str:
    """The ledger origin of an answer to `event_id` (a job's is `job:...`)."""
    return f"event:{event_id}"


def tag_answer(incoming: Answered | None, kw: dict[str, Any]) -> None:
    """Name `incoming` in the ledger field of a message about to be queued (`kw`), when it
    is an edit or a reaction and the message goes to the room it came from."""
    if incoming is None or (
        incoming.replaces is None and incoming.reaction_key is None and incoming.redacts is None
    ):
        return
    if kw.get("room_id") != incoming.room_id or kw.get("user_id"):
        return
    extra = dict(kw.get("extra") or {})
    extra.setdefault(FIELD, event_origin(incoming.event_id))
    kw["extra"] = extra
