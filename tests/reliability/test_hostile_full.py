"""The long Schemathesis run: every operation, coverage + fuzzing + stateful phases, more examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.fuzz import run_schemathesis
from tests.reliability.report import record
from tgo.config import Settings


@pytest.mark.reliability
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_schemathesis_full(settings: Settings, tmp_path: Path) -> None:
    result = await run_schemathesis(
        settings, tmp_path, max_examples=50, phases="coverage,fuzzing,stateful", max_time=240, checks="all"
    )
    record("schemathesis", cases=result.cases, failures=result.failures, exit_code=result.returncode)
    assert result.cases > 0, result.output
    assert (result.returncode, result.failures) == (0, 0), result.output
