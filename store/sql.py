"""The store's SQL on two engines: the connection every store function takes, and the translation to PostgreSQL.

Homeward's SQL is written once, in the dialect both SQLite and PostgreSQL accept (see
store/README.md, "Writing SQL for both engines"), with `?` placeholders. On SQLite it runs
as written through aiosqlite. On PostgreSQL (`homeward.store.postgres`) each distinct
statement is translated once (cached) by `to_postgresql`, which does a short, fixed list
of mechanical rewrites:

- placeholders: `?` → `%s` (psycopg's), and a literal `%` → `%%`;
- DDL: `INTEGER PRIMARY KEY AUTOINCREMENT` → an identity column, `INTEGER` → `BIGINT`
  (SQLite's integers are 64-bit), `REAL` → `DOUBLE PRECISION`, `BLOB` → `BYTEA`; the
  append-only triggers (`CREATE TRIGGER … BEGIN SELECT RAISE(ABORT, '…'); END`, with an
  optional `WHEN`) → a PL/pgSQL trigger function and its trigger, plus a TRUNCATE guard for
  the DELETE ones (TRUNCATE bypasses row triggers in PostgreSQL); `DROP TRIGGER x` → drop
  its function(s), which drops the trigger with them;
- the few SQLite functions the store reads JSON with, to their PostgreSQL built-ins:
  `json_group_array(x)` → `coalesce(json_agg(x), '[]')::text`, `json_array(…)` →
  `json_build_array(…)`, `json_group_object(k, v)` → `json_object_agg`, `json(x)` →
  `x::json`, `json_extract(x, '$.a."b.c"')` → `x::json #>> '{a,b.c}'` (text, as the store
  only extracts text), `CAST(x AS BLOB)` → `convert_to(x, 'UTF8')` (byte length);
- `lastrowid`: an `INSERT` into a table with an identity `id` gets `RETURNING id`, and the
  cursor's `lastrowid` is that id, as aiosqlite's is.

That list is all: a statement using anything else SQLite-only fails on PostgreSQL in the
store's tests, which run on both engines.

Why not a query layer (SQLAlchemy Core)? It would turn every statement of the store into
Python expressions or `text()` with named parameters, and still not bridge what differs
here: SQLite's JSON aggregation, its trigger syntax, the chain's next-id read. Those need
engine-specific SQL in either case; the rest is standard SQL that both engines run as
written. A translation of a dozen rules, tested on every statement the store has, keeps
the SQL readable as SQL and lets the other modules' new statements run on PostgreSQL
unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Awaitable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class Row(Protocol):
    """A result row: by column name or position, `keys()`, and iteration over the values (sqlite3.Row's interface)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Cursor(Protocol):
    """What a statement gave: its rows, how many rows it changed, the id it inserted."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...

    async def fetchmany(self, size: int | None = ...) -> Iterable[Any]: ...


class CursorResult(Protocol):
    """`db.execute(…)`: awaited, the cursor; or `async with db.execute(…) as cur:`."""

    def __await__(self) -> Generator[Any, None, Any]: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> Any: ...


class Connection(Protocol):
    """The connection every store function takes: aiosqlite's interface, which the PostgreSQL adapter offers too."""

    def execute(self, sql: str, parameters: Any = ..., /) -> CursorResult: ...

    def executemany(self, sql: str, parameters: Any, /) -> Awaitable[Any]: ...

    def execute_fetchall(self, sql: str, parameters: Any = ..., /) -> Awaitable[Iterable[Any]]: ...


class FetchedCursor:
    """The result of one statement, fetched whole in the one call that ran it (the store reads small results).

    Both engines' connections return it: on SQLite each call to aiosqlite's thread costs a thread
    switch there and back, so a query with its rows is one call, not three (execute, fetch, close)."""

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None, description: Any = None) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.description = description  # the columns (DB-API): each one's name first

    async def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def fetchall(self) -> list[Any]:
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or 1
        rows = self._rows[self._at : self._at + size]
        self._at += len(rows)
        return rows

    async def close(self) -> None:
        pass


class Result:
    """`await db.execute(…)` or `async with db.execute(…) as cur`, as aiosqlite allows both."""

    def __init__(self, run: Awaitable[FetchedCursor]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, FetchedCursor]:
        return self._run.__await__()

    async def __aenter__(self) -> FetchedCursor:
        return await self._run

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class ClosableConnection(Connection, Protocol):
    """A connection of its own (not the store's), closed by whoever opened it."""

    async def close(self) -> None: ...


def dialect(db: Connection) -> str:
    """Which engine `db` is: SQLITE or POSTGRESQL."""
    return getattr(db, "dialect", SQLITE)


async def rows_of(cur: Cursor, batch: int = 500) -> AsyncIterator[Any]:
    """The rows of a cursor, a batch at a time."""
    while found := list(await cur.fetchmany(batch)):
        for row in found:
            yield row


# --- the translation ------------------------------------------------------------------------

_DDL = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(CREATE|DROP|ALTER)\b", re.I)
_TRIGGER = re.compile(
    r"^\s*(?:--[^\n]*\n\s*)*CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+(?P<when>BEFORE|AFTER)\s+"
    r"(?P<op>UPDATE|DELETE|INSERT)(?:\s+OF\s+(?P<columns>[\w\s,]+?))?\s+ON\s+(?P<table>\w+)(?:\s+FOR\s+EACH\s+ROW)?"
    r"(?:\s+WHEN\s+(?P<cond>.*?))?\s+BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*'(?P<message>(?:[^']|'')*)'\s*\)\s*;?"
    r"\s*END\s*;?\s*$",
    re.I | re.S,
)
_DROP_TRIGGER = re.compile(r"^\s*(?:--[^\n]*\n\s*)*DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?(?P<name>\w+)\s*;?\s*$", re.I)
_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I)
_INSERT = re.compile(r"^\s*(?:--[^\n]*\n\s*)*INSERT\s+INTO\s+(?P<table>\w+)", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_FUNCTIONS = re.compile(r"\b(json_group_array|json_group_object|json_array|json_extract|json|CAST)\s*\(", re.I)
_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}


@functools.lru_cache(maxsize=4096)
def to_postgresql(sql: str, with_parameters: bool, identity_tables: frozenset[str] = frozenset()) -> tuple[str, bool]:
    """The statement for PostgreSQL, and whether it returns the inserted id (`lastrowid`)."""
    if trigger := _TRIGGER.match(sql):
        return _trigger(trigger), False
    if drop := _DROP_TRIGGER.match(sql):
        name = drop["name"]
        return f"DROP FUNCTION IF EXISTS {name}_fn(), {name}_truncate_fn() CASCADE", False
    text = _rewrite_functions(sql)
    if _DDL.match(text):
        text = _AUTOINCREMENT.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", text)
        text = _outside_literals(text, lambda code: re.sub(r"\b(INTEGER|REAL|BLOB)\b", _type, code, flags=re.I))
    returning = False
    insert = _INSERT.match(text)
    if insert and insert["table"].lower() in identity_tables and not _RETURNING.search(text):
        text = text.rstrip().rstrip(";") + " RETURNING id"
        returning = True
    if with_parameters:
        text = _placeholders(text)
    return text, returning


def _type(match: re.Match[str]) -> str:
    return _TYPES[match[1].upper()]


def _trigger(found: re.Match[str]) -> str:
    """An append-only trigger as PostgreSQL has them: a function that raises, and the trigger that calls it."""
    name, op, table = found["name"], found["op"].upper(), found["table"]
    message = found["message"]  # already an SQL string body ('' for a quote), valid in PL/pgSQL too
    condition = _rewrite_functions(found["cond"]) if found["cond"] else "TRUE"
    passes = "OLD" if op == "DELETE" else "NEW"
    of = f" OF {', '.join(c.strip() for c in found['columns'].split(','))}" if found["columns"] else ""
    statements = [
        f"CREATE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $homeward$ BEGIN"
        f" IF {condition} THEN RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation'; END IF;"
        f" RETURN {passes}; END $homeward$",
        f"CREATE TRIGGER {name} {found['when'].upper()} {op}{of} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
    ]
    if op == "DELETE":  # TRUNCATE removes rows without row triggers: refused outright
        statements += [
            f"CREATE FUNCTION {name}_truncate_fn() RETURNS trigger LANGUAGE plpgsql AS $homeward$ BEGIN"
            f" RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation'; END $homeward$",
            f"CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION {name}_truncate_fn()",
        ]
    return ";\n".join(statements)


def _rewrite_functions(sql: str) -> str:
    """SQLite's JSON functions (and CAST AS BLOB) as PostgreSQL's built-ins, inner calls first."""
    out: list[str] = []
    position = 0
    literals = _literal_spans(sql)
    while match := _FUNCTIONS.search(sql, position):
        if _inside(match.start(), literals):
            out.append(sql[position : match.end()])
            position = match.end()
            continue
        close = _closing_paren(sql, match.end() - 1)
        arguments = [_rewrite_functions(a) for a in _split_arguments(sql[match.end() : close])]
        out.append(sql[position : match.start()])
        out.append(_render(match[1].lower(), arguments, sql[match.start() : close + 1]))
        position = close + 1
    out.append(sql[position:])
    return "".join(out)


def _render(name: str, args: list[str], original: str) -> str:
    if name == "json_group_array" and len(args) == 1:
        return f"coalesce(json_agg({args[0]}), '[]'::json)::text"
    if name == "json_group_object" and len(args) == 2:
        return f"coalesce(json_object_agg({args[0]}, {args[1]}), '{{}}'::json)::text"
    if name == "json_array":
        return f"json_build_array({', '.join(args)})"
    if name == "json" and len(args) == 1:
        return f"({args[0]})::json"
    if name == "json_extract" and len(args) == 2:
        path = _json_path(args[1])
        return f"(({args[0]})::json #>> '{{{','.join(path)}}}')"
    if name == "cast" and len(args) == 1:
        cast = re.fullmatch(r"(?P<value>.*)\s+AS\s+BLOB", args[0], re.I | re.S)
        if cast:
            return f"convert_to({cast['value']}, 'UTF8')"
        return f"CAST({args[0]})"
    raise ValueError(f"cannot translate {original!r} to PostgreSQL")


def _json_path(literal: str) -> list[str]:
    """SQLite's JSON path ('$.a."b.c".d') as the elements of a PostgreSQL text array, each quoted."""
    text = literal.strip()
    if not (text.startswith("'") and text.endswith("'")):
        raise ValueError(f"only constant JSON paths translate to PostgreSQL, not {literal!r}")
    path = text[1:-1].replace("''", "'")
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {literal!r}")
    keys = re.findall(r'\.(?:"((?:[^"])*)"|(\w+))', path[1:])
    if "".join(f'."{q}"' if q else f".{w}" for q, w in keys) != path[1:]:
        raise ValueError(f"only object keys translate to PostgreSQL, not {literal!r}")
    return ['"' + (quoted or word).replace("\\", "\\\\").replace('"', '\\"') + '"' for quoted, word in keys]


def _placeholders(sql: str) -> str:
    """`?` → `%s` outside literals; every `%` doubled (psycopg reads `%` in the whole statement)."""
    parts: list[str] = []
    for start, end, literal in _segments(sql):
        piece = sql[start:end].replace("%", "%%")
        parts.append(piece if literal else piece.replace("?", "%s"))
    return "".join(parts)


def _outside_literals(sql: str, change: Any) -> str:
    return "".join(sql[s:e] if literal else change(sql[s:e]) for s, e, literal in _segments(sql))


def _segments(sql: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_literal) pieces: string literals, quoted names and comments are literal."""
    spans = _literal_spans(sql)
    pieces: list[tuple[int, int, bool]] = []
    position = 0
    for start, end in spans:
        if start > position:
            pieces.append((position, start, False))
        pieces.append((start, end, True))
        position = end
    if position < len(sql):
        pieces.append((position, len(sql), False))
    return pieces


def _literal_spans(sql: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # a doubled quote inside
                        j += 2
                        continue
                    break
                j += 1
            spans.append((i, min(j + 1, n)))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _closing_paren(sql: str, opening: int) -> int:
    depth = 0
    literals = _literal_spans(sql)
    i = opening
    while i < len(sql):
        for start, end in literals:
            if start == i:
                i = end
                break
        else:
            if sql[i] == "(":
                depth += 1
            elif sql[i] == ")":
                depth -= 1
                if depth == 0:
                    return i
            i += 1
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _split_arguments(text: str) -> list[str]:
    args: list[str] = []
    depth, current = 0, ""
    for start, end, literal in _segments(text):
        piece = text[start:end]
        if literal:
            current += piece
            continue
        for c in piece:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            if c == "," and depth == 0:
                args.append(current.strip())
                current = ""
            else:
                current += c
    if current.strip():
        args.append(current.strip())
    return args
