"""nio's crypto store on PostgreSQL, so a standby has the same Olm account, sessions, devices
and trust state as the active instance.

nio's `SqliteStore` is peewee over SQLite. Its queries are portable except one thing: it
saves with `Model.replace()`, SQLite's `INSERT OR REPLACE`, which PostgreSQL does not have.
Here the same models and methods run on peewee's PostgreSQL database, and a REPLACE is
written as the upsert it means: `INSERT ... ON CONFLICT (<the model's unique key>) DO
UPDATE SET <every other column> = EXCLUDED.<column>`. The unique key is read from the
model (its primary key, or its one `UNIQUE(...)` constraint), so no model is special-cased.

Pickles are encrypted with the pickle key by vodozemac exactly as in the SQLite store; the
rows hold nothing in the clear that the SQLite file does not.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from peewee import SQL, Field, Model, OnConflict
from playhouse.psycopg3_ext import Psycopg3Database

from bot import peewee_drivers
from bot.niostore import BotCryptoStore

peewee_drivers.hand_over()  # peewee was imported without psycopg (bot/peewee_drivers.py)


def unique_key(model: type[Model]) -> list[Field]:
    """The columns a REPLACE on this model conflicts on."""
    meta = model._meta  # type: ignore[attr-defined]
    for constraint in getattr(meta, "constraints", None) or []:
        text = constraint.sql if isinstance(constraint, SQL) else str(constraint)
        match = re.fullmatch(r"\s*UNIQUE\s*\(([^)]*)\)\s*", text)
        if match:
            names = [n.strip() for n in match[1].split(",")]
            by_column = {f.column_name: f for f in meta.sorted_fields}
            return [by_column[n] for n in names]
    primary = meta.primary_key
    if primary is not None and not getattr(primary, "auto_increment", False):
        return [primary]
    raise ValueError(f"{meta.table_name}: no unique key to upsert on")


class UpsertingPostgresqlDatabase(Psycopg3Database):  # type: ignore[misc]
    """PostgreSQL (peewee on psycopg 3, the bot's one driver; it reads BYTEA as bytes, as
    nio's ByteField expects) that reads peewee's REPLACE as an upsert on the model's
    unique key."""

    def conflict_update(self, oc: OnConflict, query: Any) -> Any:
        if (oc._action or "").lower() == "replace":
            model = query.model
            target = unique_key(model)
            # By name: peewee overloads == on fields (it builds an SQL expression).
            names = {f.name for f in target}
            keep = [
                f
                for f in model._meta.sorted_fields
                if f.name not in names and not getattr(f, "auto_increment", False)
            ]
            if not keep:
                oc = OnConflict("IGNORE", conflict_target=target)
            else:
                oc = OnConflict(conflict_target=target, preserve=keep)
        return super().conflict_update(oc, query)


def connection_kwargs(url: str) -> dict[str, Any]:
    """psycopg (libpq) connection parameters from a postgresql:// URL."""
    parts = urlsplit(url)
    kwargs: dict[str, Any] = {"database": unquote(parts.path.lstrip("/"))}
    if parts.hostname:
        kwargs["host"] = parts.hostname
    if parts.port:
        kwargs["port"] = parts.port
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password:
        kwargs["password"] = unquote(parts.password)
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        kwargs[key] = unquote(value)
    return kwargs


# nio's store methods that write. On PostgreSQL each first asks `may_write` (the lease,
# checked locally): an instance paused past its lease that wakes up mid-sync must not
# overwrite the Olm account or sessions the instance now active has saved since.
WRITES = (
    "save_account",
    "save_session",
    "save_inbound_group_session",
    "save_device_keys",
    "save_encrypted_rooms",
    "save_sync_token",
    "delete_encrypted_room",
    "add_outgoing_key_request",
    "remove_outgoing_key_request",
    "verify_device",
    "unverify_device",
    "blacklist_device",
    "unblacklist_device",
    "ignore_device",
    "unignore_device",
    "ignore_devices",
)


class CryptoStoreFenced(RuntimeError):
    """This instance lost the lease: nio's crypto state is not written any more."""


def _fenced(name: str) -> Any:
    original = getattr(BotCryptoStore, name)

    def method(self: PostgresCryptoStore, *args: Any, **kwargs: Any) -> Any:
        if self.may_write is not None and not self.may_write():
            raise CryptoStoreFenced(f"{name}: this instance no longer holds the lease")
        return original(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


class PostgresCryptoStore(BotCryptoStore):
    """The bot's nio store (nio's SqliteStore + the write-through trust and account cache of
    bot/niostore.py) on PostgreSQL. See `for_url`.

    The cache stays right with a standby: only the lease holder loads the store (a standby
    opens it at takeover, from the database), and only it writes.
    """

    url: str = ""
    may_write: Any = None

    def _create_database(self) -> Psycopg3Database:
        # peewee (3.18+) runs each query in autocommit unless inside atomic(), so a failed
        # statement leaves no aborted transaction behind (its old `autorollback` option).
        return UpsertingPostgresqlDatabase(autoconnect=True, **connection_kwargs(self.url))

    @classmethod
    def for_url(cls, url: str, may_write: Any = None) -> type[PostgresCryptoStore]:
        """A store class bound to one database, for nio's `AsyncClientConfig(store=...)`."""
        return type(
            "PostgresCryptoStore",
            (cls,),
            {"url": url, "may_write": staticmethod(may_write) if may_write else None},
        )


for _name in WRITES:
    setattr(PostgresCryptoStore, _name, _fenced(_name))
