"""Chat commands and their domain logic. Nothing here imports nio."""

from __future__ import annotations

from types import ModuleType

from commands import actions, core, directory, exports, schedule, trust
from commands.liaison import chat as liaison_chat
from commands.liaison import jobs as liaison_jobs
from commands.liaison import views as liaison_views
from commands.registry import Registry

MODULES: tuple[ModuleType, ...] = (
    core,
    trust,
    directory,
    actions,
    exports,
    liaison_chat,
    liaison_views,
    liaison_jobs,
    schedule,
)


def build_registry(prefix: str = "!") -> Registry:
    return Registry.from_modules(MODULES, prefix=prefix)
