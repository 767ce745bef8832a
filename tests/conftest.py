"""Shared fixtures. Every test that uses ``db_url`` (directly or through ``app``/``client``) runs on
SQLite and on PostgreSQL; with CI=true an unreachable PostgreSQL fails the run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from tests.fixtures.databases import PostgresDatabase, SqliteTemplate, run_sync
from tgo.apikeys.service import create_api_key
from tgo.app import create_app
from tgo.config import Settings
from tgo.kit import clock
from tgo.kit.heap import freeze_startup_heap
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytest_plugins = ["tests.fixtures.stuck_tasks"]

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[PostgresDatabase]:
    db = PostgresDatabase()
    try:
        run_sync(db.create())
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required for the test suite and is unreachable: {exc!r}")
    try:
        yield db
    finally:
        run_sync(db.drop())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        return template.fresh(tmp_path)
    pg: PostgresDatabase = request.getfixturevalue("postgres_db")
    run_sync(pg.truncate())
    return pg.url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        secret_key="test-secret-key-not-for-production",
        broker_url="memory://",
        log_json=True,
        sms_verification_delay_seconds=0.2,
        webhook_allow_private_networks=True,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    return create_app(settings, runtime)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in the test's own event loop (so pooled connections stay valid)."""
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


MakeTenant = Callable[..., Awaitable[Tenant]]
MakeKey = Callable[..., Awaitable[str]]


@pytest.fixture
def make_tenant(runtime: Runtime) -> MakeTenant:
    async def make(slug: str = "acme", domain: str | None = None, name: str | None = None) -> Tenant:
        async with runtime.db.session_scope() as session:
            return await create_tenant(session, slug=slug, domain=domain or f"{slug}.localhost", name=name)

    return make


@pytest.fixture
def make_key(runtime: Runtime) -> MakeKey:
    async def make(tenant: Tenant, scopes: str = "*", **kw: Any) -> str:
        async with runtime.db.session_scope() as session:
            _, plain = await create_api_key(
                session, tenant.id, name=kw.pop("name", "test"), scopes=scopes, **kw
            )
        return plain

    return make


@pytest.fixture
async def tenant(make_tenant: MakeTenant) -> Tenant:
    return await make_tenant("acme")


@pytest.fixture
async def api_key(make_key: MakeKey, tenant: Tenant) -> str:
    return await make_key(tenant, "*")


@pytest.fixture
def headers(api_key: str) -> dict[str, str]:
    return {"X-Api-Key": api_key}


class Clock:
    """A controllable clock: ``advance(seconds=...)``."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kw: float) -> None:
        self.current += timedelta(**kw)


@pytest.fixture
def frozen_clock() -> Iterator[Clock]:
    c = Clock()
    c.current = datetime.now(UTC)
    clock.set_clock(c)
    try:
        yield c
    finally:
        clock.set_clock(None)


def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection imported and built (the modules, the app's and SQLAlchemy's metadata, the test items)
    # lives until the run ends: left out of every full collection, as a started `tgo serve` does (tgo.kit.heap).
    freeze_startup_heap()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked postgres_only keep only their PostgreSQL parametrisation.
    kept = []
    deselected = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            item.get_closest_marker("postgres_only")
            and callspec is not None
            and callspec.params.get("backend") == "sqlite"
        ):
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


os.environ.setdefault("TGO_LOG_LEVEL", "WARNING")
