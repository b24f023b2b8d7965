"""The one error of the bot's cross-signing: its key file, the homeserver's key endpoints
and the start-up check all raise it, and the trust policy catches it."""

from __future__ import annotations


class CrossSigningError(Exception):
    """A homeserver refused or failed a cross-signing request (message holds no secrets)."""
