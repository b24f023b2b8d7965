"""Markings and releasability, pure: levels, nations, groups, the ceiling, who is covered.

No SQL and no Matrix here. The runtime (bot/recipients.py, bot/outbox/releasability.py)
asks `exclusion()` about every recipient of a marked message just before it is sent;
commands ask `Policy.parse()` when a person writes `marking=` or `rel=`. The bot applies
these rules; it does not replace an accredited system (see docs/OPERATIONS.md).
"""
