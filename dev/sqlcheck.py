"""Every SQL statement written in Homeward's code, translated (store/sql.py) and prepared on PostgreSQL.

The store's tests run on both engines, but only the statements they reach. This reads the
runtime's source instead (every folder of the import root but `dev/`): each string literal
that is a `SELECT`/`INSERT`/`UPDATE`/`DELETE`/`WITH` statement, and each f-string one whose
holes are module-level string constants or a list of placeholders (`marks`, `placeholders`:
"?, ?"), is translated by `to_postgresql` and `PREPARE`d in a migrated database: PostgreSQL
parses it and resolves every table, column, function and type in it without running it. A
statement SQLite accepts and PostgreSQL does not (`INSERT OR IGNORE`, `ifnull`, `IS ?`, a bare
column beside an aggregate, an ambiguous column in an upsert's `WHERE`, a column a migration
forgot) fails here, whether a test reaches it or not. What `PREPARE` cannot see is in
store/README.md (a parameter of the wrong Python type, `sum()` giving a `Decimal`). Left out:
statements for one engine by design (SQLite's catalog tables; psycopg's own `%s` placeholders).

    .venv/bin/python -m homeward.dev.sqlcheck          # a throwaway PostgreSQL (homeward.dev.postgres)

tests/test_store_postgresql.py runs it in `make test`. After merging a branch written for
SQLite alone, this names what its SQL needs (the rules: store/README.md).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from homeward.store.sql import to_postgresql

__all__ = ["Statement", "check", "statements"]

#: Folders of the checkout that hold runtime code (dev/ and tests/ are not the runtime).
RUNTIME = ("homeward", "bot", "commands", "work", "exports", "messages", "store", "matrix", "care")
#: f-string holes that stand for a list of placeholders.
PLACEHOLDER_HOLES = {"marks", "placeholders", "qs", "question_marks"}
_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s")  # upper case, as the store writes SQL (not prose)
_BODY = re.compile(r"\b(FROM|INTO|SET)\b")
#: Statements for one engine by design, left out: SQLite's own catalog (`sqlite_master`, `sqlite_sequence`),
#: and psycopg's `%s` placeholders (written for PostgreSQL alone, past the translation).
_ONE_ENGINE = re.compile(r"\bsqlite_\w+|%s")


@dataclass(frozen=True)
class Statement:
    path: str  # relative to the checkout
    line: int
    sql: str


def checkout() -> Path:
    import homeward

    return Path(homeward.__file__).resolve().parent.parent


def statements(root: Path | None = None) -> tuple[list[Statement], list[Statement]]:
    """(the statements found, the f-string ones with holes that cannot be filled, left unchecked)."""
    base = root or checkout()
    found: list[Statement] = []
    unfilled: list[Statement] = []
    for folder in RUNTIME:
        for path in sorted((base / folder).rglob("*.py")):
            relative = str(path.relative_to(base))
            tree = ast.parse(path.read_text(encoding="utf-8"), relative)
            constants = _module_strings(tree)
            inside: set[int] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr):
                    inside.update(id(value) for value in node.values)
                    sql = _fill(node, constants)
                    text = sql if sql is not None else ast.unparse(node)
                    if _is_statement(text.removeprefix("f").strip("'\"")):
                        (found if sql is not None else unfilled).append(Statement(relative, node.lineno, text))
                elif (
                    isinstance(node, ast.Constant)
                    and id(node) not in inside
                    and isinstance(node.value, str)
                    and _is_statement(node.value)
                ):
                    found.append(Statement(relative, node.lineno, node.value))
    return found, unfilled


def _is_statement(text: str) -> bool:
    return bool(_STATEMENT.match(text) and _BODY.search(text)) and not _ONE_ENGINE.search(text)


def _module_strings(tree: ast.Module) -> dict[str, str]:
    strings: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                strings[target.id] = node.value.value
    return strings


def _fill(node: ast.JoinedStr, constants: dict[str, str]) -> str | None:
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
            continue
        assert isinstance(value, ast.FormattedValue)
        name = ast.unparse(value.value)
        if name in constants:
            parts.append(constants[name])
        elif name in PLACEHOLDER_HOLES:
            parts.append("?, ?")
        else:
            return None
    return "".join(parts)


def numbered(sql: str, identity_tables: frozenset[str]) -> str:
    """The statement as the store sends it to PostgreSQL, with `$1, $2, …` for `PREPARE`."""
    text, _ = to_postgresql(sql, True, identity_tables)
    count = 0

    def parameter(match: re.Match[str]) -> str:
        nonlocal count
        if match[0] == "%%":
            return "%"
        count += 1
        return f"${count}"

    return re.sub(r"%%|%s", parameter, text)


def check(url: str, found: list[Statement]) -> list[tuple[Statement, str]]:
    """The statements PostgreSQL refuses, each with its error, in the migrated database at `url`."""
    import psycopg

    failures: list[tuple[Statement, str]] = []
    with psycopg.connect(url, autocommit=True) as db:
        identity = frozenset(
            name
            for (name,) in db.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND column_name = 'id' AND is_identity = 'YES'"
            ).fetchall()
        )
        for statement in found:
            try:
                db.execute(f"PREPARE homeward_check AS {numbered(statement.sql, identity)}".encode())
                db.execute("DEALLOCATE homeward_check")
            except psycopg.errors.IndeterminateDatatype:
                continue  # a parameter whose type only its value says: the store's tests run those
            except psycopg.Error as exc:
                failures.append((statement, str(exc).splitlines()[0]))
    return failures


def main() -> int:
    from homeward.dev.postgres import LocalPostgres

    found, unfilled = statements()
    with LocalPostgres() as server:
        failures = check(server.fresh_url(migrated=True), found)
    for statement, error in failures:
        print(f"{statement.path}:{statement.line}: {error}\n    {' '.join(statement.sql.split())[:240]}")
    for statement in unfilled:
        print(f"{statement.path}:{statement.line}: not checked (an f-string hole this tool cannot fill)")
    print(f"{len(found)} statements, {len(failures)} refused by PostgreSQL, {len(unfilled)} not checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
