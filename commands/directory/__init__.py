"""The directory: people (roles, post, time zone) and posts (FR-PARIS -> its people).

Admins manage it by command (`!dir ...`) or by a YAML seed loaded at start; everyone may
look someone up with `!whois`.

service.py  what every domain uses: the one target parser, post codes, lookups
store.py    writes: people, posts, the seed file
chat.py     !dir person/post/show/list, !whois
"""
