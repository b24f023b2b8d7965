"""The format of one queued message in the outbox table, written and read by this module only.

The command layer writes rows (Context → bot.outbox.queue.enqueue) in the transaction of the
effect that produced them; the outbox reads them back to send, the sync loop reads an
origin to tell a sender about a failed delivery, and the test fakes read them to see what
was said. All of them go through `Queued.dumps()` / `Queued.loads()`, so a new field is
added in one place.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Queued:
    """The `content` column of an outbox row: the event content and how to send it."""

    content: dict[str, Any] = field(default_factory=dict)  # minus what needs sent event IDs
    reply_to: str | None = None
    thread_root: str | None = None
    thread_key: str | None = None  # the outbox key of the message that is the thread's root
    reveal_to: tuple[str, str] | None = None  # one untrusted device that may read it
    late_note_after: float | None = None  # seconds; say so when sent later than this
    origin: dict[str, Any] | None = None  # whom to tell if it cannot be delivered
    attachment: dict[str, str] | None = None  # filename and mimetype; the bytes are a column
    event_type: str | None = None  # None: m.room.message
    marking: dict[str, Any] | None = None  # commands.markings Marking.to_json(), if marked
    about: str | None = None  # the object a message is about (e.g. LR-3)
    # What it is, for how long it is worth sending (bot/send_policy.py): "reply" (an answer
    # to a command), "message" (sent by a command to someone or somewhere else),
    # "scheduled" (a reminder, a nudge), None: the runtime's own notice.
    kind: str | None = None
    # The objects a message or file holds (an export, an agenda): at send time it carries
    # their combined marking as it is then (bot/recipients.py), like `about`'s.
    holds: list[str] | None = None
    # The one person the content was rendered for (a reply in their DM: clearances, marked
    # lines in full). It goes into a room only while that person is its only other member.
    reader: str | None = None
    # Set while sending: the thread's root is in a DM the person left, so this message
    # starts the thread again in the new DM (not stored).
    restart_thread: str | None = field(default=None, compare=False)

    def replace(self, **changes: Any) -> Queued:
        """A copy with these fields changed (e.g. a marked room message's DM copy)."""
        return dataclasses.replace(self, **changes)

    def kept_after_send(self) -> str:
        """What a row keeps once sent: whom to tell if the person never got it, no content.

        The plaintext is dropped once delivered; only the origin outlives it."""
        return json.dumps({"origin": self.origin}) if self.origin else WIPED

    def dumps(self) -> str:
        data = asdict(self)
        data.pop("restart_thread")
        data["reveal_to"] = list(self.reveal_to) if self.reveal_to else None
        # Optional keys are absent rather than null: a row without "marking" is unmarked.
        for key in _OPTIONAL:
            if data[key] is None:
                del data[key]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def loads(cls, text: str | None) -> Queued:
        data = json.loads(text or "{}") or {}
        reveal = data.get("reveal_to")
        return cls(
            content=data.get("content") or {},
            reply_to=data.get("reply_to"),
            thread_root=data.get("thread_root"),
            thread_key=data.get("thread_key"),
            reveal_to=(reveal[0], reveal[1]) if reveal else None,
            late_note_after=data.get("late_note_after"),
            origin=data.get("origin"),
            attachment=data.get("attachment"),
            event_type=data.get("event_type"),
            marking=data.get("marking"),
            about=data.get("about"),
            kind=data.get("kind"),
            holds=data.get("holds"),
            reader=data.get("reader"),
        )


_OPTIONAL = ("attachment", "event_type", "marking", "about", "kind", "holds", "reader")

# The content of a row that must not keep its message (withheld or undeliverable).
WIPED = "{}"
