"""What the bot already did, as the homeserver remembers it: a second ledger that survives
a restore of the store.

The bot's own events are kept by the homeserver whatever happens to the bot's disk, and
two things in them are readable without any room key (the clear part of
`m.room.encrypted`):

- a reply's `m.relates_to` / `m.in_reply_to` names the command it answers (nio copies
  `m.relates_to` out of the ciphertext, as the spec asks, so Element can thread it);
- a message a scheduled job sent carries `org.attache.ledger`: an HMAC of the job's
  identity under a key derived from the pickle key. The homeserver learns only that the
  value is unique; the bot, after a restore, recognises the jobs that already fired;
- so does the answer to an edit or a reaction (whose reply relation names another event:
  commands/answers.py), with the HMAC of the event it answers, so that after a restore
  the bot recognises the edits and reactions it answered as well.

bot/recovery.py reads both back after a restore (bot/restore.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from commands.answers import FIELD, event_origin
from config import Settings

__all__ = ["FIELD", "event_origin", "job_origin", "key_for", "tag"]


def key_for(settings: Settings) -> bytes:
    assert settings.pickle_key is not None
    secret = settings.pickle_key.get_secret_value().encode()
    return hashlib.sha256(b"attache-ledger\0" + secret).digest()


def tag(key: bytes, origin: str) -> str:
    digest = hmac.new(key, origin.encode(), hashlib.sha256).digest()[:16]
    return base64.b64encode(digest).decode().rstrip("=")


def job_origin(job_id: int, kind: str, ref: str, due_at: str) -> str:
    """A job's identity: its row and what it is (a row ID alone is reused after a restore)."""
    return f"job:{job_id}:{kind}:{ref}:{due_at}"
