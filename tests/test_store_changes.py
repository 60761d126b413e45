"""Whether a command changed its case is said by the store functions that write (`store/changes.py`).

Every store function that writes, itself or through another store function, is marked
`@changes_case` or `@bookkeeping`: a write nobody classified would be a change that re-plans
nothing (reminders left as they were), so this test finds every one from the source.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from homeward.store.changes import BOOKKEEPING, CASE, WRITES, bookkeeping, changes_case, recording

STORE = Path(__file__).resolve().parent.parent / "store"
#: An SQL statement that writes.
SQL_WRITE = re.compile(r"\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|REPLACE\s+INTO)\b")
#: Not functions of the store's repositories: the schema and the connection.
NOT_REPOSITORIES = {"migrations", "db", "changes", "__init__"}


def _functions() -> dict[tuple[str, str], str]:
    """(module, name) → source of every module-level function of the store's repositories."""
    found = {}
    for path in sorted(STORE.glob("*.py")):
        if path.stem in NOT_REPOSITORIES:
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[(path.stem, node.name)] = ast.get_source_segment(source, node) or ""
    return found


def _writers() -> set[tuple[str, str]]:
    """The functions that write: with an SQL write of their own, or by calling one that does (to a fixpoint)."""
    functions = _functions()
    writers = {key for key, source in functions.items() if SQL_WRITE.search(source)}
    while True:
        more = {
            (module, name)
            for (module, name), source in functions.items()
            if (module, name) not in writers
            and any(
                re.search(rf"(?<![\w.]){callee}\(" if mod == module else rf"\b{mod}\.{callee}\(", source)
                for mod, callee in writers
            )
        }
        if not more:
            return writers
        writers |= more


def test_the_writer_search_finds_writes_of_their_own_and_through_other_store_functions() -> None:
    writers = _writers()
    assert ("cases", "add_ack") in writers  # its own INSERT (through _ensure_item, too)
    assert ("consents", "add_answer") in writers  # only through chain.append
    assert ("cases", "load_case") not in writers and ("desk", "cases_of") not in writers


@pytest.mark.parametrize("module, name", sorted(_writers()))
def test_every_store_function_that_writes_says_whether_its_write_changes_a_case(module: str, name: str) -> None:
    if name.startswith("_"):
        return  # a private helper: the public functions that call it are checked
    function = getattr(importlib.import_module(f"homeward.store.{module}"), name)
    assert getattr(function, WRITES, None) in (CASE, BOOKKEEPING), (
        f"store.{module}.{name} writes: mark it @changes_case (it changes what a case is) "
        "or @bookkeeping (audit rows, queued messages, handled marks)"
    )


async def test_only_a_case_changing_write_marks_the_unit_of_work_changed() -> None:
    @changes_case
    async def put_date() -> str:
        return "written"

    @bookkeeping
    async def audit() -> None:
        return None

    with recording() as reading:
        await audit()
    assert reading.case is False
    with recording() as changing:
        await audit()
        assert await put_date() == "written"
    assert changing.case is True
    assert await put_date() == "written"  # outside a unit of work that asks: nothing to mark, no failure


def test_what_changes_a_case_and_what_is_bookkeeping() -> None:
    from homeward.store import cases, consents, outbox, reminders, state

    assert {getattr(f, WRITES) for f in (cases.add_ack, cases.put_date, consents.add_answer, reminders.snooze)} == {
        CASE
    }
    assert {getattr(f, WRITES) for f in (cases.audit, outbox.enqueue, outbox.enqueue_file, state.mark_handled)} == {
        BOOKKEEPING
    }
