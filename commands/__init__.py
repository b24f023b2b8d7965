"""Chat commands and their domain logic. Nothing here imports nio."""

from __future__ import annotations

from types import ModuleType

from commands import actions, core, directory, exports, liaison, schedule, trust
from commands.registry import Registry

MODULES: tuple[ModuleType, ...] = (core, trust, directory, actions, exports, liaison, schedule)


def build_registry(prefix: str = "!") -> Registry:
    return Registry.from_modules(MODULES, prefix=prefix)
