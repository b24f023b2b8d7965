"""The liaison request status machine: which move is legal from which status, by which side.

Kept apart from the chat handlers so every legal and illegal move can be tested directly and
the reply to an illegal move is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["requester", "addressee"]

STATUSES = ("open", "acknowledged", "answered", "closed", "declined", "cancelled")
ACTIVE = frozenset({"open", "acknowledged", "answered"})
TERMINAL = frozenset({"closed", "declined", "cancelled"})


@dataclass(frozen=True)
class Move:
    action: str  # the verb people type: ack, answer, close, decline, cancel
    to: str
    sources: frozenset[str]
    side: Side  # who may make it (admins may make any move)
    past: str  # for messages: "acknowledged", "answered" ...


MOVES: dict[str, Move] = {
    m.action: m
    for m in (
        Move("ack", "acknowledged", frozenset({"open"}), "addressee", "acknowledged"),
        Move("answer", "answered", frozenset({"open", "acknowledged"}), "addressee", "answered"),
        Move("decline", "declined", frozenset({"open", "acknowledged"}), "addressee", "declined"),
        Move("close", "closed", frozenset({"acknowledged", "answered"}), "requester", "closed"),
        Move("cancel", "cancelled", frozenset({"open", "acknowledged"}), "requester", "cancelled"),
    )
}


class IllegalMove(Exception):
    """A move the status or the mover's side does not allow; the message says why and what next."""


_HINTS = {
    ("close", "open"): "Nobody has acknowledged it yet: cancel it instead (!cancel {id}).",
    ("cancel", "answered"): "It has been answered: close it instead (!close {id}).",
    ("ack", "acknowledged"): "It is already acknowledged.",
    ("ack", "answered"): "It is already answered.",
}


def next_status(status: str, action: str, side: Side | None, *, admin: bool = False) -> str:
    """The status after `action`, or IllegalMove saying why not.

    `side` is the mover's side of this request (None for an admin who is neither).
    """
    move = MOVES.get(action)
    if move is None:
        raise ValueError(f"unknown action {action!r}")
    label = "{id}"
    if not admin and side != move.side:
        who = "the requester" if move.side == "requester" else "an addressee"
        raise IllegalMove(f"Only {who} can mark {label} {move.past}. See who: !request {label}.")
    if status in TERMINAL:
        raise IllegalMove(
            f"{label} is already {status}; nothing more can change. See it: !request {label}."
        )
    if status not in move.sources:
        hint = _HINTS.get((action, status), "")
        allowed = " or ".join(sorted(move.sources))
        text = f"{label} is {status}; it can be {move.past} only when {allowed}."
        raise IllegalMove(f"{text} {hint}".strip())
    return move.to


def explain(error: IllegalMove, request_label: str) -> str:
    return str(error).replace("{id}", request_label)


# Reactions that acknowledge a request when put on its root.
ACK_KEYS = frozenset({"✅", "✔️", "✔", "☑️"})
SUBJECT_MAX = 200  # characters; the rest goes after --
