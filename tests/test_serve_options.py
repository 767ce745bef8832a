"""What `tgo serve` hands uvicorn: the child start-up timeout setting, our log format, and for several
children a fresh private PROMETHEUS_MULTIPROC_DIR (removed when the server stops). The processes themselves
are exercised in tests/e2e/test_operations.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from tgo.cli import app as cli_app
from tgo.config import get_settings
from tgo.metrics import MULTIPROC_ENV

Serve = Callable[..., dict[str, Any]]  # served(*cli_args, **env) -> uvicorn.run's keyword arguments


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Serve]:
    calls: list[dict[str, Any]] = []

    def fake_run(target: Any, **kwargs: Any) -> None:
        directory = os.environ.get(MULTIPROC_ENV)
        calls.append(
            kwargs | {"metrics_dir": directory, "dir_existed": bool(directory and Path(directory).is_dir())}
        )

    monkeypatch.setattr(uvicorn, "run", fake_run)
    saved = os.environ.pop(MULTIPROC_ENV, None)

    def serve(*args: str, **env: str) -> dict[str, Any]:
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                cli_app,
                ["serve", *args],
                env={"TGO_DATA_DIR": str(tmp_path), "TGO_SECRET_KEY": "s" * 32, **env},
                catch_exceptions=False,
            )
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.stderr
        return calls[-1]

    try:
        yield serve
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        if saved is not None:
            os.environ[MULTIPROC_ENV] = saved


def test_children_get_a_generous_start_timeout_and_a_setting_for_it(served: Serve) -> None:
    assert served("--workers", "2")["timeout_worker_healthcheck"] == 60  # uvicorn's own default is 5
    call = served("--workers", "2", TGO_SERVE_START_TIMEOUT_SECONDS="180")
    assert call["timeout_worker_healthcheck"] == 180


def test_several_children_share_a_fresh_metrics_dir_removed_at_exit(served: Serve) -> None:
    first = served("--workers", "2")
    second = served("--workers", "3")
    assert first["dir_existed"] and second["dir_existed"]
    assert first["metrics_dir"] != second["metrics_dir"]
    assert not Path(first["metrics_dir"]).exists() and not Path(second["metrics_dir"]).exists()
    assert served("--workers", "1")["metrics_dir"] is None  # one process: its own registry


def test_uvicorn_logs_through_our_formatter(served: Serve) -> None:
    config = served(TGO_LOG_JSON="true", TGO_LOG_LEVEL="INFO")["log_config"]
    assert config["formatters"]["tgo"]["()"] == "tgo.observability.stdlib_formatter"
    assert config["loggers"]["uvicorn.error"] == {"handlers": [], "level": "INFO", "propagate": True}
