"""Every Prometheus metric of the platform, and the scrape payload.

One process serves its own registry. ``tgo serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh
private directory before its children start (prometheus-client's multiprocess mode: each process writes its
values to files there), and any child answering a scrape reports the sum of all of them. Gauges say how
they combine across processes (``multiprocess_mode``). Everything here is a counter increment or a gauge
set on the hot paths: no scrape or send ever runs a database query for a metric."""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# HTTP (every process that serves HTTP: the API, the dashboard, `tgo connect serve`).
HTTP_REQUESTS = Counter("tgo_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "tgo_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Messages (counted after their transaction commits).
MESSAGES_ACCEPTED = Counter("tgo_messages_accepted_total", "Messages accepted (stored as queued)")
MESSAGES_SENT = Counter("tgo_messages_sent_total", "Messages handed to TGO Connect")
MESSAGES_DELIVERED = Counter("tgo_messages_delivered_total", "Messages Connect reported delivered")
MESSAGES_FAILED = Counter("tgo_messages_failed_total", "Messages failed, by failure_code", ["failure_code"])
DELIVERY_ATTEMPTS = Counter(
    "tgo_message_delivery_attempts_total",
    "Delivery jobs run, by outcome (sent, retry, failed, skipped: nothing to claim, error: raised)",
    ["outcome"],
)
ACCEPT_TO_DELIVERED = Histogram(
    "tgo_message_accept_to_delivered_seconds",
    "Time from a message's acceptance (queued_at) to its delivered receipt (delivered_at)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)

# Backlogs, measured by the sweepers (one aggregate query per pass, never per scrape or request): the
# newest measurement of a live process.
BACKLOG = Gauge(
    "tgo_backlog",
    "Rows waiting for delivery work (messages: queued; webhooks: pending deliveries)",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
BACKLOG_AGE = Gauge(
    "tgo_backlog_oldest_age_seconds",
    "Age of the oldest row waiting (0 when none)",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
SWEEPER_REPUBLISHED = Counter(
    "tgo_sweeper_republished_total", "Jobs re-published by a sweeper (messages, webhooks, sms)", ["queue"]
)

# Webhooks.
WEBHOOK_DELIVERIES = Counter(
    "tgo_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (succeeded, pending: will retry, failed)",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "tgo_webhook_delivery_duration_seconds",
    "Webhook POST latency (request sent to response read)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)

# SMS.
SMS_PARTS_SUBMITTED = Counter("tgo_sms_parts_submitted_total", "SMS parts the SMSC accepted")
SMS_RECEIPTS = Counter("tgo_sms_receipts_total", "SMS delivery receipts recorded, by state", ["state"])

# Database pool: connections checked out now (summed over the live processes).
DB_CONNECTIONS_IN_USE = Gauge(
    "tgo_db_connections_in_use",
    "Database connections checked out of the pool",
    ["database"],
    multiprocess_mode="livesum",
)


def observe_backlog(queue: str, waiting: int, oldest: datetime | None, at: datetime) -> None:
    BACKLOG.labels(queue).set(waiting)
    BACKLOG_AGE.labels(queue).set(max(0.0, (at - oldest).total_seconds()) if oldest is not None else 0.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry() -> CollectorRegistry:
    """What a scrape reports: this process's registry, or every process's values in multiprocess mode."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def payload() -> tuple[bytes, str]:
    """The scrape body and its Content-Type."""
    return generate_latest(scrape_registry()), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a stopped process's live gauges (its counters stay in the sum)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


SEND_BATCH_SIZE = Histogram(
    "tgo_send_batch_size",
    "Sends written per group commit (one multi-row INSERT and one commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
