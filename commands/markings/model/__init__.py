"""Markings and releasability, pure: levels, nations, groups, the ceiling, who is covered.

No SQL and no Matrix here. The runtime (bot/recipients.py, bot/outbox/releasability.py)
asks `exclusion()` about every recipient of a marked message just before it is sent;
commands ask `Policy.parse()` when a person writes `marking=` or `rel=`. The bot applies
these rules; it does not replace an accredited system (see docs/OPERATIONS.md).

levels.py   the level ladder: ordered levels, the ceiling, reading a level or a clearance
nations.py  nations (ISO 3166-1 alpha-3): reading one, naming one in the reader's language
marking.py  a marking (a level and REL TO) and its banner
reasons.py  why someone is not covered, in the reader's language
policy.py   the deployment's releasability rules: reading marking=/rel=, who is covered,
            combining markings, what a re-marking means for who holds the object
"""
