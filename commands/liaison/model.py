"""The liaison request status machine: which move is legal from which status, by which side.

Kept apart from the chat handlers so every legal and illegal move can be tested directly and
the reply to an illegal move is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from commands.i18n import N_, _, pgettext

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


def status_name(status: str) -> str:
    """A status as the reader reads it (a request is feminine in French: ouverte, close...)."""
    names = {
        "open": pgettext("status", "open"),
        "acknowledged": pgettext("status", "acknowledged"),
        "answered": pgettext("status", "answered"),
        "closed": pgettext("status", "closed"),
        "declined": pgettext("status", "declined"),
        "cancelled": pgettext("status", "cancelled"),
    }
    return names.get(status, status)


# (the hint, the verb it points to)
_HINTS = {
    ("close", "open"): (
        N_("Nobody has acknowledged it yet: cancel it instead ({command})."),
        "cancel",
    ),
    ("cancel", "answered"): (N_("It has been answered: close it instead ({command})."), "close"),
    ("ack", "acknowledged"): (N_("It is already acknowledged."), ""),
    ("ack", "answered"): (N_("It is already answered."), ""),
}


def next_status(
    status: str, action: str, side: Side | None, *, admin: bool = False, label: str = "{id}"
) -> str:
    """The status after `action`, or IllegalMove saying why not (in the reader's language).

    `side` is the mover's side of this request (None for an admin who is neither); `label`
    names it in the message (by default `{id}`, for `explain` to fill in).
    """
    move = MOVES.get(action)
    if move is None:
        raise ValueError(f"unknown action {action!r}")
    see = f"!request {label}"
    if not admin and side != move.side:
        if move.side == "requester":
            raise IllegalMove(
                _(
                    "Only the requester can mark {id} {status}. See who: {command}.",
                    id=label,
                    status=status_name(move.past),
                    command=see,
                )
            )
        raise IllegalMove(
            _(
                "Only an addressee can mark {id} {status}. See who: {command}.",
                id=label,
                status=status_name(move.past),
                command=see,
            )
        )
    if status in TERMINAL:
        raise IllegalMove(
            _(
                "{id} is already {status}; nothing more can change. See it: {command}.",
                id=label,
                status=status_name(status),
                command=see,
            )
        )
    if status not in move.sources:
        sources = [status_name(s) for s in sorted(move.sources)]
        allowed = sources[0] if len(sources) == 1 else _("{a} or {b}", a=sources[0], b=sources[1])
        text = _(
            "{id} is {status}; it can be {wanted} only when {allowed}.",
            id=label,
            status=status_name(status),
            wanted=status_name(move.past),
            allowed=allowed,
        )
        hint, verb = _HINTS.get((action, status), ("", ""))
        if hint:
            text += " " + _(hint, command="!" + verb + " " + label)
        raise IllegalMove(text)
    return move.to


def explain(error: IllegalMove, request_label: str) -> str:
    return str(error).replace("{id}", request_label)


# Reactions that acknowledge a request when put on its root.
ACK_KEYS = frozenset({"✅", "✔️", "✔", "☑️"})
SUBJECT_MAX = 200  # characters; the rest goes after --
