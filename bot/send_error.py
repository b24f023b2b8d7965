"""How a call to the homeserver failed, and what the caller should do about it: wait as
long as the server asked, give up for good, or never send at all (unsafe)."""

from __future__ import annotations

from typing import Any

PERMANENT_ERRORS = frozenset(
    {"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE", "M_INVALID_PARAM"}
)


class SendError(Exception):
    """A send failed. retry_after: seconds the server asked for; permanent: do not retry.

    unsafe: the message could only have gone out in plaintext (or to the wrong people), so
    it was not sent at all; the outbox fails it and tells the admins.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unsafe: bool = False,
    ):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent or unsafe
        self.unsafe = unsafe
        self.rate_limited = retry_after is not None


def error_from(resp: Any) -> SendError:
    """A failed nio response as a SendError: rate limited, permanent, or worth a retry."""
    status = str(getattr(resp, "status_code", "") or "")
    retry_ms = getattr(resp, "retry_after_ms", None)
    if status in ("M_LIMIT_EXCEEDED", "429"):
        return SendError("rate limited", retry_after=(retry_ms or 5000) / 1000)
    permanent = status in PERMANENT_ERRORS
    return SendError(f"send failed ({status or type(resp).__name__})", permanent=permanent)
