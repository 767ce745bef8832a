"""Reads at scale: a tenant with 100k, then 1M bulk-loaded messages (server-side INSERT … SELECT, not the
API) and usage_counters rebuilt from them; then the list endpoint (first page, deep cursor page, filters) and
the usage endpoint for a month, p50/p99 at each size."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bench.db import PgDirect
from bench.load import Load, measure
from bench.stack import Stack, cli

DAYS = 90
RECIPIENTS = 1000


class BulkTenant:
    def __init__(self, stack: Stack, pg: PgDirect) -> None:
        self.stack, self.pg = stack, pg
        cli(stack.env, "tenant", "create", "bulk", "--domain", "bulk.localhost")
        self.key = cli(stack.env, "apikey", "create", "--tenant", "bulk", "--scopes", "*")["key"]
        self.tenant_id = int(pg.val("SELECT id FROM tenants WHERE slug = 'bulk'"))
        self.sender_id = int(
            pg.val(
                "INSERT INTO sender_numbers (tenant_id, phone, display_name, status, verification_status, "
                "status_changed_at, created_at, updated_at, activated_at) "
                "VALUES ($1, '+201001187177', 'Bulk', 'active', 'verified', now(), now(), now(), now()) "
                "RETURNING id",
                self.tenant_id,
            )
        )
        self.end = datetime.now(UTC).replace(microsecond=0)
        self.count = 0

    def grow_to(self, total: int) -> float:
        """Add messages until the tenant has ``total``; newest ids get the newest times. Returns seconds."""
        t0 = time.monotonic()
        # Rows are spread over DAYS days ending now; row k of `total` sits at a fixed point in that window.
        self.pg.execute(
            """
            INSERT INTO messages (tenant_id, sender_number_id, sender_phone, to_phone, message_type, content,
                status, attempts, next_attempt_at, queued_at, sent_at, delivered_at, read_at, failed_at,
                failure_code, updated_at)
            SELECT $1, $2, '+201001187177', '+2010' || lpad((g % $5)::text, 8, '0'), 'text',
                'Bulk message ' || g,
                s.status, 1, q, q, q + interval '1 second',
                CASE WHEN s.status IN ('delivered', 'read') THEN q + interval '2 seconds' END,
                CASE WHEN s.status = 'read' THEN q + interval '60 seconds' END,
                CASE WHEN s.status = 'failed' THEN q + interval '2 seconds' END,
                CASE WHEN s.status = 'failed' THEN 'account_disabled' END,
                q
            FROM generate_series($3::bigint, $4::bigint) AS g
            CROSS JOIN LATERAL (SELECT $6::timestamptz - ($7::bigint - g) * ($8::double precision / $7::bigint)
                                       * interval '1 second' AS q) t
            CROSS JOIN LATERAL (SELECT CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 10 = 1 THEN 'read'
                                       ELSE 'delivered' END AS status) s
            ORDER BY g
            """,
            self.tenant_id,
            self.sender_id,
            self.count + 1,
            total,
            RECIPIENTS,
            self.end,
            total,
            float(DAYS * 86400),
            timeout=900,
        )
        # Usage counters consistent with the table (same keys as tgo.usage.counters: day, shard = id % 8).
        self.pg.execute("DELETE FROM usage_counters WHERE tenant_id = $1", self.tenant_id)
        self.pg.execute(
            """
            INSERT INTO usage_counters (tenant_id, sender_number_id, day, message_type, status, shard, count)
            SELECT tenant_id, sender_number_id, (queued_at AT TIME ZONE 'UTC')::date, message_type, status,
                   id % 8, count(*)
            FROM messages WHERE tenant_id = $1
            GROUP BY 1, 2, 3, 4, 5, 6
            """,
            self.tenant_id,
            timeout=900,
        )
        self.pg.execute("ANALYZE messages")
        self.pg.execute("ANALYZE usage_counters")
        self.count = total
        return round(time.monotonic() - t0, 1)

    def queries(self) -> dict[str, str]:
        from tgo.kit.pagination import encode_cursor

        ids = self.pg.fetch(
            "SELECT min(id) AS lo, max(id) AS hi FROM messages WHERE tenant_id = $1", self.tenant_id
        )[0]
        deep_id = int(ids["lo"]) + (int(ids["hi"]) - int(ids["lo"])) // 10  # 90 % of the log is newer
        month_end = (self.end - timedelta(days=15)).date()
        month_start = month_end - timedelta(days=29)
        week_until = self.end - timedelta(days=30)
        week_since = week_until - timedelta(days=7)
        return {
            "list_first_page": "/api/v1/messages?limit=50",
            "list_deep_cursor": "/api/v1/messages?"
            + urlencode({"limit": 50, "cursor": encode_cursor(id=deep_id)}),
            "list_status_failed": "/api/v1/messages?" + urlencode({"limit": 50, "status": "failed"}),
            "list_to_phone": "/api/v1/messages?" + urlencode({"limit": 50, "to_phone": "+201000000777"}),
            "list_time_range": "/api/v1/messages?"
            + urlencode({"limit": 50, "since": week_since.isoformat(), "until": week_until.isoformat()}),
            "usage_month": "/api/v1/usage?"
            + urlencode({"since": month_start.isoformat(), "until": month_end.isoformat()}),
            "usage_month_per_day": "/api/v1/usage?"
            + urlencode(
                {"since": month_start.isoformat(), "until": month_end.isoformat(), "granularity": "day"}
            ),
        }

    def measure_reads(self, warmup_s: float, duration_s: float, connections: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in self.queries().items():
            load = Load(
                self.stack.api_url, path, "GET", None, {"X-Api-Key": self.key}, connections=connections
            )
            r = measure(load, warmup_s, duration_s)
            out[name] = {
                k: r[k] for k in ("requests_per_s", "p50_ms", "p99_ms", "p999_ms", "non_2xx", "requests")
            }
        return out
