"""Commands declared once (name, params, options, example); parser and help come from that.

A command is an async function decorated with `@command(...)`. The decorator only attaches
the declaration; `Registry.from_modules` collects them, so there is no global state.
"""

from __future__ import annotations

import difflib
import inspect
import keyword
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from commands.errors import UserError
from commands.i18n import _, pgettext
from commands.ids import KINDS, ObjectId
from commands.render import colon
from commands.words import normalise, split_body, tokenize

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
    aliases: tuple[str, ...] = ()
    roles: frozenset[str] | None = None  # None: anyone allowed in
    details: str = ""
    keywords: bool = False  # the handler takes its arguments as keyword parameters

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
        return " ".join(parts)


def command(
    name: str,
    *,
    summary: str,
    example: Example,
    params: Sequence[Param] = (),
    options: Sequence[Option] = (),
    body: Param | None = None,
    aliases: Sequence[str] = (),
    roles: Iterable[str] | None = None,
    details: str = "",
) -> Callable[[Handler], Handler]:
    def mark(fn: Handler) -> Handler:
        declared = [p.name for p in params] + [o.name for o in options]
        declared += [body.name] if body is not None else []
        spec = CommandSpec(
            name=name,
            summary=summary,
            example=example,
            handler=fn,
            params=tuple(params),
            options=tuple(options),
            body=body,
            aliases=tuple(aliases),
            roles=frozenset(roles) if roles is not None else None,
            details=details,
            keywords=_takes_keywords(name, fn, declared),
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
    """Declare a handler for non-command events: 'thread_reply', 'reply', 'reaction'."""

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


def roles_refusal(command: str, roles: Iterable[str]) -> str:
    """The refusal of a command to someone without its role (`!dir person is for admin
    only.`), in the reader's language; `command` as they typed it, with the prefix."""
    return _(
        "{command} is for {roles} only. Ask an admin if you need it.",
        command=command,
        roles=role_names(roles),
    )


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


@dataclass
class Invocation:
    spec: CommandSpec
    args: dict[str, Any]


@dataclass
class Registry:
    prefix: str = "!"
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    listeners: dict[str, list[Handler]] = field(default_factory=dict)
    jobs: dict[str, Handler] = field(default_factory=dict)
    typed: dict[tuple[str, str], Handler] = field(default_factory=dict)

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType], prefix: str = "!") -> Registry:
        reg = cls(prefix=prefix)
        seen: set[int] = set()
        for module in modules:
            seen_here: set[int] = set()
            for value in vars(module).values():
                if id(value) in seen and id(value) not in seen_here:
                    continue  # one module imports a handler of another: declared once
                seen_here.add(id(value))
                if (spec := getattr(value, _SPEC_ATTR, None)) is not None:
                    reg.add(spec)
                if (kind := getattr(value, _LISTENER_ATTR, None)) is not None:
                    reg.listeners.setdefault(kind, []).append(value)
                if (kind := getattr(value, _JOB_ATTR, None)) is not None:
                    if kind in reg.jobs:
                        raise ValueError(f"job kind {kind!r} declared twice")
                    reg.jobs[kind] = value
                for pair in getattr(value, _TYPED_ATTR, ()):
                    if pair in reg.typed:
                        raise ValueError(f"{pair[0]} for {pair[1]} declared twice")
                    reg.typed[pair] = value
            seen |= seen_here
        return reg

    def add(self, spec: CommandSpec) -> None:
        if spec.name in self.commands or spec.name in self.aliases:
            raise ValueError(f"command {spec.name!r} declared twice")
        self.commands[spec.name] = spec
        for alias in spec.aliases:
            self.aliases[alias] = spec.name

    # -- lookup ------------------------------------------------------------------------

    def verbs(self) -> list[str]:
        return sorted({name.split(" ")[0] for name in self.commands})

    def subcommands(self, verb: str) -> list[CommandSpec]:
        return [s for n, s in sorted(self.commands.items()) if n.startswith(verb + " ")]

    def find(self, name: str) -> CommandSpec | None:
        name = self.aliases.get(name, name)
        return self.commands.get(name)

    def named(self, body: str) -> CommandSpec | None:
        """The command a message names (`!dir person …` -> dir person), its arguments unread:
        whether the sender may use it is decided before a usage error shows its example."""
        words = tokenize(split_body(normalise(body[len(self.prefix) :]))[0])[:2]
        if len(words) == 2 and (spec := self.find(f"{words[0]} {words[1]}".lower())):
            return spec
        return self.find(words[0].lower()) if words else None

    def is_command(self, body: str) -> bool:
        return body.startswith(self.prefix) and len(body) > len(self.prefix)

    # -- parsing -----------------------------------------------------------------------

    def parse(self, body: str, now: datetime) -> Invocation:
        """Turn `!verb [sub] args` into an Invocation, or raise UserError saying why.

        `now` makes the examples in errors (dates in them are after it).
        """
        text = normalise(body[len(self.prefix) :])
        head, sep, tail = split_body(text)
        tokens = tokenize(head)
        if not tokens:
            raise UserError(_("Empty command. Try {help}.", help=self.prefix + "help"))
        verb = tokens[0].lower()
        spec = None
        if len(tokens) > 1 and self.find(f"{verb} {tokens[1].lower()}"):
            spec = self.find(f"{verb} {tokens[1].lower()}")
            tokens = tokens[2:]
        elif self.find(verb):
            spec = self.find(verb)
            tokens = tokens[1:]
        elif subs := self.subcommands(verb):
            names = ", ".join(s.name.split(" ", 1)[1] for s in subs)
            what = (
                _(
                    "Unknown {command} subcommand. Choose one of: {names}.",
                    command=verb,
                    names=names,
                )
                if len(tokens) > 1
                else _(
                    "{command} needs a subcommand. Choose one of: {names}.",
                    command=verb,
                    names=names,
                )
            )
            raise UserError(
                what,
                example=subs[0].example_at(now, self.prefix),
            )
        if spec is None:
            raise UserError(
                _("Unknown command {command}.", command=self.prefix + _shorten(verb))
                + self.did_you_mean(tokens)
                + " "
                + _("Send {help} for the list.", help=self.prefix + "help")
            )
        return Invocation(spec, self._bind(spec, tokens, tail if sep else None, now))

    def did_you_mean(self, tokens: list[str]) -> str:
        """' Did you mean !request?' for a typo, from the declared names and aliases."""
        verb = tokens[0].lower()
        names = [*self.commands, *self.aliases]
        if len(tokens) > 1:  # "!acions list" -> "actions list" before "actions"
            close = difflib.get_close_matches(f"{verb} {tokens[1].lower()}", names, n=1)
            if close and " " in close[0]:
                name = self.aliases.get(close[0], close[0])
                return " " + _("Did you mean {command}?", command=self.prefix + name)
        verbs = sorted({n.split(" ")[0] for n in names})
        close = difflib.get_close_matches(verb, verbs, n=1, cutoff=0.6)
        if not close:
            return ""
        return " " + _("Did you mean {command}?", command=self.prefix + close[0])

    def _bind(
        self, spec: CommandSpec, tokens: list[str], body: str | None, now: datetime
    ) -> dict[str, Any]:
        def fail(message: str) -> UserError:
            return UserError(
                message, usage=spec.usage(self.prefix), example=spec.example_at(now, self.prefix)
            )

        options = {o.name: o for o in spec.options}
        args: dict[str, Any] = {o.name: o.default for o in spec.options}
        positional: list[str] = []
        for token in tokens:
            key, eq, value = token.partition("=")
            if eq and key.lower() in options:
                args[key.lower()] = _convert(options[key.lower()], value, fail)
            else:
                positional.append(token)
        if body is not None:
            body, trailing = _trailing_options(body, options)
            for key, value in trailing.items():
                args[key] = _convert(options[key], value, fail)
        for i, param in enumerate(spec.params):
            if param.rest:
                raw = " ".join(positional[i:])
                positional = positional[:i]
                if not raw and not param.optional:
                    raise fail(_("Missing {name}.", name=param.name))
                args[param.name] = _convert(param, raw, fail) if raw else None
                break
            if i >= len(positional):
                if not param.optional:
                    raise fail(_("Missing {name}.", name=param.name))
                args[param.name] = None
                continue
            args[param.name] = _convert(param, positional[i], fail)
        else:
            if len(positional) > len(spec.params):
                extra = _shorten(positional[len(spec.params)])
                raise fail(_("Unexpected {text!r}.", text=extra))
        if spec.body is not None:
            text = (body or "").strip()
            if not text and not spec.body.optional:
                raise fail(_("Missing {name} after --.", name=spec.body.name))
            args[spec.body.name] = _convert(spec.body, text, fail) if text else None
        elif body is not None and body.strip():
            raise fail(_("This command takes no text after --."))
        return args

    # -- help --------------------------------------------------------------------------

    def kinds_for(self, verb: str) -> list[str]:
        return sorted(kind for v, kind in self.typed if v == verb)

    def help_lines(self) -> list[tuple[str, str]]:
        """(command, summary) per command; the full usage is in `help <command>`."""
        return [
            (f"{self.prefix}{n}", _shown(self.commands[n].summary)) for n in sorted(self.commands)
        ]

    def help_for(self, name: str, now: datetime) -> str | None:
        name = name.removeprefix(self.prefix).lower().strip()
        spec = self.find(name)
        specs = [spec] if spec else self.subcommands(name)
        if not specs:
            return None
        blocks = []
        for s in specs:
            sep = colon()
            lines = [f"{s.usage(self.prefix)} — {_shown(s.summary)}"]
            lines += [f"  {p.name}{sep}{_(p.help)}" for p in s.params if p.help]
            lines += [f"  {o.name}=…{sep}{_(o.help)}" for o in s.options if o.help]
            if s.body is not None and s.body.help:
                lines.append(f"  {s.body.name}{sep}{_(s.body.help)}")
            if s.details:
                lines.append(f"  {_(s.details)}")
            if s.aliases:
                also = ", ".join(self.prefix + a for a in s.aliases)
                lines.append("  " + _("also: {commands}", commands=also))
            lines.append("  " + _("Example: {example}", example=s.example_at(now, self.prefix)))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def _trailing_options(body: str, options: dict[str, Option]) -> tuple[str, dict[str, str]]:
    """`-- body text priority=high`: trailing declared key=value words are options too."""
    found: dict[str, str] = {}
    words = body.rstrip().split(" ")
    while words:
        key, eq, value = words[-1].partition("=")
        if not (eq and key.lower() in options and "\n" not in words[-1]):
            break
        found[key.lower()] = value
        words.pop()
    return " ".join(words), found


def _convert(param: Param | Option, raw: str, fail: Callable[[str], UserError]) -> Any:
    try:
        return param.convert(raw)
    except UserError:
        raise
    except (ValueError, KeyError, OverflowError) as exc:  # 9999999999d overflows a date
        detail = str(exc.args[0]) if exc.args else _("not understood")
        raise fail(f"{param.name}{colon()}{detail}") from None


def _shown(text: str) -> str:
    """A declared text (summary, N_()-marked) in the reader's language; '' stays ''."""
    return _(text) if text else text


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
