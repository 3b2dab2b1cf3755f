"""Prometheus metrics at ``/metrics`` (docs/operations.md lists each one).

Two kinds, so that any number of API and worker processes give a true picture:

- **Per process** (this module's ``REGISTRY``): HTTP requests (count and latency by method,
  route template and status) and the jobs this process ran (when it runs the embedded worker).
  Each ``kvitt serve`` is one process, so each is its own scrape target; sum across targets.
- **From the database at scrape time** (``kvitt.metrics``, outside core because it reads the
  features' tables): jobs by kind and state, queue age, deliveries by channel and state, imports.
  Every process answers the same figures (take ``max`` across targets), and the workers need no
  endpoint of their own.

prometheus_client's multi-process mode (``PROMETHEUS_MULTIPROC_DIR``) is not used: Kvitt never
forks several servers into one process tree (run more ``kvitt serve`` processes instead).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "kvitt_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "kvitt_http_request_duration_seconds",
    "Time from the request's start to its last response byte, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
JOBS_RUN = Counter(
    "kvitt_jobs_run",
    "Jobs run by this process, by kind and outcome (done, failed, retry, dead).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "kvitt_job_duration_seconds",
    "Time one job (or one batch of jobs run together) took in this process, by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0),
    registry=REGISTRY,
)


def observe_jobs(kind: str, outcome: str, count: int, failed: int, seconds: float) -> None:
    """Count ``count`` jobs of ``kind`` that took ``seconds`` together, ``failed`` of them failed."""
    if count - failed > 0:
        JOBS_RUN.labels(kind, outcome).inc(count - failed)
    if failed > 0:
        JOBS_RUN.labels(kind, "failed").inc(failed)
    JOB_DURATION.labels(kind).observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (pure ASGI).

    Unmatched paths share one label (``<unmatched>``), so a scanner cannot grow the series.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from kvitt.core.logging import route_template

        status = 500
        started = time.perf_counter()

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            labels = (scope.get("method", ""), route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)


def exposition(*more: CollectorRegistry) -> tuple[bytes, str]:
    """The text Prometheus reads: this process's metrics, then those of ``more`` registries."""
    return b"".join(generate_latest(registry) for registry in (REGISTRY, *more)), CONTENT_TYPE_LATEST
