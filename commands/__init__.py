"""Chat commands and their domain logic. Nothing here imports nio."""

from __future__ import annotations

from types import ModuleType

from commands import core, exports, trust, verification
from commands.actions import creating as actions_creating
from commands.actions import details as actions_details
from commands.actions import editing as actions_editing
from commands.actions import importing as actions_importing
from commands.actions import jobs as actions_jobs
from commands.actions import listing as actions_listing
from commands.actions import progress as actions_progress
from commands.actions import summit_views, summits
from commands.brief import chat as brief_chat
from commands.brief import jobs as brief_jobs
from commands.directory import chat as directory
from commands.directory import handover_chat as directory_handover
from commands.directory import handover_views as directory_handovers
from commands.liaison import creating as liaison_creating
from commands.liaison import jobs as liaison_jobs
from commands.liaison import moves as liaison_moves
from commands.liaison import relays as liaison_relays
from commands.liaison import views as liaison_views
from commands.lookup import Registry
from commands.schedule import calendar_file as schedule_calendar_file
from commands.schedule import changing as schedule_changing
from commands.schedule import creating as schedule_creating
from commands.schedule import jobs as schedule_jobs
from commands.schedule import rsvp as schedule_rsvp
from commands.schedule import views as schedule_views

MODULES: tuple[ModuleType, ...] = (
    core,
    trust,
    verification,
    directory,
    directory_handover,
    directory_handovers,
    summits,
    summit_views,
    actions_creating,
    actions_importing,
    actions_editing,
    actions_progress,
    actions_details,
    actions_listing,
    actions_jobs,
    exports,
    liaison_creating,
    liaison_relays,
    liaison_moves,
    liaison_views,
    liaison_jobs,
    schedule_creating,
    schedule_changing,
    schedule_views,
    schedule_calendar_file,
    schedule_jobs,
    schedule_rsvp,
    brief_chat,
    brief_jobs,
)


def build_registry(prefix: str = "!") -> Registry:
    return Registry.from_modules(MODULES, prefix=prefix)
