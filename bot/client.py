"""nio client setup: one device for the bot's whole life, and its E2EE store."""

from __future__ import annotations

import json
import logging
from typing import Any

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.federation_calls import FederationBoundClient
from bot.niostore import BotCryptoStore
from bot.private_files import private_files, protect_crypto_store, write_private
from config import Settings

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
CRYPTO_DIR = "crypto"


class StartupError(RuntimeError):
    """The bot cannot start; the message says what to do."""


def make_client(settings: Settings, may_write: Any = None) -> AsyncClient:
    crypto_dir = settings.data_dir / CRYPTO_DIR
    crypto_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    assert settings.pickle_key is not None
    # On PostgreSQL the crypto store is shared with a standby (see bot/crypto/pgstore.py).
    store: Any = BotCryptoStore  # nio's SqliteStore without per-event trust queries
    if settings.on_postgresql:
        from bot.crypto.pgstore import PostgresCryptoStore

        store = PostgresCryptoStore.for_url(settings.store_url, may_write)
    config = AsyncClientConfig(
        store=store,
        store_sync_tokens=False,  # the bot's own store keeps the token, after dispatch
        encryption_enabled=True,
        pickle_key=settings.pickle_key.get_secret_value(),
        # Retries are ours (outbox, sync loop), so they are bounded, logged and counted.
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=settings.sync_timeout_ms / 1000 + 30,
    )
    return FederationBoundClient(  # timeouts on calls that wait on other servers
        settings.homeserver,
        settings.user_id,
        store_path=str(crypto_dir),
        config=config,
    )


async def login(client: AsyncClient, settings: Settings, *, fresh: bool = False) -> None:
    """Restore the saved device, or log in once with the password and save it (0600).

    fresh: log in with the password as a new device whatever is saved (after a restore,
    bot/recovery.py)."""
    creds_path = settings.data_dir / CREDENTIALS_FILE
    if fresh and settings.password is None:
        raise StartupError(
            "after a restore the bot logs in as a fresh device and needs its password: "
            "set password_file (ATTACHE_PASSWORD_FILE)"
        )
    if creds_path.exists() and not fresh:
        saved = json.loads(creds_path.read_text(encoding="utf-8"))
        if saved.get("user_id") != settings.user_id:
            raise StartupError(
                f"{creds_path} belongs to {saved.get('user_id')}, not {settings.user_id}; "
                "use another data_dir"
            )
        with private_files():
            client.restore_login(settings.user_id, saved["device_id"], saved["access_token"])
    elif settings.access_token is not None and not fresh:
        assert settings.device_id is not None
        with private_files():
            client.restore_login(
                settings.user_id, settings.device_id, settings.access_token.get_secret_value()
            )
    else:
        assert settings.password is not None
        with private_files():  # nio opens its store when the login answer arrives
            resp = await client.login(
                settings.password.get_secret_value(), device_name=settings.device_name
            )
        if not isinstance(resp, LoginResponse):
            raise StartupError(f"login failed: {getattr(resp, 'message', resp)}")
        write_private(
            creds_path,
            json.dumps(
                {
                    "user_id": resp.user_id,
                    "device_id": resp.device_id,
                    "access_token": resp.access_token,
                }
            ),
        )
        log.info("logged in as a new device %s", resp.device_id)
    protect_crypto_store(settings.data_dir / CRYPTO_DIR)
    who = await client.whoami()
    if not isinstance(who, WhoamiResponse):
        raise StartupError(
            f"the homeserver refused the saved access token ({getattr(who, 'message', who)}); "
            f"if the device was deleted, remove {creds_path} and the crypto store to start anew"
        )
    if client.should_upload_keys:
        await client.keys_upload()
