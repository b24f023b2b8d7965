"""Summits (S-n) and their action items (A-n): owners, deadlines, statuses, nudges, digest.

model.py        statuses and legal moves, deadlines as days, digest slots (pure)
store.py        summits and items in the store, owners, history
access.py       who may see and do what; the sender's zone
summits.py      !summit open/edit/close, !edit S-n
summit_views.py !summit list, !show S-n
creating.py     !actions add
editing.py      !edit A-n, !actions reassign, re-marking an item
progress.py     !actions done/status/comment, !cancel A-n
details.py      !show A-n: an item and its history
owners.py       an owner its markings must cover, told when given an item
listing.py      !actions list
jobs.py         nudges and the daily digest
"""
