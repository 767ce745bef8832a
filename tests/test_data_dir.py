"""TGO_DATA_DIR is the operator's alone: the databases (Connect's holds inbox texts, i.e. OTPs), their WAL
and shared-memory files, media, the secret key and the demo credentials are created 0600 in 0700
directories — under the usual umask 022, which made them 0644 before."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.fixtures import media
from tests.fixtures.connect import ConnectHelper
from tgo.config import Settings
from tgo.demo import ensure_demo
from tgo.migrate import upgrade
from tgo.runtime import Runtime

OWNER = "+201001187177"
RECIPIENT = "+201010000077"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path, usual_umask: None) -> Settings:
    common: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "broker_url": "memory://",
        "log_json": True,
    }
    if backend == "sqlite":
        # The embedded default: tgo.db, tgo-connect.db and a generated secret key, all in the data dir.
        s = Settings(**common)
        upgrade(s.resolved_database_url)
        return s
    return Settings(
        **common,
        database_url=request.getfixturevalue("db_url"),
        secret_key="test-secret-key-not-for-production",
    )


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


async def test_data_dir_is_created_0700_and_its_files_0600(
    backend: str,
    settings: Settings,
    runtime: Runtime,
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    connect = ConnectHelper(runtime)
    headers = {"X-Api-Key": await make_key(await make_tenant("acme"))}
    await connect.account(OWNER, verified=True)
    await connect.account(RECIPIENT, verified=True)
    number = (await client.post("/api/v1/sender-numbers", json={"phone": OWNER}, headers=headers)).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{number['id']}/verify",
        json={"otp": await connect.otp(OWNER)},
        headers=headers,
    )
    assert r.json()["can_send"] is True, r.text
    r = await client.post(
        "/api/v1/messages",
        headers=headers,
        data={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "image"},
        files={"media": ("a.png", media.png(), "image/png")},
    )
    assert r.status_code == 201, r.text
    await ensure_demo(runtime)

    found = modes(settings.data_dir)
    files = {name for name in found if (settings.data_dir / name).is_file()}
    expected = {"demo-credentials.json"}
    if backend == "sqlite":
        expected |= {"secret_key", "tgo.db", "tgo.db-wal", "tgo.db-shm"}
        expected |= {"tgo-connect.db", "tgo-connect.db-wal", "tgo-connect.db-shm"}
    assert expected <= files, sorted(files)
    assert any(name.startswith("media/") for name in files), sorted(files)
    wrong = {name: oct(mode) for name, mode in found.items() if mode != (0o600 if name in files else 0o700)}
    assert wrong == {}, wrong


def test_an_existing_data_dir_open_to_others_is_reported_not_changed(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    from tgo.kit.private_files import warn_if_shared

    shared = tmp_path / "old-var"
    shared.mkdir(mode=0o755)
    with capture_logs() as logs:
        warn_if_shared(shared)
    assert [e["event"] for e in logs] == ["data_dir_readable_by_others"] and logs[0]["mode"] == "0o755"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # the operator's directory: reported, not changed
    shared.chmod(0o700)
    with capture_logs() as logs:
        warn_if_shared(shared)
    assert logs == []
