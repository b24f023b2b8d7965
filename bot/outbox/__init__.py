"""The outbox: replies written with the effect that produced them, sent room by room.

`queue.py` writes rows in the handler's transaction; `sending.py` sends them (one worker
per room, retries); what is decided at send time has a module each: `releasability.py`
(who may read a row now: allow-list, markings, a DM that is no longer one), `dm_repair.py`
(a usable DM with a person), `late_notes.py`, `content.py` (threads and files),
`notices.py` (what the people concerned are told), `readers.py` (their language and zone).
"""
