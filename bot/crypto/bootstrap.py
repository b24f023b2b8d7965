"""`attache-bot bootstrap-cross-signing`: create or repair the bot's identity, then report."""

from __future__ import annotations

import logging

from bot.client import StartupError, login, make_client
from bot.crypto.policy import own_cross_signing
from bot.lock import AlreadyRunning, DataDirLock
from config import Settings

log = logging.getLogger(__name__)


async def bootstrap_cross_signing(settings: Settings) -> int:
    """Idempotent; exit 0 when the device is signed by the bot's own identity."""
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"attache-bot: {exc} (the running bot bootstraps at start)")
        return 1
    client = make_client(settings)
    try:
        await login(client, settings)
        status = await own_cross_signing(client, settings)
    except StartupError as exc:
        print(f"attache-bot: {exc}")
        return 1
    finally:
        await client.close()
        lock.release()
    if status.problem or not status.device_signed:
        print(f"cross-signing NOT in order: {status.problem or 'device not signed'}")
        return 1
    what = "created and published" if status.created else "already published"
    print(
        f"cross-signing ok: identity {what} (master key {status.master_key}); "
        f"device {client.device_id} signed. Users may compare the master key when verifying."
    )
    return 0
