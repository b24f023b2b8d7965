"""Markings and releasability: the rules (model), and how the outbox applies them (routing).

Commands use `Policy.from_settings(ctx.settings).parse(...)` for `marking=`/`rel=` and put
the result on what they send (`ctx.send(..., marking=m, about="LR-4")`); the outbox does
the rest, below every command.
"""

from commands.markings.model.marking import Marking
from commands.markings.model.nations import NATIONS, nation_name
from commands.markings.model.policy import Policy, Remarked, Subject, remarked_notice

__all__ = [
    "NATIONS",
    "Marking",
    "Policy",
    "Remarked",
    "Subject",
    "nation_name",
    "remarked_notice",
]
