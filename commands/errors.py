"""Errors a user can cause: values that become a helpful reply, never a traceback."""

from __future__ import annotations


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
            lines.append(f"Usage: {self.usage}")
        if self.example:
            lines.append(f"Example: {self.example}")
        return "\n".join(lines)


class NotFound(UserError):
    """Also used for objects the reader may not see, so their existence is not revealed."""
