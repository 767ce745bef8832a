"""`tgo reachability sync`: the operator's resync of the reachability directory from Connect (issue 15)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.test_cli import cli_env, tgo
from tgo.cli import app as cli_app
from tgo.config import get_settings
from tgo.db import Database
from tgo.models import RecipientReachability as R

__all__ = ["cli_env"]  # the fixture, shared with tests/test_cli.py

A, B = "+201000000011", "+201000000012"


def _directory(db_url: str, *, catch_up: str | None = None) -> dict[str, Any]:
    """The directory's rows by phone (first marking ``catch_up`` as catching up, as after a missed event)."""

    async def read() -> dict[str, Any]:
        db = Database(db_url)
        try:
            async with db.session_scope() as s:
                if catch_up is not None:
                    await s.execute(update(R).where(R.phone == catch_up).values(in_sequence=False))
                rows = (await s.execute(select(R.phone, R.disabled, R.in_sequence, R.version))).all()
                return {r.phone: r for r in rows}
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_reachability_sync_fills_the_directory_and_brings_catching_up_phones_back(
    cli_env: dict[str, str],
) -> None:
    tgo(cli_env, "migrate")
    tgo(cli_env, "connect", "account", "create", A, "--verified")
    tgo(cli_env, "connect", "account", "create", B)
    tgo(cli_env, "connect", "account", "disable", B)
    db_url = cli_env["TGO_DATABASE_URL"]
    assert _directory(db_url) == {}  # no runtime started: nothing pushed the accounts yet

    first = tgo(cli_env, "reachability", "sync", "--page-size", "1")
    assert first == {"read": 2, "stored": 2, "entries": 2, "catching_up": 0}
    rows = _directory(db_url)
    assert set(rows) == {A, B} and rows[B].disabled and not rows[A].disabled

    # Nothing newer: nothing stored. A phone catching up at the version Connect has is put back in sequence.
    assert tgo(cli_env, "reachability", "sync")["stored"] == 0
    assert not _directory(db_url, catch_up=A)[A].in_sequence
    again = tgo(cli_env, "reachability", "sync")
    assert again == {"read": 2, "stored": 1, "entries": 2, "catching_up": 0}
    assert _directory(db_url)[A].in_sequence

    # Without --json: one summary line.
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, ["reachability", "sync"], env=cli_env, catch_exceptions=False)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    assert "2 accounts read from Connect, 0 newer stored" in result.stdout


def test_reachability_sync_with_connect_unreachable_fails_clearly(cli_env: dict[str, str]) -> None:
    tgo(cli_env, "migrate")
    err = tgo({**cli_env, "TGO_CONNECT_URL": "http://127.0.0.1:1"}, "reachability", "sync", ok=False)
    assert err["error"]["code"] == "connect_unavailable" and "Connect" in err["error"]["message"]
    bad = CliRunner().invoke(cli_app, ["reachability", "sync", "--page-size", "0"], env=cli_env)
    assert bad.exit_code == 2  # typer's usage error: 1 to 200
