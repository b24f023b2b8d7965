"""Why a sender's message was not acted on: the refusals the device-trust check gives,
as English templates rendered in the sender's language where they are told
(bot/refusals.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from commands.i18n import N_, _

UNTRUSTED_DEVICE = N_(
    "I did not act on your message: it came from a session ({device}) that your own "
    "cross-signing identity has not verified, and I only take instructions from verified "
    "sessions. In Element: Settings → Sessions → verify this session (or send from one "
    "that is verified), then send the command again."
)
# The same, when the sending device could not be told (its keys are not on the server).
UNTRUSTED_UNKNOWN_DEVICE = N_(
    "I did not act on your message: it came from a session (unknown) that your own "
    "cross-signing identity has not verified, and I only take instructions from verified "
    "sessions. In Element: Settings → Sessions → verify this session (or send from one "
    "that is verified), then send the command again."
)
IDENTITY_CHANGED = N_(
    "I did not act on your message: your cross-signing identity changed since I first "
    "saw it, and I wait for an admin to confirm the new one. Ask an admin to check your "
    "new master key with you and approve it (`{prefix}trust approve {user} <key>`)."
)
IDENTITY_CHANGED_CONFIGURED = N_(
    "I did not act on your message: your cross-signing identity is not the one the "
    "operator configured for you. If you reset it, ask them to check the new key with you "
    "and put it in the bot's configuration (trusted_identities)."
)
NOT_LISTED = N_(
    "I did not act on your message: this bot only trusts people whose cross-signing "
    "identity an operator has configured, and yours is not among them. Ask an operator "
    "to add it (trusted_identities)."
)
NO_IDENTITY = N_(
    "I did not act on your message: your account has no cross-signing identity yet, so "
    "I cannot tell your sessions from an impostor's. In Element: Settings → Security & "
    "Privacy → set up cross-signing (secure backup), then send the command again."
)
KEYS_UNCHECKED = N_("I could not check your session's keys just now; send it again.")
# Verdicts a homeserver still catching up on someone's keys can give: looked at again
# (bounded, bot/crypto/key_refresh.py) before the person is refused.
TRANSIENT = frozenset({NO_IDENTITY, UNTRUSTED_UNKNOWN_DEVICE, UNTRUSTED_DEVICE})


@dataclass(frozen=True)
class Refusal:
    """Why a sender's device is not trusted; device_id lets the bot explain it to them.

    `reason` is an English template (N_); `text()` renders it with `values` in the current
    language (the sync loop sets the sender's)."""

    reason: str
    device_id: str | None = None
    values: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def text(self) -> str:
        return _(self.reason, **self.values)
