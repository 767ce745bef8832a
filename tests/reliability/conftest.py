"""Print the reliability table and write bench/results/reliability-<UTC>.json after a `make reliability` run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.report import RESULTS, table, write_json

ROOT = Path(__file__).resolve().parents[2]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    markexpr = str(config.getoption("markexpr") or "")
    if not RESULTS or "reliability" not in markexpr or "not reliability" in markexpr:
        return
    terminalreporter.write_line(table())
    path = write_json(ROOT / "bench" / "results")
    terminalreporter.write_line(f"written: {path.relative_to(ROOT)}")
