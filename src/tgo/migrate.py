"""Run the Alembic history (one line, up to its head) against a database URL."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AppliedRevision:
    revision: str
    description: str


@dataclass
class UpgradeResult:
    """What an upgrade did: the revisions it applied, in order (none when already at the head)."""

    head: str
    applied: list[AppliedRevision] = field(default_factory=list)


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def _upgrade(database_url: str) -> UpgradeResult:
    cfg = alembic_config(database_url)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    result = UpgradeResult(head=str(head))

    def record(*, step: Any, **_: Any) -> None:
        if step.is_upgrade and not step.is_stamp:
            rev = step.up_revision
            result.applied.append(
                AppliedRevision(step.up_revision_id, (rev.doc or "").strip() if rev else "")
            )

    # migrations/env.py passes this to Alembic's on_version_apply: called once per revision it runs.
    cfg.attributes["on_version_apply"] = record
    command.upgrade(cfg, "head")
    return result


def upgrade(database_url: str) -> UpgradeResult:
    """Upgrade to the head; safe to call from inside a running event loop (runs in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _upgrade(database_url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_upgrade, database_url).result()
