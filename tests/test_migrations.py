"""The Alembic history is one line: one head, which `tgo migrate` upgrades to."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from tgo.migrate import alembic_config


def test_history_has_a_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the migration history must be one line; heads: {sorted(heads)}"
