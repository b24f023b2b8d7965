"""Liaison requests LR-n: routed to a post or a person, tracked through their status, relayed.

Each side of a request has its own thread: the requester's in their DM with the bot, each
addressee's in theirs (or one in the post's room when the directory names one). Replies in a
thread are relayed, attributed, into the other side's threads; a ✅ on a root acknowledges.

model.py    the status machine (pure: which move is legal from which status, by which side)
store.py    requests, threads and their rows; who is on each side
render.py   sending into a side's thread, the texts people read, argument conversion
creating.py !request: a new request, sent into each side's thread
moves.py    !ack/!answer/!close/!decline, !cancel LR-n, a ✅ on a root: status moves
relays.py   !reply and replies in a request's threads, relayed to the other side
views.py    !request LR-n / !show LR-n and !requests
jobs.py     escalation and overdue nudges
"""
