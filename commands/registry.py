"""Commands declared once (name, params, options, example); parser and help come from that.

A command is an async function decorated with `@command(...)` (or `@handles`, `@listener`,
`@job`). The decorator only attaches the declaration; commands.lookup.Registry collects
them, commands.arguments reads a message's words into the declared arguments.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.i18n import _, pgettext
from commands.ids import KINDS, ObjectId

Handler = Callable[..., Awaitable[Any]]
Converter = Callable[[str], Any]
# An example is text, or made from the current time so its dates are never in the past.
Example = str | Callable[[datetime], str]

_SPEC_ATTR = "__attache_command__"
_LISTENER_ATTR = "__attache_listener__"
_JOB_ATTR = "__attache_job__"
_KEYS_ATTR = "__attache_edit_keys__"
_ROLES_ATTR = "__attache_roles__"
_TYPED_ATTR = "__attache_typed__"


@dataclass(frozen=True)
class Param:
    """A positional argument. `rest=True` takes all remaining words as one text."""

    name: str
    help: str = ""
    convert: Converter = str
    optional: bool = False
    rest: bool = False


@dataclass(frozen=True)
class Option:
    """A `key=value` option, accepted anywhere in the command."""

    name: str
    help: str = ""
    convert: Converter = str
    default: Any = None


@dataclass(frozen=True)
class CommandSpec:
    name: str  # "ping" or "actions add" for a subcommand
    summary: str
    example: Example  # text, or made from the caller's clock by example_at
    handler: Handler
    params: tuple[Param, ...] = ()
    options: tuple[Option, ...] = ()
    body: Param | None = None  # free text after " -- "
    # The lines below the command's first line, as they are (a pasted list, one entry a
    # line): the first line alone is the command's head, read as usual.
    lines: Param | None = None
    aliases: tuple[str, ...] = ()
    roles: frozenset[str] | None = None  # None: anyone allowed in
    details: str = ""
    keywords: bool = False  # the handler takes its arguments as keyword parameters
    # It only reads: run on a read-only snapshot, outside the write transaction, which then
    # records only its answer and the event (bot/dispatch.py; a write in it fails).
    reads_only: bool = False

    async def call(self, ctx: Any, args: dict[str, Any]) -> None:
        """Run the handler: as handler(ctx, *, name=value, ...) or, older style, (ctx, args)."""
        if self.keywords:
            await self.handler(ctx, **{py_name(k): v for k, v in args.items()})
        else:
            await self.handler(ctx, args)

    def example_at(self, now: datetime, prefix: str = "!") -> str:
        """The example as it reads at `now` (a date in it is after it), with this prefix.

        Made on demand from the caller's clock, never at import: commands/ reads no wall clock.
        A text example marked with N_() reads in the current language (its free text after
        ` -- `); one made by a function translates its own words with _().
        """
        text = self.example if isinstance(self.example, str) else self.example(now)
        text = _(text) if text and isinstance(self.example, str) else text
        return prefix + text[1:] if text.startswith("!") else text

    def usage(self, prefix: str) -> str:
        parts = [f"{prefix}{self.name}"]
        for p in self.params:
            shown = f"<{p.name}…>" if p.rest else f"<{p.name}>"
            parts.append(f"[{shown}]" if p.optional else shown)
        parts += [f"[{o.name}=…]" for o in self.options]
        if self.body is not None:
            parts.append(
                f"[-- {self.body.name}]" if self.body.optional else f"-- <{self.body.name}>"
            )
        if self.lines is not None:
            parts.append(f"↵ <{self.lines.name}…>")
        return " ".join(parts)


def command(
    name: str,
    *,
    summary: str,
    example: Example,
    params: Sequence[Param] = (),
    options: Sequence[Option] = (),
    body: Param | None = None,
    lines: Param | None = None,
    aliases: Sequence[str] = (),
    roles: Iterable[str] | None = None,
    details: str = "",
    reads_only: bool = False,
) -> Callable[[Handler], Handler]:
    def mark(fn: Handler) -> Handler:
        declared = [p.name for p in params] + [o.name for o in options]
        declared += [body.name] if body is not None else []
        declared += [lines.name] if lines is not None else []
        spec = CommandSpec(
            name=name,
            summary=summary,
            example=example,
            handler=fn,
            params=tuple(params),
            options=tuple(options),
            body=body,
            lines=lines,
            aliases=tuple(aliases),
            roles=frozenset(roles) if roles is not None else None,
            details=details,
            keywords=_takes_keywords(name, fn, declared),
            reads_only=reads_only,
        )
        setattr(fn, _SPEC_ATTR, spec)
        return fn

    return mark


def py_name(name: str) -> str:
    """The keyword parameter for an argument: `from=` and `with=` become from_ and with_."""
    return name + "_" if keyword.iskeyword(name) else name


def _takes_keywords(name: str, fn: Handler, declared: list[str]) -> bool:
    """True if the handler's signature lists the arguments (after ctx) as keyword-only.

    Then the signature is the command's documentation, and it must name exactly the declared
    parameters, options and body: a mismatch is refused at import, not found by a user.
    """
    params = list(inspect.signature(fn).parameters.values())[1:]
    if params and not all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params):
        return False
    wanted = {py_name(n) for n in declared}
    got = {p.name for p in params}
    if wanted != got:
        raise ValueError(
            f"!{name}: the handler's keyword parameters {sorted(got)} are not the declared "
            f"arguments {sorted(wanted)}"
        )
    return True


def listener(kind: str) -> Callable[[Handler], Handler]:
    """Declare a handler for non-command events: 'thread_reply', 'reply', 'reaction',
    'redaction' (a removed event, e.g. a reaction taken back)."""

    def mark(fn: Handler) -> Handler:
        setattr(fn, _LISTENER_ATTR, kind)
        return fn

    return mark


def job(kind: str) -> Callable[[Handler], Handler]:
    """Declare the handler that runs when a scheduled job of this kind comes due."""

    def mark(fn: Handler) -> Handler:
        setattr(fn, _JOB_ATTR, kind)
        return fn

    return mark


def handles(
    verb: str,
    *kinds: str,
    keys: Iterable[str] = (),
    example: Callable[[datetime, ObjectId], str] | None = None,
    roles: Iterable[str] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare the handler of a generic verb (show, cancel, edit) for ID kinds (e.g. 'A').

    `!show A-7` and `!cancel LR-3` are one command each; the ID's kind picks the domain.
    The handler is called with a commands.ids.ObjectId: show(ctx, oid),
    cancel(ctx, oid, *, reason), edit(ctx, oid, *, changes). For `edit`, `keys` are what may
    change: the registry reads the `key=value` pairs into `changes` (a dict) before the
    handler runs, and `example(now, id)` is shown with a refusal. `roles`, as on @command,
    are checked before the handler runs.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"@handles({verb!r}): {unknown or 'no'} kinds; known: {sorted(KINDS)}")
    if verb == "edit" and not keys:
        raise ValueError("@handles('edit', ...) needs the keys that may change")

    def mark(fn: Handler) -> Handler:
        setattr(fn, _TYPED_ATTR, [(verb, kind) for kind in kinds])
        setattr(fn, _KEYS_ATTR, (tuple(sorted(keys)), example))
        setattr(fn, _ROLES_ATTR, frozenset(roles) if roles is not None else None)
        return fn

    return mark


def role_name(code: str) -> str:
    """A role as the reader calls it (English: the code people type in role=)."""
    names = {
        "admin": pgettext("role", "admin"),
        "attache": pgettext("role", "attache"),
        "secretariat": pgettext("role", "secretariat"),
    }
    return names.get(code, code)


def role_names(roles: Iterable[str]) -> str:
    """`admin or secretariat`, in the reader's language."""
    names = [role_name(r) for r in sorted(roles)]
    text = names[0] if names else ""
    for name in names[1:]:
        text = pgettext("roles", "{first} or {second}", first=text, second=name)
    return text


def roles_refusal(command: str, roles: Iterable[str], person: Any = None, prefix: str = "!") -> str:
    """The refusal of a command to someone without its role (`!dir person is for admin
    only.`), in the reader's language; `command` as they typed it, with the prefix.

    `person` (a Person): when they hold one of the roles but it counts only once their
    identity is verified (verified_for_roles), the refusal says so and how to get verified.
    """
    withheld: frozenset[str] = getattr(person, "withheld_roles", frozenset())
    if withheld & ({"admin"} | set(roles)):
        return _(
            "{command} is for {roles} only. You have that role, but here it counts only "
            "once your identity is verified, and yours is not yet. To get verified, ask an "
            "admin to send {verify} and compare the emoji with you in person or by phone, "
            "or open my profile in Element and choose Verify.",
            command=command,
            roles=role_names(roles),
            verify=prefix + "verify " + person.user_id,
        )
    return _(
        "{command} is for {roles} only. Ask an admin if you need it.",
        command=command,
        roles=role_names(roles),
    )


def spec_of(value: object) -> CommandSpec | None:
    """The `@command` declaration attached to a handler, if any."""
    spec: CommandSpec | None = getattr(value, _SPEC_ATTR, None)
    return spec


def listener_of(value: object) -> str | None:
    """The event kind an `@listener` handler takes, if any."""
    kind: str | None = getattr(value, _LISTENER_ATTR, None)
    return kind


def job_of(value: object) -> str | None:
    """The job kind a `@job` handler runs, if any."""
    kind: str | None = getattr(value, _JOB_ATTR, None)
    return kind


def typed_of(value: object) -> list[tuple[str, str]]:
    """The (verb, ID kind) pairs a `@handles` handler takes; none for anything else."""
    pairs: list[tuple[str, str]] = getattr(value, _TYPED_ATTR, [])
    return pairs


def roles_of(handler: Handler) -> frozenset[str] | None:
    """The roles an `@handles` handler requires (None: anyone the dispatcher lets in)."""
    roles: frozenset[str] | None = getattr(handler, _ROLES_ATTR, None)
    return roles


def edit_keys(
    handler: Handler,
) -> tuple[tuple[str, ...], Callable[[datetime, ObjectId], str] | None]:
    """The keys an `@handles("edit", ...)` handler accepts, and its example."""
    keys: tuple[tuple[str, ...], Callable[[datetime, ObjectId], str] | None] = getattr(
        handler, _KEYS_ATTR, ((), None)
    )
    return keys
