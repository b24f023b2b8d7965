"""Cross-sign the bot's own device so Element's "exclude insecure devices" mode talks to it.

matrix-nio has no cross-signing, and since April 2026 Element withholds room keys from,
and hides messages of, devices that their owner has not cross-signed.
:func:`ensure_cross_signed` gives the bot a cross-signing identity (bot/crypto/own_keys.py),
kept encrypted at rest (bot/crypto/key_file.py), publishes it through the client-server API
(bot/crypto/keys_api.py) and signs the bot's device with the self-signing key: idempotently,
at every start, and never over an identity that is not the one it holds.

What is never written to logs: private keys, the access token, the password, the
secret.  Public keys are not logged either, to keep logs free of identifiers that are
not needed for operation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.crypto.canonical import verify_signed_json
from bot.crypto.errors import CrossSigningError
from bot.crypto.key_file import load_keys, save_keys
from bot.crypto.keys_api import HomeserverKeysAPI
from bot.crypto.own_keys import (
    CrossSigningKeys,
    device_signing_upload_body,
    sign_device_keys,
    sign_master_with_device,
)
from bot.crypto.trust import parse_cross_signing_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrossSigningStatus:
    """What :func:`ensure_cross_signed` found or did; ``problem`` set means not trusted."""

    master_key: str | None
    device_signed: bool
    created: bool
    uploaded_device_signature: bool = False
    problem: str | None = None
    elapsed_ms: float = 0.0


async def ensure_cross_signed(
    homeserver: str,
    access_token: str,
    user_id: str,
    device_id: str,
    device_ed25519: str,
    sign_with_device: Callable[[str], str] | None,
    password: str | None,
    keys_path: Path,
    secret: str,
    *,
    session: aiohttp.ClientSession | None = None,
) -> CrossSigningStatus:
    """Make sure the bot has a published identity and its device is signed by it.

    Call after nio has uploaded the device keys (``client.keys_upload()``).  Idempotent:
    with saved keys and a signed device it costs one ``/keys/query``.  It creates an
    identity only when the server has none, or when it has one we do not hold and a
    password was given (an explicit reset).  A server master key that differs from the
    saved one is reported, never overwritten: that is someone else's identity.
    ``device_ed25519`` is the key nio holds locally; we refuse to sign a different one
    the server might show.
    """
    started = time.perf_counter()
    own_session = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        result = await _ensure(
            HomeserverKeysAPI(http, homeserver, access_token),
            user_id,
            device_id,
            device_ed25519,
            sign_with_device,
            password,
            keys_path,
            secret,
        )
    finally:
        if own_session:
            await http.close()
    elapsed = (time.perf_counter() - started) * 1000
    result = dataclasses.replace(result, elapsed_ms=round(elapsed, 1))
    if result.problem:
        log.warning("cross-signing not in order: %s", result.problem)
    else:
        log.info(
            "cross-signing ok (created=%s, signed_now=%s, %.0f ms)",
            result.created,
            result.uploaded_device_signature,
            elapsed,
        )
    return result


def _not_ours(query: Mapping[str, Any], user_id: str, keys: CrossSigningKeys) -> str | None:
    """Why the identity the server shows is not the one just uploaded, or None if it is."""
    master, _ = parse_cross_signing_key(
        (query.get("master_keys") or {}).get(user_id), user_id, "master"
    )
    ssk, _ = parse_cross_signing_key(
        (query.get("self_signing_keys") or {}).get(user_id), user_id, "self_signing"
    )
    if master != keys.master_pub or ssk != keys.self_signing_pub:
        return (
            "the server shows a cross-signing identity that is not the one it just made "
            "and uploaded; refusing to sign it (is someone else changing this account's "
            "keys? check the homeserver, then run bootstrap-cross-signing)"
        )
    return None


async def _ensure(
    api: HomeserverKeysAPI,
    user_id: str,
    device_id: str,
    device_ed25519: str,
    sign_with_device: Callable[[str], str] | None,
    password: str | None,
    keys_path: Path,
    secret: str,
) -> CrossSigningStatus:
    try:
        keys = await asyncio.to_thread(load_keys, keys_path, secret, user_id)
    except CrossSigningError as exc:
        return CrossSigningStatus(None, False, False, problem=str(exc))

    query = await api.keys_query([user_id])
    server_master_obj = (query.get("master_keys") or {}).get(user_id)
    server_master, _ = parse_cross_signing_key(server_master_obj, user_id, "master")
    created = False

    if server_master is not None and keys is not None and keys.master_pub != server_master:
        return CrossSigningStatus(
            server_master,
            False,
            False,
            problem="the server's master key is not the one saved: identity was replaced "
            "elsewhere; not overwriting (delete the key file and give the password to reset)",
        )
    if server_master is not None and keys is None and not password:
        return CrossSigningStatus(
            server_master,
            False,
            False,
            problem="the account has a cross-signing identity whose keys we do not hold; "
            "a password is needed to replace it",
        )
    if server_master is None or keys is None:
        generated = keys is None
        if keys is None:
            keys = CrossSigningKeys.generate()
            # saved before the upload so a crash right after it cannot lose the identity
            await asyncio.to_thread(save_keys, keys_path, keys, secret, user_id)
        try:
            await api.upload_device_signing(
                device_signing_upload_body(keys, user_id), user_id, password
            )
        except (CrossSigningError, aiohttp.ClientError) as exc:
            if generated:  # never published: do not let it pose as our identity later
                await asyncio.to_thread(keys_path.unlink, missing_ok=True)
            return CrossSigningStatus(None, False, False, problem=str(exc))
        created = True
        query = await api.keys_query([user_id])
        problem = _not_ours(query, user_id, keys)
        if problem is not None:
            # Signing what the server shows would put our device's name under someone
            # else's identity; the saved keys stay, so a later start reports the mismatch.
            return CrossSigningStatus(None, False, created, problem=problem)
    else:
        server_ssk, _ = parse_cross_signing_key(
            (query.get("self_signing_keys") or {}).get(user_id), user_id, "self_signing"
        )
        if server_ssk != keys.self_signing_pub:
            return CrossSigningStatus(
                keys.master_pub,
                False,
                False,
                problem="the server's self-signing key is not the one saved",
            )

    device = ((query.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    if not isinstance(device, dict):
        return CrossSigningStatus(
            keys.master_pub, False, created, problem="device keys are not on the server yet"
        )
    if (device.get("keys") or {}).get(f"ed25519:{device_id}") != device_ed25519:
        return CrossSigningStatus(
            keys.master_pub,
            False,
            created,
            problem="the server shows a different ed25519 key for this device; not signing it",
        )
    if not verify_signed_json(device, user_id, f"ed25519:{device_id}", device_ed25519):
        return CrossSigningStatus(
            keys.master_pub, False, created, problem="device keys are not self-signed"
        )

    ssk_id = f"ed25519:{keys.self_signing_pub}"
    body: dict[str, Any] = {}
    if not verify_signed_json(device, user_id, ssk_id, keys.self_signing_pub):
        body[device_id] = sign_device_keys(device, user_id, keys.self_signing)
    master_obj = (query.get("master_keys") or {}).get(user_id) or {}
    if sign_with_device is not None and not verify_signed_json(
        master_obj, user_id, f"ed25519:{device_id}", device_ed25519
    ):
        body[keys.master_pub] = sign_master_with_device(
            master_obj, user_id, device_id, sign_with_device
        )
    if body:
        try:
            await api.upload_signatures({user_id: body})
        except CrossSigningError as exc:
            return CrossSigningStatus(keys.master_pub, False, created, problem=str(exc))
    return CrossSigningStatus(
        keys.master_pub,
        True,
        created,
        uploaded_device_signature=device_id in body,
    )
