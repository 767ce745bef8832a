"""Schemathesis against the app's own OpenAPI document (short run; `make reliability` runs more examples and
the coverage phase): no server errors, no responses outside their documented schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.fuzz import run_schemathesis
from tgo.config import Settings


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_schemathesis_short(settings: Settings, tmp_path: Path) -> None:
    result = await run_schemathesis(
        settings, tmp_path, max_examples=3, phases="fuzzing,stateful", max_time=15
    )
    assert result.cases > 0, result.output
    assert (result.returncode, result.failures) == (0, 0), result.output
