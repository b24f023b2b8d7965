"""Element's mention pills: the plain body shows a display name, the ID is in the HTML.

`!request @Bernd ...` typed with a pill arrives as body "!request Bernd ..." and a
formatted_body link to https://matrix.to/#/@bernd:bund.de. Commands are parsed from the
plain body only; this puts the Matrix ID back in place of each pill's text there.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote

from config.settings import MATRIX_ID

_PREFIX = "https://matrix.to/#/"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pills: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            target = unquote(self._href.removeprefix(_PREFIX).split("?", 1)[0])
            if self._href.startswith(_PREFIX) and MATRIX_ID.match(target):
                self.pills.append(("".join(self._text).strip(), target))
            self._href = None


def resolve_pills(body: str, formatted_body: str | None) -> str:
    """Replace each user pill's text in the plain body with the user's Matrix ID."""
    if not formatted_body or _PREFIX not in formatted_body:
        return body
    parser = _Links()
    try:
        parser.feed(formatted_body)
    except Exception:  # malformed HTML from a client: keep the body as typed
        return body
    position = 0
    for text, user_id in parser.pills:
        if not text or text == user_id:
            continue
        found = body.find(text, position)
        if found < 0:
            continue
        body = body[:found] + user_id + body[found + len(text) :]
        position = found + len(user_id)
    return body
