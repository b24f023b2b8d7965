"""How long an incoming message may be: one rule for commands, thread replies and replies.

A command's head (before `--`) is parsed word by word, so it stays short
(`max_command_length`); the free text after `--` is stored and relayed as is, so it may be
long (`max_body_length`, 32,000 characters by default), and so may a thread reply or reply,
which is relayed text too. A refusal says the limit and what to do instead.
"""

from __future__ import annotations

from datetime import datetime

from commands.context import Incoming
from commands.errors import UserError
from commands.i18n import _
from commands.lookup import Registry
from commands.registry import CommandSpec
from config import Settings


def length_refusal(
    incoming: Incoming, settings: Settings, registry: Registry, now: datetime
) -> str | None:
    """The reply refusing an over-long message, or None if it is within the limits.

    `now` dates the example (the dispatcher's clock, never the wall clock)."""
    if incoming.reaction_key is not None:
        return None
    text = incoming.body
    head_limit, body_limit = settings.max_command_length, settings.max_body_length
    prefix = registry.prefix
    if not registry.is_command(text):
        if len(text) <= body_limit:
            return None
        return UserError(
            _(
                "That message is {length} characters long; the limit is {limit}. Nothing was "
                "done and it was not relayed. Split it into several messages.",
                length=len(text),
                limit=body_limit,
            ),
        ).text()
    head, body = registry.split(text)  # a list's lines count as its text (lines=)
    if len(head) > head_limit:
        spec = _command_of(registry, head)
        if spec is not None and spec.body is not None:
            return UserError(
                _(
                    "The command before -- is {length} characters long; the limit is "
                    "{limit}. Nothing was done. Put the long text after -- (up to "
                    "{body_limit} characters).",
                    length=len(head),
                    limit=head_limit,
                    body_limit=body_limit,
                ),
                example=spec.example_at(now, prefix),
            ).text()
        return UserError(
            _(
                "That command is {length} characters long; the limit is {limit}. Nothing was "
                "done. Shorten it. Long text (up to {body_limit} characters) goes after -- in "
                "{request} and {actions_add}, or as a reply in a request's thread.",
                length=len(head),
                limit=head_limit,
                body_limit=body_limit,
                request=prefix + "request",
                actions_add=prefix + "actions add",
            ),
            example=spec.example_at(now, prefix) if spec is not None else None,
        ).text()
    if len(body) > body_limit:
        spec = _command_of(registry, head)
        if spec is not None and spec.lines is not None:  # a pasted list: several messages
            ask = prefix + "help " + spec.name
            return UserError(
                _(
                    "The lines below the command are {length} characters long; the limit is "
                    "{limit}. Nothing was done. Split them into several messages, each with "
                    "the command on its first line ({help} shows the form).",
                    length=len(body),
                    limit=body_limit,
                    help=ask,
                ),
            ).text()
        return UserError(
            _(
                "The text after -- is {length} characters long; the limit is {limit}. Nothing "
                "was done. Split it: send the first part, then the rest as replies in the "
                "thread the bot opens.",
                length=len(body),
                limit=body_limit,
            ),
            # The same command's own example (complete, made now), not another command's.
            example=spec.example_at(now, prefix) if spec is not None and spec.body else None,
        ).text()
    return None


def _command_of(registry: Registry, head: str) -> CommandSpec | None:
    """The command a head names (its first one or two words), without parsing the rest."""
    words = head[len(registry.prefix) :].split(maxsplit=2)
    if len(words) >= 2 and (spec := registry.find(f"{words[0]} {words[1]}".lower())):
        return spec
    return registry.find(words[0].lower()) if words else None
