"""Room keys for devices that missed them because their server was unreachable.

When the one-time-key claim for a device fails (its server down or hung), nio shares the
room's Megolm session without it and never offers it that session again: it would never
get this session's key, and read nothing the bot writes in the room until
the session rotates (100 messages or a week). Before each send, devices the current
session left out that may now have keys (trusted, not blacklisted) are given another
claim, at most every CLAIM_EVERY seconds each; once one has an Olm session, the room's
session is rotated, so the next message's key reaches it. The same applies to a device
that was blacklisted when the session was shared and is trusted now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from nio import AsyncClient, KeysClaimError

log = logging.getLogger(__name__)

CLAIM_EVERY = 5.0


class MissedDevices:
    """Per client: which devices were re-claimed when, so a dead server costs little."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._claimed_at: dict[tuple[str, str], float] = {}

    def left_out(self, client: AsyncClient, room_id: str) -> list[tuple[str, str, str]]:
        """(user, device, curve25519) of members' devices the room's current session was
        not shared with, though it may be now (not blacklisted: nio skips a device it has
        no Olm session for without a trace)."""
        olm = client.olm
        session = olm.outbound_group_sessions.get(room_id) if olm is not None else None
        room = client.rooms.get(room_id)
        if olm is None or session is None or not session.shared or room is None:
            return []
        out = []
        for user_id in room.users:
            for device in client.device_store.active_user_devices(user_id):
                if device.id == client.device_id and user_id == client.user_id:
                    continue
                if device.blacklisted or (user_id, device.id) in session.users_shared_with:
                    continue
                out.append((user_id, device.id, device.curve25519))
        return out

    async def catch_up(self, client: AsyncClient, room_id: str) -> bool:
        """Claim keys again for left-out devices; rotate the session once one can be
        reached. True if the session was rotated."""
        olm = client.olm
        left_out = self.left_out(client, room_id)
        if olm is None or not left_out:
            return False
        now = self._monotonic()
        due: dict[str, list[str]] = {}
        for user_id, device_id, curve in left_out:
            if olm.session_store.get(curve):
                continue
            if now - self._claimed_at.get((user_id, device_id), -CLAIM_EVERY) >= CLAIM_EVERY:
                self._claimed_at[(user_id, device_id)] = now
                due.setdefault(user_id, []).append(device_id)
        if due:
            try:
                resp = await client.keys_claim(due)
            except (TimeoutError, OSError) as exc:
                log.info("key claim for devices that missed a room key failed: %s", exc)
                resp = None
            if isinstance(resp, KeysClaimError):
                log.info("key claim for devices that missed a room key failed: %s", resp)
            elif resp is not None and getattr(resp, "failures", None):
                log.info("key claim for devices that missed a room key: servers unreachable")
        reachable = [(u, d) for u, d, curve in left_out if olm.session_store.get(curve)]
        if not reachable:
            return False
        for key in reachable:
            self._claimed_at.pop(key, None)
        client.invalidate_outbound_session(room_id)
        log.info(
            "rotated the room key of %s for %d device(s) that missed it", room_id, len(reachable)
        )
        return True
