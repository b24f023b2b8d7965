"""Summits (S-n) and their action items (A-n): owners, deadlines, statuses, nudges, digest.

model.py    statuses and legal moves, deadlines as days, digest slots (pure)
store.py    summits and items in the store, owners, history
access.py   who may see and do what; the sender's zone
summits.py  !summit open/edit/close/list, !show/!edit S-n
chat.py     !actions add/reassign/done/status/comment, !show/!edit/!cancel A-n
listing.py  !actions list
jobs.py     nudges and the daily digest
"""
