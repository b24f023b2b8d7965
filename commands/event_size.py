"""Keep every outgoing message under Matrix's 65,536-byte event limit once it is encrypted.

The limit is on the whole event as the homeserver stores it. nio encrypts the JSON of the
content with `ensure_ascii` (a non-ASCII letter costs 6 bytes, an escape like u0444), and the Megolm
ciphertext grows by a third in base64, plus the envelope and signatures: so the body and its
HTML together must stay under about 47 kB of that JSON; `BUDGET` keeps a margin. (Measured
on Synapse: a client's 20,000-character Cyrillic message is refused with M_TOO_LARGE.)
A 32,000-character request body with its HTML copy is twice that: the HTML is dropped first
(Element shows the plain body as is), and only text that is too long even alone is split
into several messages, cut at a line or word break, nothing lost.
"""

from __future__ import annotations

BUDGET = 40_000  # bytes of JSON-encoded body + formatted_body in one event


def encoded_size(text: str) -> int:
    """Bytes `text` takes as a JSON string, encoded as nio encrypts it (ensure_ascii)."""
    return sum(_char_size(ch) for ch in text) + 2


def _char_size(ch: str) -> int:
    code = ord(ch)
    if ch in '"\\' or ch in "\n\r\t\b\f":
        return 2
    if code < 0x20 or 0x7F <= code <= 0xFFFF:
        return 6
    return 12 if code > 0xFFFF else 1  # astral: a surrogate pair, two \uXXXX


def fit(body: str, html: str | None, budget: int = BUDGET) -> list[tuple[str, str | None]]:
    """(body, html) parts that each fit one event; one part, unchanged, in the usual case."""
    size = encoded_size(body)
    if size + (encoded_size(html) if html is not None else 0) <= budget:
        return [(body, html)]
    if size <= budget:
        return [(body, None)]
    return [(part, None) for part in split_text(body, budget)]


def split_text(text: str, budget: int) -> list[str]:
    """Consecutive pieces of `text` (joined, they are `text`), each within `budget` bytes."""
    parts: list[str] = []
    start = 0
    while start < len(text):
        used, end = 2, start
        while end < len(text) and used + _char_size(text[end]) <= budget:
            used += _char_size(text[end])
            end += 1
        if end < len(text):
            floor = start + (end - start) * 9 // 10
            cut = max(text.rfind("\n", floor, end), text.rfind(" ", floor, end))
            if cut > start:
                end = cut + 1
        parts.append(text[start:end])
        start = end
    return parts
