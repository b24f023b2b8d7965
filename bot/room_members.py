"""Who is in a room, as the homeserver has it now (not as nio's lazily loaded state
remembers it): what releasability, DMs and DM candidates are decided from."""

from __future__ import annotations

from nio import Api, AsyncClient

from bot.send_error import SendError


async def server_members(client: AsyncClient, room_id: str) -> list[str]:
    """Everyone but the bot who is joined or invited in a room, as the homeserver has it
    now: `/members`, not nio's lazily loaded state (which misses people invited before the
    bot joined). Raises SendError when it cannot be read (the caller fails closed)."""
    method, path = (
        "GET",
        Api._build_path(
            ["rooms", room_id, "members"],
            {"access_token": client.access_token, "not_membership": "leave"},
        ),
    )
    try:
        resp = await client.send(method, path)
        body = await resp.json()
    except Exception as exc:
        raise SendError(type(exc).__name__) from exc
    if resp.status == 429:
        retry = body.get("retry_after_ms") if isinstance(body, dict) else None
        raise SendError("rate limited", retry_after=(retry or 5000) / 1000)
    if resp.status != 200 or not isinstance(body, dict):
        # 403/404: the bot cannot read the room's members, so nothing goes into it.
        raise SendError(f"members unreadable ({resp.status})", permanent=resp.status < 500)
    return sorted(
        {
            str(event.get("state_key"))
            for event in body.get("chunk") or []
            if isinstance(event, dict)
            and (event.get("content") or {}).get("membership") in ("join", "invite")
            and event.get("state_key") != client.user_id
        }
    )
