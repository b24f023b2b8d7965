"""Which events reach the dispatcher: from an allowed sender, in an encrypted room,
decrypted, with a known Megolm origin, from a trusted device; only edits that count.

What is refused is counted, and its sender told where that helps (bot/refusals.py);
what cannot be decrypted yet waits for its key (bot/undecrypted.py).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from nio import AsyncClient, MegolmEvent
from nio.events import Event

from bot.crypto import replay
from bot.dispatch import Dispatcher
from bot.edits import load_chain
from bot.incoming import to_incoming
from bot.metrics import Metrics
from bot.own_words import pill_names
from bot.parking import Parking
from bot.refusals import Refusals
from bot.second_looks import SecondLooks
from bot.store import Store
from bot.undecrypted import Undecrypted
from bot.verification.channels import is_verification_event
from commands.context import Incoming
from config import Settings

log = logging.getLogger(__name__)


class TrustPolicy(Protocol):
    """Decides whether a decrypted event's sending device may command the bot."""

    async def check_sender(self, event: Event, room_id: str) -> Any:
        """None if trusted; otherwise a Refusal(reason, device_id, values), explained once
        (its reason an English template, rendered in the sender's language)."""
        ...

    def look_again(self, event: Event, room_id: str, refusal: Any) -> Any:
        """None if `refusal` is final; else an async callable giving the final verdict
        after a few seconds of re-queries (run off the sync loop: bot/second_looks.py)."""
        ...

    def forget(self, user_ids: list[str]) -> None:
        """Their keys changed on the server: judge them afresh next time."""
        ...


@dataclass
class Gate:
    client: AsyncClient
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    metrics: Metrics
    refusals: Refusals
    undecrypted: Undecrypted
    trust: TrustPolicy | None = None
    verifier: Any = None  # bot/verification/runtime.Verifications: Element's verification
    parking: Parking | None = None  # where a deferred check's failure is parked
    later: SecondLooks = field(default_factory=SecondLooks)  # checks off the sync loop

    async def route(self, room_id: str, event: Event) -> None:
        sender = getattr(event, "sender", None)
        if sender is None or sender == self.client.user_id:
            return
        if not self.settings.is_allowed(sender):
            self.metrics.refused.labels("sender_not_allowed").inc()
            return
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        if isinstance(event, MegolmEvent):
            await self.undecrypted.hold(room_id, event)
            return
        source = event.source if isinstance(getattr(event, "source", None), dict) else {}
        if self.verifier is not None and is_verification_event(source):
            # Element sends them in the clear (SAS needs no secrecy: the comparison is the
            # check); only in encrypted rooms, as every command is.
            if room.encrypted:
                await self.verifier.on_room_event(
                    room_id,
                    event.event_id,
                    sender,
                    source,
                    int(getattr(event, "server_timestamp", 0) or 0),
                )
            return
        if source.get("type") == "m.room.redaction":
            self._redaction(room_id, room.encrypted, source)
            return
        if source.get("type") not in ("m.room.message", "m.reaction"):
            return
        if not room.encrypted:
            await self.refusals.unencrypted(room_id, event)
            return
        if not getattr(event, "decrypted", False):
            # A plaintext event in an encrypted room: anyone on the server could forge it.
            self.metrics.refused.labels("plaintext_in_encrypted_room").inc()
            return
        # Pills count only where their text names the linked user (bot/pills.py).
        names = await pill_names(self.store.reader, room, source.get("content") or {})
        incoming = to_incoming(room_id, event, source, self.settings.command_prefix, names)
        if incoming is None or not self.dispatcher.wants(incoming):
            return
        incoming = dataclasses.replace(incoming, megolm=replay.origin(self.client, event))
        if incoming.megolm is None:  # cannot be checked for replay: never acted on
            self.metrics.refused.labels("no_megolm_origin").inc()
            log.warning("refused %s: its Megolm message index is unknown", event.event_id)
            return
        if incoming.replaces is not None and not await self._edit_counts(incoming):
            return
        trust = self.trust
        if trust is None:
            self.dispatcher.submit(incoming)
            return
        if self.later.waiting(sender):  # this person's events stay in order
            self.later.run(sender, lambda: self._later(room_id, event, incoming, None))
            return
        refusal = await trust.check_sender(event, room_id)
        again = None if refusal is None else trust.look_again(event, room_id, refusal)
        if again is None:
            await self._decide(room_id, event, incoming, refusal)
            return
        # The server may still be fetching their keys: decide in a few seconds, while the
        # loop goes on with everyone else.
        self.later.run(sender, lambda: self._later(room_id, event, incoming, again))

    async def _later(self, room_id: str, event: Event, incoming: Incoming, again: Any) -> None:
        """A check off the sync loop: the second look `again`, or (None: queued behind one
        of the same person's) the whole check. A failure is parked as in the loop."""
        assert self.trust is not None
        trust = self.trust

        async def check() -> None:
            look = again
            refusal = None
            if look is None:
                refusal = await trust.check_sender(event, room_id)
                look = None if refusal is None else trust.look_again(event, room_id, refusal)
            if look is not None:
                refusal = await look()
            await self._decide(room_id, event, incoming, refusal)

        if self.parking is None:
            await check()
            return
        async with self.parking.guard(
            "route", event_id=event.event_id, room_id=room_id, sender=event.sender
        ):
            await check()

    async def _decide(self, room_id: str, event: Event, incoming: Incoming, refusal: Any) -> None:
        """Act on the sender check's verdict: dispatch, or refuse and tell them why."""
        if refusal is None:
            self.dispatcher.submit(incoming)
            return
        self.metrics.refused.labels("untrusted_device").inc()
        log.info("refused %s: sending device not trusted", event.event_id)
        await self.refusals.tell(
            room_id,
            event.sender,
            event.event_id,
            refusal.reason,
            refusal.device_id,
            getattr(refusal, "values", None),
        )

    def _redaction(self, room_id: str, encrypted: bool, source: dict[str, Any]) -> None:
        """A removed event (Element's "remove reaction"), in an encrypted room only.

        Redactions are never encrypted (the server must read `redacts`), so there is no
        device to check: a listener acts only on the removal of an event the bot recorded
        from the same sender (a reaction that answered an invitation), which withdraws what
        that reaction did. A homeserver forging one could do no more than redact the
        reaction itself would."""
        content = source.get("content") or {}
        target = source.get("redacts") or content.get("redacts")
        event_id, sender = source.get("event_id"), source.get("sender")
        if not encrypted or not isinstance(target, str) or not isinstance(event_id, str):
            return
        incoming = Incoming(
            event_id=event_id,
            room_id=room_id,
            sender=str(sender),
            timestamp_ms=int(source.get("origin_server_ts") or 0),
            redacts=target,
        )
        if self.dispatcher.wants(incoming):
            self.dispatcher.submit(incoming)

    async def _edit_counts(self, incoming: Incoming) -> bool:
        """Only the original sender's edits count (Element shows no other), and only edits
        of what the bot handled or of an unhandled message now edited into a command."""
        assert incoming.replaces is not None
        if await load_chain(self.store.reader, incoming.replaces) is not None:
            return True  # the dispatcher checks the sender against its ledger
        if not self.dispatcher.registry.is_command(incoming.body):
            return False  # an edit of ordinary chat
        if not self.dispatcher.limiter.allow(incoming.sender):
            return True  # no lookup for them now; the dispatcher refuses it and tells them
        resp = await self.client.room_get_event(incoming.room_id, incoming.replaces)
        original = getattr(resp, "event", None)
        return getattr(original, "sender", None) == incoming.sender
