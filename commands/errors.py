"""Errors a user can cause: values that become a helpful reply, never a traceback."""

from __future__ import annotations

from commands.i18n import _


class UserError(Exception):
    """What was wrong, and an example of the right form. Nothing is changed."""

    def __init__(self, message: str, *, usage: str | None = None, example: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.example = example

    def text(self) -> str:
        lines = [self.message]
        if self.usage:
            lines.append(_("Usage: {usage}", usage=self.usage))
        if self.example:
            lines.append(_("Example: {example}", example=self.example))
        return "\n".join(lines)


class NotFound(UserError):
    """Also used for objects the reader may not see, so their existence is not revealed."""
