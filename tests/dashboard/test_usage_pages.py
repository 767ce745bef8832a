"""Usage page and CSV export (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx

from tests.dashboard.conftest import RECIPIENT, SENDER, assert_beside, wait_status


async def test_usage_chart_table_and_csv(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    ids = []
    for i in range(3):
        sent = await signed_in.post(
            "/api/v1/messages",
            json={"sender_phone": SENDER, "to_phone": RECIPIENT, "type": "text", "content": f"hi {i}"},
            headers=headers,
        )
        assert sent.status_code == 201
        ids.append(sent.json()["id"])
    for message_id in ids:
        await wait_status(signed_in, headers, message_id, "delivered")

    page = await signed_in.get("/dashboard/usage")
    assert page.status_code == 200
    chart = re.search(
        r'<script type="application/json" id="usage-chart-data">(.*?)</script>', page.text, re.S
    )
    assert chart
    config = json.loads(chart.group(1))
    assert config["type"] == "bar"
    assert len(config["data"]["labels"]) == 30
    assert config["data"]["datasets"][0]["label"] == SENDER
    assert sum(config["data"]["datasets"][0]["data"]) == 3
    row = re.search(rf'<tr data-sender-id="{active_sender}">(.*?)</tr>', page.text, re.S)
    assert row and '<bdi dir="ltr">3</bdi>' in row.group(1)

    exported = await signed_in.get("/dashboard/usage.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith('attachment; filename="usage-')
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    assert rows[0]["sender_phone"] == SENDER
    assert (rows[0]["total"], rows[0]["text"], rows[0]["delivered"]) == ("3", "3", "3")


async def test_bad_range_falls_back_and_says_so(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/usage", params={"since": "2026-05-01", "until": "2026-04-01"})
    assert page.status_code == 422
    assert "showing the last 30 days" in page.text
    assert_beside(page.text, "u-since", "since-error", "showing the last 30 days")
    empty = await signed_in.get("/dashboard/usage")
    assert "No messages in this period." in empty.text
