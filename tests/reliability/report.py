"""Figures the reliability tests record; `make reliability` prints them as a table and writes them as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS: dict[str, Any] = {}
COUNT_KEYS = ("accepted", "delivered", "failed", "lost", "duplicated")


def record(section: str, **figures: Any) -> None:
    RESULTS.setdefault(section, {}).update(figures)


def table() -> str:
    lines = ["", "Reliability results", "=" * 60]
    for section, figures in RESULTS.items():
        lines.append(f"[{section}]")
        for key, value in figures.items():
            lines.append(f"  {key:<34} {value}")
    return "\n".join(lines)


def write_json(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    faults = RESULTS.get("faults", {})
    doc: dict[str, Any] = {key: faults.get(key) for key in COUNT_KEYS}
    doc["generated_at"] = stamp
    doc["sections"] = RESULTS
    path = out_dir / f"reliability-{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    return path
