"""The Alembic history is one line: one head, which `tgo migrate` upgrades to, saying what it applied."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from tests.fixtures.databases import PostgresDatabase, run_sync
from tests.test_cli import tgo
from tgo.cli import app as cli_app
from tgo.config import get_settings
from tgo.migrate import alembic_config

OLD_HEADS = ("0002", "0005", "0006", "0007")


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))


def test_history_has_a_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"the migration history must be one line; heads: {sorted(heads)}"


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    db = PostgresDatabase()
    run_sync(db.create(migrate=False))
    try:
        yield db.url
    finally:
        run_sync(db.drop())


@pytest.fixture
def env(empty_db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(
        TGO_DATABASE_URL=empty_db_url,
        TGO_DATA_DIR=str(tmp_path / "data"),
        TGO_SECRET_KEY="s" * 40,
        TGO_LOG_LEVEL="WARNING",
    )
    return env


def _human(env: dict[str, str]) -> str:
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, ["migrate"], env=env, catch_exceptions=False)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_migrate_on_an_empty_database_lists_what_it_applied_and_then_says_up_to_date(
    env: dict[str, str],
) -> None:
    head = _script().get_current_head()
    every = {rev.revision for rev in _script().walk_revisions()}
    first = tgo(env, "migrate")
    applied = [r["revision"] for r in first["applied"]]
    assert sorted(applied) == sorted(every) and applied[0] == "0001" and applied[-1] == head
    assert all(r["description"] for r in first["applied"])
    assert first["revision"] == head
    second = tgo(env, "migrate")
    assert (second["applied"], second["revision"]) == ([], head)
    assert f"already up to date at {head}" in _human(env)


def test_migrate_from_the_four_old_heads_applies_only_the_merge(env: dict[str, str]) -> None:
    cfg = alembic_config(env["TGO_DATABASE_URL"])
    for old_head in OLD_HEADS:  # a database migrated before the merge revision existed
        command.upgrade(cfg, old_head)
    # Only the merge revision and what follows it: nothing the old heads already had is applied again.
    after_merge = [rev.revision for rev in _script().walk_revisions(base="0008", head="heads")]
    human = _human(env)
    assert f"Applied {len(after_merge)} revision(s)" in human and "0008" in human
    assert tgo(env, "migrate")["applied"] == []
