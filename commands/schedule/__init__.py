"""Visits (V-n), meetings (M-n) and reminders (R-n): time-zone aware, recurring, never lost.

The item row is the truth (UTC start with its IANA zone beside, RRULE, lead times); the
jobs table holds only the next occurrence's reminders plus, for a recurring item, one
"next" job at that occurrence's start which schedules the following occurrence. So the
number of pending jobs per item is bounded, and a restart has nothing to rebuild but jobs.
A job due while the bot was down fires at start-up, and its message says it is late and
when it was due; `Dispatcher.run_job` makes every job fire at most once.

model.py      constants, lead times, repeats, ends; reading the time at the head of a reminder
store.py      the item row, its jobs (only the next occurrence), its history
arguments.py  participants (with=) and repeat rules, read and checked
creating.py   !visit, !meeting, !remind
changing.py   !edit/!cancel V/M/R-n
notices.py    what participants are told: added, changed, cancelled, re-marked
views.py      !agenda, !ics, !show V/M/R-n
jobs.py       reminders at lead times, the next occurrence
"""
