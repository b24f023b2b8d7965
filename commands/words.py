"""The words of a message: quotes and invisible marks, the head and the text after --, tokens,
and key=value pairs. Text only: the registry turns the words into typed arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from commands.errors import UserError
from commands.i18n import _

MORE = "    "  # how an example of several lines (`!actions import`) goes on after its first
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]")
# A quoted value may follow `key=`: name="Alice Martin" is one token, name=Alice Martin.
_TOKEN = re.compile(r'((?:[^\s"\'=]+=)?)(?:"([^"]*)"|\'([^\']*)\')|(\S+)')


def normalise(text: str) -> str:
    """Element may send smart quotes; invisible and bidi marks change nothing a user meant."""
    return _INVISIBLE.sub("", text.translate(_QUOTES))


def split_body(text: str) -> tuple[str, bool, str]:
    match = re.search(r"(?:^|\s)--(?:\s|$)", text)
    if not match:
        return text, False, ""
    return text[: match.start()], True, text[match.end() :]


def split_head(body: str) -> tuple[str, str]:
    """A command's head (parsed, kept short) and its free text after ` -- ` (may be long)."""
    head, _sep, tail = split_body(body)
    return head, tail


def tokenize(text: str) -> list[str]:
    if text.count('"') % 2:
        raise UserError(
            _(
                'A quote is not closed. Put a " at both ends of a quoted text, e.g. '
                'place="NATO HQ, room 3". {help} shows how to write each command.',
                help="!help <command>",
            )
        )
    return [
        m[4] if m[4] is not None else m[1] + (m[2] if m[2] is not None else m[3])
        for m in _TOKEN.finditer(text)
    ]


def parse_pairs(text: str, keys: Iterable[str]) -> dict[str, str]:
    """`due=friday text=new words here` -> {"due": "friday", "text": "new words here"}.

    A value runs to the next known `key=`, so free text needs no quotes. The one reader of
    key=value changes (`!edit`, `!summit edit`); ValueError says what was not understood.
    """
    known = sorted(keys)
    pattern = re.compile(r"(?:^|\s)(" + "|".join(map(re.escape, known)) + r")=", re.IGNORECASE)
    marks = list(pattern.finditer(text))
    head = (text[: marks[0].start()] if marks else text).strip()
    if not marks or head:
        if not head:
            raise ValueError(
                _(
                    "nothing to change; write key=value with key one of {keys}",
                    keys=", ".join(known),
                )
            )
        raise ValueError(
            _(
                "Not understood: {text!r} is not key=value with key one of {keys}",
                text=head[:40],
                keys=", ".join(known),
            )
        )
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m[1].lower()] = text[m.end() : end].strip()
    return out
