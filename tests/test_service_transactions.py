"""A service never opens a transaction (issue 14.3): requests and jobs own them, a service works in the
session it is given. An ``ast`` walk of every ``src/tgo/**/service.py`` that fails on a call that opens,
commits or rolls back a transaction. Worker flows that own their transactions live in the package's
``delivery.py``/``jobs.py``/``verification.py`` instead.

Not counted: ``Database.read_scope()`` (a pooled connection in autocommit mode: no transaction, no lock
held) and ``session.begin_nested()`` (a savepoint inside the caller's transaction, which the caller still
commits or rolls back)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "tgo"

# The callables whose call opens, ends or makes a transaction (or a session that will own one).
OPENS_A_TRANSACTION = frozenset(
    {"session_scope", "sessionmaker", "async_sessionmaker", "begin", "commit", "rollback", "connect"}
)


def transaction_calls(source: str) -> list[str]:
    """``name (line N)`` for each call in ``source`` to one of ``OPENS_A_TRANSACTION``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        )
        if name in OPENS_A_TRANSACTION:
            found.append((node.lineno, name))
    return [f"{name} (line {line})" for line, name in sorted(found)]


def service_files() -> list[Path]:
    return sorted(ROOT.rglob("service.py"))


def test_the_walk_finds_every_way_to_open_a_transaction() -> None:
    source = (
        "async def a(runtime, db, session, engine, maker):\n"
        "    async with runtime.db.session_scope() as s: ...\n"
        "    async with db.sessionmaker() as s: ...\n"
        "    async with engine.begin() as conn: ...\n"
        "    async with engine.connect() as conn: ...\n"
        "    await session.commit()\n"
        "    await session.rollback()\n"
        "    maker = async_sessionmaker(engine)\n"
        "    async with db.read_scope() as conn: ...\n"
        "    async with session.begin_nested(): ...\n"
        "    await session.flush()\n"
    )
    assert [c.split(" ")[0] for c in transaction_calls(source)] == [
        "session_scope",
        "sessionmaker",
        "begin",
        "connect",
        "commit",
        "rollback",
        "async_sessionmaker",
    ]


def test_the_walk_covers_every_package() -> None:
    packages = {p.parent.name for p in service_files()}
    assert {"messages", "webhooks", "sms", "senders", "media", "contacts"} <= packages


def test_no_service_opens_a_transaction() -> None:
    bad = {
        str(path.relative_to(ROOT)): calls
        for path in service_files()
        if (calls := transaction_calls(path.read_text(encoding="utf-8")))
    }
    assert not bad, f"a service.py opens a transaction (move the flow to the package's jobs): {bad}"
