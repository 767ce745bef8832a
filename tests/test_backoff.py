"""One back-off rule (issue 14.5): ``kit.backoff.retry_delay`` is the only retry schedule, used by Connect
delivery, SMS delivery and webhook attempts with their own base and cap."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tgo.kit.backoff import retry_delay

ROOT = Path(__file__).resolve().parents[1] / "src" / "tgo"


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.5, 1.0),  # no attempt yet counts as the first
        (1, 0.5, 1.0),
        (2, 0.5, 2.0),
        (5, 0.5, 16.0),
        (9, 0.5, 256.0),
        (10, 0.5, 300.0),  # capped
        (10_000, 0.5, 300.0),  # no overflow
        (1, 0.0, 0.75),  # jitter: -25 %
        (10, 0.0, 225.0),
        (4, 0.25, 7.0),
    ],
)
def test_doubling_capped_with_proportional_jitter(attempt: int, rand: float, expected: float) -> None:
    assert retry_delay(attempt, base=1.0, cap=300.0, rand=lambda: rand) == pytest.approx(expected)


def test_the_jitter_stays_within_a_quarter() -> None:
    delays = [retry_delay(3, base=1.0, cap=300.0) for _ in range(2000)]
    assert min(delays) >= 3.0 and max(delays) < 5.0
    assert 3.7 < sum(delays) / len(delays) < 4.3  # the mean is the doubling schedule


def _defines_retry_delay(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "retry_delay"
        for node in ast.walk(tree)
    )


def test_every_retry_schedule_is_the_one_helper() -> None:
    defining = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if _defines_retry_delay(p))
    assert defining == ["kit/backoff.py"]
    users = sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if "from tgo.kit.backoff import retry_delay" in p.read_text(encoding="utf-8")
    )
    assert users == ["messages/batch_delivery.py", "sms/delivery.py", "webhooks/jobs.py"]
