"""The operator CLI: each command with --json prints exactly one JSON document; errors exit non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tgo.cli import app as cli_app
from tgo.config import get_settings


def tgo(env: dict[str, str], *args: str, ok: bool = True, subprocess_: bool = False) -> Any:
    """Run the CLI in process (fast) or as a real ``python -m tgo`` subprocess."""
    if subprocess_:
        proc = subprocess.run(
            [sys.executable, "-m", "tgo", *args, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    else:
        get_settings.cache_clear()
        result = CliRunner().invoke(cli_app, [*args, "--json"], env=env, catch_exceptions=False)
        get_settings.cache_clear()
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    if ok:
        assert code == 0, stderr
    else:
        assert code != 0
        assert stderr.strip(), "an error must say what went wrong"
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(
        TGO_DATABASE_URL=db_url,
        TGO_DATA_DIR=str(tmp_path / "data"),
        TGO_SECRET_KEY="s" * 40,
        TGO_LOG_LEVEL="WARNING",
    )
    return env


def test_cli_tenant_apikey_user_flow(cli_env: dict[str, str]) -> None:
    assert tgo(cli_env, "migrate")["status"] == "ok"
    t = tgo(cli_env, "tenant", "create", "initech", "--domain", "initech.localhost", "--name", "Initech")
    assert t["domain"] == "initech.localhost"
    tgo(cli_env, "tenant", "create", "initech", "--domain", "x.localhost", ok=False)
    k = tgo(cli_env, "apikey", "create", "--tenant", "initech", "--scopes", "messages.send,messages.read")
    assert k["key"].startswith("tgo_") and k["scopes"] == ["messages.read", "messages.send"]
    listed = tgo(cli_env, "apikey", "list", "--tenant", "initech")
    assert listed[0]["id"] == k["id"] and k["key"] not in json.dumps(listed)
    assert tgo(cli_env, "apikey", "revoke", str(k["id"]))["revoked_at"]
    err = tgo(cli_env, "apikey", "create", "--tenant", "nope", "--scopes", "*", ok=False)
    assert err["error"]["code"] == "not_found"
    u = tgo(
        cli_env,
        "user",
        "create",
        "--tenant",
        "initech",
        "--email",
        "a@initech.test",
        "--password",
        "longenough",
    )
    assert u["email"] == "a@initech.test"
    tgo(
        cli_env,
        "user",
        "create",
        "--tenant",
        "initech",
        "--email",
        "b@initech.test",
        "--password",
        "short",
        ok=False,
    )


def test_demo_is_idempotent(cli_env: dict[str, str]) -> None:
    tgo(cli_env, "migrate")
    first = tgo(cli_env, "demo", subprocess_=True)
    second = tgo(cli_env, "demo")
    assert first["tenant"]["domain"] == "demo.localhost"
    assert first["api_key"] == second["api_key"] and first["api_key"].startswith("tgo_")
    assert first["scopes"] == ["*"]
    assert first["dashboard"]["password"] == second["dashboard"]["password"]


def test_postgres_without_secret_fails_clearly(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "TGO_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"}
    env.pop("TGO_SECRET_KEY")
    err = tgo(env, "migrate", ok=False)
    assert "TGO_SECRET_KEY" in err["error"]["message"]


def test_demo_base_url_is_where_every_link_points(cli_env: dict[str, str]) -> None:
    tgo(cli_env, "migrate")
    d = tgo(cli_env, "demo", "--base-url", "http://127.0.0.1:9300/")
    assert d["dashboard"]["url"] == "http://127.0.0.1:9300/dashboard/login"
    assert d["api_docs"] == "http://127.0.0.1:9300/docs"
    links = [a["inbox_url"] for a in d["connect_accounts"]]
    assert len(links) == 3 and all(u.startswith("http://127.0.0.1:9300/connect/inbox/+") for u in links), (
        links
    )
    # Without --base-url the links keep their defaults.
    assert tgo(cli_env, "demo")["dashboard"]["url"] == "http://demo.localhost:8000/dashboard/login"


def test_inbox_links_of_a_remote_connect_network_point_at_it() -> None:
    from tgo.config import Settings
    from tgo.connect_network.mount import inbox_page_base

    remote = Settings(connect_url="http://connect.example:8100", business_url="http://biz.example")
    assert inbox_page_base(remote, "http://127.0.0.1:9300") == "http://connect.example:8100"
    local = Settings(business_url="http://biz.example")
    assert inbox_page_base(local, "http://127.0.0.1:9300") == "http://127.0.0.1:9300"
    assert inbox_page_base(local) == "http://biz.example"


def test_demo_with_connect_unreachable_fails_clearly(cli_env: dict[str, str]) -> None:
    tgo(cli_env, "migrate")
    err = tgo({**cli_env, "TGO_CONNECT_URL": "http://127.0.0.1:1"}, "demo", ok=False)
    assert err["error"]["code"] == "connect_unavailable" and "Connect" in err["error"]["message"]
