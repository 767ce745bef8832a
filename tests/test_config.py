from __future__ import annotations

from pathlib import Path

import pytest

from tgo.config import ConfigError, Settings


def test_embedded_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    first = s.secret()
    assert len(first) > 40
    assert Settings(data_dir=tmp_path).secret() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_requires_secret_key(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, database_url="postgresql+asyncpg://x@127.0.0.1/db")
    with pytest.raises(ConfigError, match="TGO_SECRET_KEY"):
        s.secret()


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TGO_DATABASE_URL", raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert s.broker_url == "memory://" and s.workers_in_process
