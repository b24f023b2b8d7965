"""After a verification an admin confirmed: the bot's user-signing key signs the person's
master key, uploaded so the person's identity shows as verified to the bot's account
(and to anyone who trusts the bot's identity), as Element does after its own SAS."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.crypto.canonical import sign_json
from bot.crypto.errors import CrossSigningError
from bot.crypto.key_file import load_keys
from bot.crypto.keys_api import HomeserverKeysAPI
from bot.crypto.policy import KEYS_FILE
from bot.crypto.trust import parse_cross_signing_key
from config import Settings


async def sign_master_key(
    http: aiohttp.ClientSession,
    settings: Settings,
    access_token: str,
    user_id: str,
    master_key: str,
) -> None:
    """Sign `user_id`'s master key (as the server shows it now, which must be `master_key`)
    with the bot's user-signing key and upload the signature; CrossSigningError if not."""
    keys = await asyncio.to_thread(
        load_keys, settings.data_dir / KEYS_FILE, settings.secret_for_keys, settings.user_id
    )
    if keys is None:
        raise CrossSigningError("the bot holds no cross-signing keys")
    api = HomeserverKeysAPI(http, settings.homeserver, access_token)
    query = await api.keys_query([user_id])
    master_obj = (query.get("master_keys") or {}).get(user_id)
    shown, _ = parse_cross_signing_key(master_obj, user_id, "master")
    if shown != master_key or not isinstance(master_obj, dict):
        raise CrossSigningError("the master key changed since it was verified; not signing")
    body = {k: v for k, v in master_obj.items() if k != "unsigned"}
    signed = sign_json(
        body, settings.user_id, f"ed25519:{keys.user_signing_pub}", keys.user_signing
    )
    await api.upload_signatures({user_id: {master_key: signed}})
