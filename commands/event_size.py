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

import json

BUDGET = 40_000  # bytes of JSON-encoded body + formatted_body in one event


def encoded_size(text: str) -> int:
    """Bytes `text` takes as a JSON string, encoded as nio encrypts it (ensure_ascii).

    json.dumps does the counting in C; DEL (0x7F) is counted as an escape, as a stricter
    encoder would write it.
    """
    return len(json.dumps(text)) + 5 * text.count("\x7f")


def fit(body: str, html: str | None, budget: int = BUDGET) -> list[tuple[str, str | None]]:
    """(body, html) parts that each fit one event; one part, unchanged, in the usual case."""
    size = encoded_size(body)
    if size + (encoded_size(html) if html is not None else 0) <= budget:
        return [(body, html)]
    if size <= budget:
        return [(body, None)]
    return [(part, None) for part in split_text(body, budget)]


def split_text(text: str, budget: int) -> list[str]:
    """Consecutive pieces of `text` (joined, they are `text`), each within `budget` bytes.

    Each piece's end is found by bisection between the most characters that surely fit
    (every one a 12-byte astral escape) and the most that could (every one a single byte),
    so the cost is O(n log budget) in C (json.dumps), not a Python call per character.
    """
    parts: list[str] = []
    start = 0
    while start < len(text):
        room = budget - 2
        lo = min(len(text), start + max(1, room // 12))  # fits (or one character at least)
        hi = min(len(text), start + room)
        while lo < hi:  # the longest prefix from start that fits
            mid = (lo + hi + 1) // 2
            if encoded_size(text[start:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        end = lo
        if end < len(text):
            floor = start + (end - start) * 9 // 10
            cut = max(text.rfind("\n", floor, end), text.rfind(" ", floor, end))
            if cut > start:
                end = cut + 1
        parts.append(text[start:end])
        start = end
    return parts
