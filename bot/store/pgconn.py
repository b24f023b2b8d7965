"""asyncpg behind the small aiosqlite API the domain code uses, so its SQL is written once.

What the domain code relies on, and how it maps:
- `db.execute(sql, params)` is both awaitable and an async context manager giving a cursor
  with `fetchone`/`fetchall`/`close`/`rowcount`; `execute_fetchall`; `executemany`.
- `?` placeholders become `$1..$n` (once per statement text, cached; quotes and comments
  are skipped).
- Rows are asyncpg Records: indexable by name and by position, like aiosqlite.Row.
- SQLite converts loosely between a column's type and a parameter's; asyncpg refuses a str
  for an integer or an int for text. Parameters are typed at this adapter: the types
  PostgreSQL infers for a statement are read once (a prepare) and cached, and each value
  is converted to its parameter's declared type, never guessed from its Python type (a
  `bool` stays a `bool` where the statement wants a boolean, `(? OR sent_at >= ?)`, and
  becomes 0/1 only for an integer column, as SQLite stores it). This keeps SQLite's loose
  typing where the domain code depended on it, without every call site learning a second
  rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

# PostgreSQL error classes the domain code may want to tell apart, under portable names.
IntegrityError = asyncpg.IntegrityConstraintViolationError

_TEXT = {"text", "varchar", "bpchar", "name", "unknown"}
_INT = {"int2", "int4", "int8"}
_FLOAT = {"float4", "float8", "numeric"}

_translated: dict[str, tuple[str, bool]] = {}
_param_types: dict[str, tuple[str, ...]] = {}


def translate(sql: str) -> tuple[str, bool]:
    """`?` -> `$n` outside quotes and comments; also whether the statement returns rows."""
    hit = _translated.get(sql)
    if hit is not None:
        return hit
    out: list[str] = []
    n = 0
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < length and sql[end + 1] == ch:  # '' escape
                end = sql.find(ch, end + 2)
            end = length - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
            continue
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end == -1 else end
            out.append(sql[i:end])
            i = end
            continue
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
        i += 1
    text = "".join(out)
    head = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    returns_rows = head in ("SELECT", "WITH", "VALUES", "SHOW") or bool(
        re.search(r"\bRETURNING\b", text, re.IGNORECASE)
    )
    result = (text, returns_rows)
    if len(_translated) < 4096:
        _translated[sql] = result
    return result


def _coerce(value: Any, kind: str) -> Any:
    """`value` as a parameter of PostgreSQL type `kind` (the statement's, from a prepare)."""
    if value is None:
        return None
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "t", "true", "yes", "on")
        return bool(value)  # SQLite's 0/1 (and any int) for a boolean
    if isinstance(value, bool):
        value = int(value)  # SQLite stores True as 1, also in a text column
    if kind in _TEXT:
        return value if isinstance(value, str) else str(value)
    if kind in _INT:
        if isinstance(value, str):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if kind in _FLOAT:
        return float(value) if isinstance(value, int | str) else value
    if kind == "bytea":
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, memoryview | bytearray):
            return bytes(value)
    return value


class Cursor:
    """The rows of one executed statement (already fetched; statements here are small)."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self._pos = 0
        self.rowcount = rowcount

    async def fetchone(self) -> asyncpg.Record | None:
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    async def fetchall(self) -> list[asyncpg.Record]:
        rows = self._rows[self._pos :]
        self._pos = len(self._rows)
        return rows

    async def fetchmany(self, size: int = 1) -> list[asyncpg.Record]:
        rows = self._rows[self._pos : self._pos + size]
        self._pos += len(rows)
        return rows

    async def close(self) -> None:
        self._rows = []

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> asyncpg.Record:
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
    """One asyncpg connection (or pool) speaking the aiosqlite subset described above.

    With a pool each statement borrows a connection: right for reads outside a transaction
    (the store's `reader`), never used for a write transaction, which owns one connection.
    """

    def __init__(self, target: asyncpg.Connection | asyncpg.Pool) -> None:
        self._target = target

    async def _types(self, conn: Any, sql: str) -> tuple[str, ...]:
        kinds = _param_types.get(sql)
        if kinds is None:
            stmt = await conn.prepare(sql)
            kinds = tuple(t.name for t in stmt.get_parameters())
            if len(_param_types) < 4096:
                _param_types[sql] = kinds
        return kinds

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        text, returns_rows = translate(sql)
        if isinstance(self._target, asyncpg.Pool):
            async with self._target.acquire() as conn:
                return await self._run_on(conn, text, returns_rows, params)
        return await self._run_on(self._target, text, returns_rows, params)

    async def _run_on(
        self, conn: Any, text: str, returns_rows: bool, params: Sequence[Any]
    ) -> Cursor:
        args: list[Any] = list(params)
        if args:
            kinds = await self._types(conn, text)
            args = [_coerce(v, k) for v, k in zip(args, kinds, strict=False)]
        if returns_rows:
            rows = await conn.fetch(text, *args)
            return Cursor(rows, len(rows))
        status = await conn.execute(text, *args)
        return Cursor([], _rowcount(status))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        return _Result(self, sql, params)

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return (await self._run(sql, params))._rows

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        for params in seq:
            await self._run(sql, params)

    async def commit(self) -> None:
        """Transactions belong to the store (`write()`); kept for API parity."""

    async def rollback(self) -> None:
        """See `commit`."""


def _rowcount(status: str) -> int:
    """asyncpg's command tag ('UPDATE 3', 'INSERT 0 1') -> 3 / 1; -1 when it has none."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else -1
