"""psycopg 3 behind the small aiosqlite API the domain code uses, so its SQL is written once.

What the domain code relies on, and how it maps:
- `db.execute(sql, params)` is both awaitable and an async context manager giving a cursor
  with `fetchone`/`fetchall`/`close`/`rowcount`; `execute_fetchall`; `executemany`.
- `?` placeholders become psycopg's `%s` (once per statement text, cached; quotes and
  comments are skipped; a literal `%` is doubled, psycopg reads it everywhere).
- Rows are indexable by name and by position, like aiosqlite.Row (`Row` below).
- SQLite converts loosely between a column's type and a parameter's; PostgreSQL refuses a
  bigint where text is compared, or an integer where a boolean is wanted. Parameters are
  typed by the statement, never guessed from their Python type: numbers and booleans go to
  the server as untyped literals (OID 0, like a quoted literal in the SQL text), and
  PostgreSQL gives each the type the statement declares for it, in the same parse that
  plans the statement (no extra round trip). A `bool` is the literal `1`/`0`, which reads
  as a boolean where the statement wants one (`(? OR sent_at >= ?)`) and as SQLite's 0/1
  in an integer or text column; a whole float is written without its `.0` so that it fits
  an integer column. `str` is untyped in psycopg already; `bytes` stay `bytea`.

One PostgreSQL driver for the whole bot: nio's crypto store (peewee) speaks psycopg 3 too
(bot/crypto/pgstore.py), and so do the lease, backup, restore and check-config.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg.adapt import AdaptersMap, Dumper
from psycopg_pool import AsyncConnectionPool

# PostgreSQL error classes the domain code may want to tell apart, under portable names.
IntegrityError = psycopg.IntegrityError
Error = psycopg.Error


class _Untyped(Dumper):
    """A number as an untyped literal: the statement decides its type."""

    oid = 0

    def dump(self, obj: Any) -> bytes:
        return str(obj).encode()


class _UntypedFloat(_Untyped):
    def dump(self, obj: Any) -> bytes:
        if math.isfinite(obj) and obj.is_integer() and abs(obj) < 2**63:
            return str(int(obj)).encode()  # 3.0 fits an integer column, as in SQLite
        return repr(obj).encode()


class _UntypedBool(_Untyped):
    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"  # a boolean, or SQLite's 0/1 in any other column


ADAPTERS = AdaptersMap(psycopg.adapters)
ADAPTERS.register_dumper(int, _Untyped)
ADAPTERS.register_dumper(float, _UntypedFloat)
ADAPTERS.register_dumper(bool, _UntypedBool)


class Row(tuple[Any, ...]):
    """A result row: by position like a tuple, by column name like aiosqlite.Row."""

    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


_row_classes: dict[tuple[str, ...], type[Row]] = {}


def _row_factory(cursor: Any) -> Any:
    """psycopg row factory: one Row class per column list (its name index shared)."""
    names = tuple(c.name for c in cursor.description or ())
    cls = _row_classes.get(names)
    if cls is None:
        cls = type("Row", (Row,), {"_index": {n: i for i, n in enumerate(names)}})
        if len(_row_classes) < 4096:
            _row_classes[names] = cls
    return cls


async def connect(url: str, *, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
    """A connection in autocommit (transactions are explicit: `conn.transaction()`), with
    this module's rows and parameters."""
    extra: dict[str, Any] = {}
    if timeout is not None:
        extra["connect_timeout"] = max(2, math.ceil(timeout))  # libpq: whole seconds, >= 2
    return await psycopg.AsyncConnection.connect(
        url, autocommit=True, context=ADAPTERS, row_factory=_row_factory, **extra
    )


async def pool(url: str, size: int) -> AsyncConnectionPool[Any]:
    """An open pool of such connections, for reads outside a transaction."""
    opened: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True, "context": ADAPTERS, "row_factory": _row_factory},
        open=False,
    )
    await opened.open(wait=True)
    return opened


_translated: dict[str, str] = {}


def translate(sql: str) -> str:
    """`?` -> `%s` outside quotes and comments, and every literal `%` doubled."""
    hit = _translated.get(sql)
    if hit is not None:
        return hit
    out: list[str] = []
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < length and sql[end + 1] == ch:  # '' escape
                end = sql.find(ch, end + 2)
            end = length - 1 if end == -1 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        out.append("%s" if ch == "?" else "%%" if ch == "%" else ch)
        i += 1
    text = "".join(out)
    if len(_translated) < 4096:
        _translated[sql] = text
    return text


class Cursor:
    """The rows of one executed statement (already fetched; statements here are small)."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self._pos = 0
        self.rowcount = rowcount

    async def fetchone(self) -> Row | None:
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    async def fetchall(self) -> list[Row]:
        rows = self._rows[self._pos :]
        self._pos = len(self._rows)
        return rows

    async def fetchmany(self, size: int = 1) -> list[Row]:
        rows = self._rows[self._pos : self._pos + size]
        self._pos += len(rows)
        return rows

    async def close(self) -> None:
        self._rows = []

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> Row:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _Result:
    """What `execute()` returns: await it, or use it as `async with ... as cur`."""

    def __init__(self, conn: PgConnection, sql: str, params: Sequence[Any]) -> None:
        self._conn = conn
        self._sql = sql
        self._params = params
        self._cursor: Cursor | None = None

    def __await__(self) -> Any:
        return self._conn._run(self._sql, self._params).__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._conn._run(self._sql, self._params)
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """One psycopg connection (or pool) speaking the aiosqlite subset described above.

    With a pool each statement borrows a connection: right for reads outside a transaction
    (the store's `reader`), never used for a write transaction, which owns one connection.
    """

    def __init__(self, target: psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any]) -> None:
        self._target = target

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        text = translate(sql)
        if isinstance(self._target, AsyncConnectionPool):
            async with self._target.connection() as conn:
                return await _run_on(conn, text, params)
        return await _run_on(self._target, text, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        return _Result(self, sql, params)

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return (await self._run(sql, params))._rows

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        for params in seq:
            await self._run(sql, params)

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None (for the lease and the tools)."""
        rows = (await self._run(sql, params))._rows
        return rows[0][0] if rows else None

    async def commit(self) -> None:
        """Transactions belong to the store (`write()`); kept for API parity."""

    async def rollback(self) -> None:
        """See `commit`."""


async def _run_on(conn: psycopg.AsyncConnection[Any], text: str, params: Sequence[Any]) -> Cursor:
    async with conn.cursor() as cur:
        await cur.execute(text, list(params))
        rows: list[Row] = await cur.fetchall() if cur.description is not None else []
        return Cursor(rows, cur.rowcount)


def _copy_target(table: str, columns: Sequence[str]) -> str:
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return '"' + table.replace('"', '""') + f'" ({names})'


async def copy_out(
    conn: psycopg.AsyncConnection[Any], table: str, columns: Sequence[str], path: str
) -> None:
    """A table's rows into a file, in COPY's text format (backups)."""
    async with conn.cursor() as cur:
        with open(path, "wb") as out:  # noqa: ASYNC230 - a local file, written in pieces
            async with cur.copy(f"COPY {_copy_target(table, columns)} TO STDOUT") as copy:
                async for data in copy:
                    out.write(data)


async def copy_in(
    conn: psycopg.AsyncConnection[Any], table: str, columns: Sequence[str], path: str
) -> None:
    """A file in COPY's text format into a table (restores)."""
    async with conn.cursor() as cur:
        with open(path, "rb") as src:  # noqa: ASYNC230 - a local file, read in pieces
            async with cur.copy(f"COPY {_copy_target(table, columns)} FROM STDIN") as copy:
                while chunk := src.read(1 << 16):
                    await copy.write(chunk)
