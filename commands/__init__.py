"""Chat commands and their domain logic. Nothing here imports nio."""

from __future__ import annotations

from types import ModuleType

from commands import core, directory, exports, schedule, trust
from commands.actions import chat as actions_chat
from commands.actions import jobs as actions_jobs
from commands.actions import listing as actions_listing
from commands.actions import summits
from commands.liaison import chat as liaison_chat
from commands.liaison import jobs as liaison_jobs
from commands.liaison import views as liaison_views
from commands.registry import Registry

MODULES: tuple[ModuleType, ...] = (
    core,
    trust,
    directory,
    summits,
    actions_chat,
    actions_listing,
    actions_jobs,
    exports,
    liaison_chat,
    liaison_views,
    liaison_jobs,
    schedule,
)


def build_registry(prefix: str = "!") -> Registry:
    return Registry.from_modules(MODULES, prefix=prefix)
