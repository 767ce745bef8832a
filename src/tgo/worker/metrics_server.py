"""`tgo worker`'s /metrics: prometheus-client's own HTTP server, on a thread of the worker process."""

from __future__ import annotations

import structlog
from prometheus_client import start_http_server

from tgo.metrics import scrape_registry

log = structlog.get_logger("tgo.worker")


def serve_metrics(host: str, port: int) -> bool:
    """Serve /metrics on ``host:port``; False (and a warning) if the port cannot be bound. The worker runs
    on without it: a port already taken (a second worker on the host) must not stop deliveries."""
    try:
        start_http_server(port, addr=host, registry=scrape_registry())
    except OSError as exc:
        log.warning("metrics_not_served", host=host, port=port, error=str(exc))
        return False
    log.info("metrics_served", url=f"http://{host}:{port}/metrics")
    return True
