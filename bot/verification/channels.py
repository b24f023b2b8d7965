"""How the bot's side of a verification reaches the person (bot/verification/runtime.py):
in their DM (the request as a message, then events related to it) or by to-device message
to one of their devices. A failed send is logged by the `VF-n` only; the other side times
out and the admins learn it then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nio import AsyncClient, ToDeviceMessage

from bot.verification import outcomes, telling
from bot.verification.machine import PREFIX, Send, Verification
from commands.i18n import _

log = logging.getLogger(__name__)

REQUEST_MSGTYPE = PREFIX + "request"


def silence_nio_sas(client: AsyncClient) -> None:
    """nio 0.26 answers verification events itself with its own SAS, which Element does not
    understand (nio issue 570: it cancels Element's start); runtime.py answers them."""
    assert client.olm is not None
    client.olm.handle_key_verification = lambda event: None  # type: ignore[method-assign]


def is_verification_event(source: Mapping[str, Any]) -> bool:
    """A verification event in a room: one of ours, or a request as a message."""
    kind = str(source.get("type") or "")
    content = source.get("content") or {}
    return kind.startswith(PREFIX) or (
        kind == "m.room.message"
        and isinstance(content, dict)
        and content.get("msgtype") == REQUEST_MSGTYPE
    )


class Host(outcomes.Host, Protocol):
    """What these functions use of `runtime.Verifications`."""

    send_in_room: Callable[..., Awaitable[str]]  # transport.send
    dm_room: Callable[[str], Awaitable[str]]  # a usable DM with this person (outbox)
    running: dict[str, Verification]
    _rooms: dict[str, str]
    _lock: asyncio.Lock

    def _new(
        self, number: int, user_id: str, txn: str, *, in_room: bool, we_requested: bool
    ) -> Verification: ...


async def request_in_room(vs: Host, number: int, user_id: str) -> None:
    assert vs.client.device_id
    content = {
        "msgtype": REQUEST_MSGTYPE,
        "body": _(
            "The bot asks to verify your identity. Your client does not support "
            "in-chat verification; use Element."
        ),
        "from_device": vs.client.device_id,
        "methods": ["m.sas.v1"],
        "to": user_id,
    }
    try:
        room_id = await vs.dm_room(user_id)
        event_id = await vs.send_in_room(room_id, content, f"vf{number}-request-{uuid.uuid4().hex}")
    except Exception as exc:  # a send error: the admin who asked is told
        log.warning(
            "%s: the request could not be sent (%s)", telling.label(number), type(exc).__name__
        )
        await outcomes.tell(
            vs,
            [vs._by.get(number, "")],
            lambda _a: telling.cancelled_text(number, user_id, "m.user", False),
        )
        return
    async with vs._lock:
        v = vs._new(number, user_id, event_id, in_room=True, we_requested=True)
        vs._rooms[event_id] = room_id
        vs.running[event_id] = v
    log.info("%s: asked %s for a verification", telling.label(number), user_id)


async def send(vs: Host, v: Verification, send: Send) -> None:
    event_type = PREFIX + send.kind
    try:
        if v.in_room:
            room_id = vs._rooms.get(v.transaction_id)
            if room_id is None:
                return
            await vs.send_in_room(
                room_id,
                send.content,
                f"vf{v.number}-{send.kind}-{uuid.uuid4().hex}",
                event_type=event_type,
            )
        elif v.their_device is not None:
            await to_device(vs.client, event_type, v.user_id, v.their_device, send.content)
    except Exception as exc:  # the other side times out; the admins learn it then
        log.warning(
            "%s: sending %s failed (%s)", telling.label(v.number), send.kind, type(exc).__name__
        )


async def quietly(
    client: AsyncClient, event_type: str, user_id: str, device_id: str, content: dict[str, Any]
) -> None:
    try:
        await to_device(client, event_type, user_id, device_id, content)
    except Exception as exc:  # a courtesy: their device times the request out anyway
        log.info("a to-device %s was not sent (%s)", event_type, type(exc).__name__)


async def to_device(
    client: AsyncClient, event_type: str, user_id: str, device_id: str, content: dict[str, Any]
) -> None:
    resp = await client.to_device(
        ToDeviceMessage(event_type, user_id, device_id, content), uuid.uuid4().hex
    )
    if not type(resp).__name__.endswith("Response"):
        raise RuntimeError("to-device send failed")
