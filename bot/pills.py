"""Element's mention pills: the plain body shows a display name, the ID is in the HTML.

`!request @Bernd ...` typed with a pill arrives as body "!request Bernd ..." and a
formatted_body link to https://matrix.to/#/@bernd:bund.de. Commands are parsed from the
plain body only; this puts the Matrix ID back in place of each pill's text there.

Only the sender's own pills count (issue 22, finding 2): links inside a rich-reply
fallback (`<mx-reply>`) or a quote (`<blockquote>`) are someone else's HTML and are never
read, and a pill counts only where its text names the user it links to: the text is that
user's Matrix ID, or a display name the bot knows for them. A pill whose text looks like a
Matrix ID must be that ID exactly (a display name can be set to "@bob:server" by anyone).
Anything that does not count leaves the body as typed, so the command reads the sender's
own text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

from config.settings import MATRIX_ID

_PREFIX = "https://matrix.to/#/"
# Someone else's words: a reply's quoted fallback, and quotes.
_QUOTED = frozenset({"mx-reply", "blockquote"})


@dataclass(frozen=True)
class Pill:
    text: str
    user_id: str


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pills: list[Pill] = []
        self.quoted = 0  # depth inside mx-reply / blockquote
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _QUOTED:
            self.quoted += 1
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in _QUOTED:
            self.quoted = max(0, self.quoted - 1)
        elif tag == "a" and self._href is not None:
            target = unquote(self._href.removeprefix(_PREFIX).split("?", 1)[0])
            if not self.quoted and self._href.startswith(_PREFIX) and MATRIX_ID.match(target):
                self.pills.append(Pill("".join(self._text).strip(), target))
            self._href = None


def own_pills(formatted_body: str | None) -> list[Pill]:
    """The user pills of the sender's own HTML, in order; none if the HTML is unreadable."""
    if not formatted_body or _PREFIX not in formatted_body:
        return []
    parser = _Links()
    try:
        parser.feed(formatted_body)
        parser.close()
    except Exception:  # malformed HTML from a client: no pill counts
        return []
    return parser.pills


def _plain(name: str) -> str:
    return " ".join(name.split()).casefold()


def names_user(text: str, user_id: str, names: Collection[str]) -> bool:
    """Whether a pill's text names the user it links to (their ID, or a name of theirs)."""
    text = " ".join(text.split())
    if text == user_id:
        return True
    if text.startswith("@") and ":" in text:
        return False  # looks like a Matrix ID, and is not this one
    known = {_plain(n) for n in names if n and n.strip()}
    return _plain(text) in known or (text.startswith("@") and _plain(text[1:]) in known)


def resolve_pills(
    body: str, formatted_body: str | None, names: Mapping[str, Collection[str]] | None = None
) -> str:
    """Replace each counting pill's text in the plain body with the user's Matrix ID.

    `names`: the display names the bot knows for each linked user (directory, profile,
    the room's member list). Without them only pills that show the ID itself count."""
    position = 0
    for pill in own_pills(formatted_body):
        if not pill.text or pill.text == pill.user_id:
            continue
        if not names_user(pill.text, pill.user_id, (names or {}).get(pill.user_id, ())):
            continue
        found = body.find(pill.text, position)
        if found < 0:
            continue
        body = body[:found] + pill.user_id + body[found + len(pill.text) :]
        position = found + len(pill.user_id)
    return body
