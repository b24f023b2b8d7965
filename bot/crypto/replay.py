"""Where each decrypted event came from in Megolm: (sender key, session ID, message index).

A Megolm message index is used once per session by an honest sender, so the triple names
one ciphertext. A homeserver (or a client) can serve that ciphertext again under a new
event ID; nio's own check (`Olm.message_index_ok`) keeps the triples in memory only, so
after a restart the copy decrypts as if new. The dispatcher records the triple of every
event it handles in the same transaction as the effect (table `megolm_origins`) and
refuses a second event with the same triple, within a run and across restarts.

nio does not put the index on the event it returns, so `install` wraps the one method
its decryption path calls with it, and keeps event ID -> triple for the sync loop.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from nio import AsyncClient

log = logging.getLogger(__name__)

Origin = tuple[str, str, int]  # (sender curve25519 key, Megolm session ID, message index)
ATTR = "_attache_megolm_origins"
REMEMBERED = 20_000  # decrypted events awaiting routing; older ones are dropped first


def install(client: AsyncClient) -> None:
    """Remember the message index of every Megolm event nio decrypts from now on.

    nio's in-memory check is replaced by the durable one in the dispatcher, so that a
    copy is handled the same way (logged, counted, refused) before and after a restart
    instead of lingering as an undecryptable event here and being refused silently.
    """
    olm = client.olm
    if olm is None:
        raise RuntimeError("the Olm machine is not loaded yet (log in first)")
    if hasattr(olm, ATTR):
        return
    origins: OrderedDict[str, Origin] = OrderedDict()
    setattr(olm, ATTR, origins)

    def message_index_ok(message_index: int, event: Any) -> bool:
        origins[event.event_id] = (event.sender_key, event.session_id, int(message_index))
        origins.move_to_end(event.event_id)
        while len(origins) > REMEMBERED:
            origins.popitem(last=False)
        return True

    olm.message_index_ok = message_index_ok  # type: ignore[method-assign]


def origin(client: AsyncClient, event: Any) -> Origin | None:
    """The triple nio saw when it decrypted this event, or None if it did not decrypt it."""
    origins: OrderedDict[str, Origin] | None = getattr(client.olm, ATTR, None)
    if origins is None or not getattr(event, "decrypted", False):
        return None
    found = origins.get(event.event_id)
    if found is None:
        return None
    # The triple must be the one the event itself names (nio copies both onto it).
    if (getattr(event, "sender_key", None), getattr(event, "session_id", None)) != found[:2]:
        return None
    return found
