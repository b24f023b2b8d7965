"""The commands of a set of modules, collected from their declarations (commands.registry):
finding the one a message names, did-you-mean for a typo, and help.

`Registry.from_modules` collects them, so there is no global state.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from commands.arguments import Invocation, bind, shorten
from commands.errors import UserError
from commands.i18n import _
from commands.registry import CommandSpec, Handler, job_of, listener_of, spec_of, typed_of
from commands.render import colon
from commands.words import MORE, normalise, split_body, split_head, tokenize


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
                if (spec := spec_of(value)) is not None:
                    reg.add(spec)
                if (kind := listener_of(value)) is not None:
                    reg.listeners.setdefault(kind, []).append(value)
                if (kind := job_of(value)) is not None:
                    if kind in reg.jobs:
                        raise ValueError(f"job kind {kind!r} declared twice")
                    reg.jobs[kind] = value
                for pair in typed_of(value):
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
        text = normalise(body[len(self.prefix) :])
        listed = self._with_lines(text.partition("\n")[0])
        if listed is not None:
            return listed[0]
        words = tokenize(split_body(text)[0])[:2]
        if len(words) == 2 and (spec := self.find(f"{words[0]} {words[1]}".lower())):
            return spec
        return self.find(words[0].lower()) if words else None

    def is_command(self, body: str) -> bool:
        return body.startswith(self.prefix) and len(body) > len(self.prefix)

    def _with_lines(self, first: str) -> tuple[CommandSpec, int] | None:
        """The command a first line names if it takes the lines below it (`lines=`), with
        how many words its name has; its name is always on the first line."""
        words = first.split()[:2]
        if len(words) == 2 and (spec := self.find(f"{words[0]} {words[1]}".lower())):
            return (spec, 2) if spec.lines is not None else None
        spec = self.find(words[0].lower()) if words else None
        return (spec, 1) if spec is not None and spec.lines is not None else None

    def split(self, text: str) -> tuple[str, str]:
        """A message's head (read word by word, kept short) and its free text: what follows
        ` -- `, or for a command that takes lines (`lines=`), the lines below the first."""
        body = text[len(self.prefix) :] if self.is_command(text) else ""
        first, _newline, below = text.partition("\n")
        if body and self._with_lines(normalise(body).partition("\n")[0]) is not None:
            return first, below
        return split_head(text)

    # -- parsing -----------------------------------------------------------------------

    def parse(self, body: str, now: datetime) -> Invocation:
        """Turn `!verb [sub] args` into an Invocation, or raise UserError saying why.

        `now` makes the examples in errors (dates in them are after it).
        """
        text = normalise(body[len(self.prefix) :])
        first, _newline, below = text.partition("\n")
        listed = self._with_lines(first)
        if listed is not None:  # the first line is the head, whole; the lines are the text
            listing, taken = listed
            args = bind(listing, tokenize(first)[taken:], None, now, self.prefix)
            assert listing.lines is not None
            args[listing.lines.name] = below
            return Invocation(listing, args)
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
            examples = [s.example_at(now, self.prefix) for s in subs]
            raise UserError(what, example=examples[_simplest(subs, examples)])
        if spec is None:
            raise UserError(
                _("Unknown command {command}.", command=self.prefix + shorten(verb))
                + self.did_you_mean(tokens)
                + " "
                + _("Send {help} for the list.", help=self.prefix + "help")
            )
        return Invocation(spec, bind(spec, tokens, tail if sep else None, now, self.prefix))

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
            if s.lines is not None and s.lines.help:
                lines.append(f"  {s.lines.name}{sep}{_(s.lines.help)}")
            if s.details:
                lines.append(f"  {_(s.details)}")
            if s.aliases:
                also = ", ".join(self.prefix + a for a in s.aliases)
                lines.append("  " + _("also: {commands}", commands=also))
            example = s.example_at(now, self.prefix).replace("\n", "\n" + MORE)
            lines.append("  " + _("Example: {example}", example=example))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def _shown(text: str) -> str:
    """A declared text (summary, N_()-marked) in the reader's language; '' stays ''."""
    return _(text) if text else text


def _simplest(subs: list[CommandSpec], examples: list[str]) -> int:
    """Which subcommand's example a group shows: the one that asks least of the reader
    (fewest required arguments, then the shortest example), so that copying it does no
    harm and needs nothing they may not have (`!dir list`, not a hand-over)."""

    def asks(i: int) -> tuple[int, int, int]:
        spec = subs[i]
        required = sum(1 for p in spec.params if not p.optional)
        body = int(spec.body is not None and not spec.body.optional)
        return required + body, len(examples[i]), i

    return min(range(len(subs)), key=asks)
