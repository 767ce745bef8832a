"""The benchmark's report helpers (pure functions; no benchmark is run here)."""

from __future__ import annotations

from bench.e2e import percentiles
from bench.report import ratios, table


def _http(rps: float, p99: float) -> dict[str, object]:
    return {
        "requests_per_s": rps,
        "p50_ms": p99 / 2,
        "p99_ms": p99,
        "p999_ms": p99 * 2,
        "non_2xx": 0,
        "socket_errors": 0,
        "percentiles_ms": {"50": p99 / 2, "99": p99},
    }


def test_ratio_keys_name_the_ceiling_and_jasmin() -> None:
    results = {
        "ceiling": _http(1000.0, 10.0),
        "send_postgres": _http(600.0, 40.0),
        "send_sqlite": _http(300.0, 80.0),
        "jasmin": _http(200.0, 100.0),
        "reads": {"100k": {"list_first_page": {"p99_ms": 10.0}}, "1m": {"list_first_page": {"p99_ms": 12.0}}},
    }
    r = ratios(results)
    assert r["send_vs_ceiling_ratio"] == 0.6
    assert r["send_vs_jasmin_ratio"] == 3.0
    assert r["send_vs_jasmin_p99_ratio"] == 0.4
    assert r["reads_list_first_page_p99_1m_vs_100k_ratio"] == 1.2
    results["ratios"] = r
    text = table(results)
    assert "send_vs_ceiling_ratio | 0.600 | >= 0.60" in text
    assert "| list_first_page | - | 10.0 | - | 12.0 |" in text


def test_missing_or_failed_parts_give_no_ratio() -> None:
    r = ratios({"ceiling": _http(1000.0, 10.0), "jasmin": {"error": "RuntimeError: no venv"}})
    assert r["send_vs_ceiling_ratio"] is None and r["send_vs_jasmin_ratio"] is None
    assert "failed: RuntimeError: no venv" in table({"jasmin": {"error": "RuntimeError: no venv"}})


def test_percentiles() -> None:
    assert percentiles([]) == {"p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    p = percentiles([float(i) for i in range(1, 1001)])
    assert (p["p50"], p["p99"], p["max"]) == (501.0, 991.0, 1000.0)
