"""Structured logs (structlog): key=value on a terminal, JSON lines in production.

Every line carries what is bound in the current context (structlog's contextvars): a request's
``request_id`` (bound by :class:`RequestIdMiddleware`, taken from an incoming ``X-Request-Id``
or made up) and a job's ``job_id`` and ``job_kind`` (bound by :func:`bound_job` around one job).
Records of the standard library's loggers (uvicorn, SQLAlchemy, Alembic) go through the same
processors and renderer, so ``KVITT_LOG_JSON=true`` gives one JSON object per line throughout.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from structlog.types import Processor

from kvitt.core.config import Settings
from kvitt.core.log_quiet import Repeats, RepeatsFilter, mute_chatty_libraries

REQUEST_ID_HEADER = "x-request-id"
# What an incoming X-Request-Id may be to be kept: short, printable, no spaces (so that a
# client cannot write lines or fields of its own into the log). Anything else is replaced.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

log = structlog.get_logger("kvitt.request")


def _level(settings: Settings) -> int:
    level = logging.getLevelName(settings.log_level.upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(settings: Settings) -> None:
    level = _level(settings)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if settings.log_json:
        # Tracebacks as one string field: a JSON line stays one line.
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: rich's (the default when rich is installed) renders every frame's
        # locals, which took 28-60 s on the event loop for one failed request under load.
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)

    # The standard library's records (uvicorn, SQLAlchemy, Alembic) in the same shape.
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler._kvitt = True  # type: ignore[attr-defined]  # ours: replaced when configured again
    # Repeated identical warnings collapsed, libraries' per-request chatter muted (core/log_quiet).
    repeats = Repeats()
    handler.addFilter(RepeatsFilter(repeats))
    mute_chatty_libraries()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_kvitt", False)]:
        root.removeHandler(old)
    if not root.handlers:  # leave a handler someone else installed (pytest's capture) alone
        root.addHandler(handler)
        root.setLevel(level)

    structlog.configure(
        processors=[*shared, repeats, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Not cached: a logger follows the configuration in force (structlog.testing.capture_logs
        # in tests, a second configure_logging), whatever ran first; a few µs per line.
        cache_logger_on_first_use=False,
    )


def request_id_from(value: str | None) -> str:
    """The incoming ``X-Request-Id`` when it is a sane token, else a new random id."""
    if value and _REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Binds ``request_id`` for the request's logs and answers it in ``X-Request-Id``.

    A pure ASGI middleware (no ``BaseHTTPMiddleware``: no extra task, streaming untouched).
    It also writes one ``request`` log line per request (method, route, status, duration),
    which takes the place of uvicorn's access log.
    """

    QUIET_PATHS = frozenset({"/metrics", "/healthz", "/livez", "/readyz"})

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # One line with the request's id; the server logs the traceback itself.
                log.error("request failed", method=scope.get("method"), path=scope.get("path", ""), error=repr(exc))
                raise
            finally:
                path = scope.get("path", "")
                fields = {
                    "method": scope.get("method"),
                    "path": path,
                    "route": route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
                log.log(request_log_level(path, status), "request", **fields)


QUIET_PREFIXES_WHEN_OK = ("/callbacks/",)


def request_log_level(path: str, status: int) -> int:
    """DEBUG for what would flood the log without telling anyone anything: probes and metrics
    scrapes, and providers' callbacks that went well (an SMS provider reports every message's
    delivery; the demo's simulators alone wrote hundreds of lines a minute). Everything else,
    and every failed callback, is INFO."""
    if path in RequestIdMiddleware.QUIET_PATHS or (status < 400 and path.startswith(QUIET_PREFIXES_WHEN_OK)):
        return logging.DEBUG
    return logging.INFO


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's path template (``/api/v1/invoices/{invoice_id}``), never the raw path."""
    route = scope.get("route")
    if route is None:
        return "<unmatched>"
    # FastAPI keeps an included router's own routes (``/customers/{customer_id}``) and puts the
    # route with the router's prefix in its scope entry; tests/core/test_observability.py
    # notices if that moves.
    fastapi_scope = scope.get("fastapi")
    effective = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    template = getattr(effective, "path_format", None) or getattr(route, "path_format", None)
    return str(template) if template else "<unmatched>"


@dataclass
class JobScope:
    """What :func:`bound_job` and :func:`bound_jobs` yield.

    ``outcome`` is what the jobs came to (``done`` unless set: ``retry``, ``dead``), ``failed``
    how many of a batch failed on their own (counted as ``failed``, the rest as ``outcome``).
    """

    kind: str
    count: int = 1
    outcome: str = "done"
    failed: int = 0


@contextmanager
def bound_job(job_id: int, kind: str, tenant_id: int | None = None) -> Iterator[JobScope]:
    """Bind ``job_id`` and ``job_kind`` (and ``tenant_id``) to every log line inside, and count the job.

    The worker wraps the running of one job in it::

        with bound_job(job.id, job.kind, job.tenant_id) as scope:
            ...                        # run the handler
            scope.outcome = "retry"    # or "dead", when a failure was caught inside

    An exception leaving the block counts as ``failed`` (and goes on). The job's duration and
    outcome go to ``kvitt_jobs_run_total`` and ``kvitt_job_duration_seconds`` of the process.
    """
    with _bound(kind, 1, tenant_id, job_id=job_id) as scope:
        yield scope


@contextmanager
def bound_jobs(job_ids: list[int], kind: str, tenant_id: int | None = None) -> Iterator[JobScope]:
    """:func:`bound_job` for a batch of jobs of one kind: binds ``job_ids``; set ``scope.failed``."""
    with _bound(kind, len(job_ids), tenant_id, job_ids=job_ids) as scope:
        yield scope


@contextmanager
def _bound(kind: str, count: int, tenant_id: int | None, **ids: Any) -> Iterator[JobScope]:
    from kvitt.core.metrics import observe_jobs

    scope = JobScope(kind, count)
    context = {**ids, "job_kind": kind} | ({"tenant_id": tenant_id} if tenant_id is not None else {})
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(**context):
        try:
            yield scope
        except BaseException:
            scope.failed = scope.count
            raise
        finally:
            observe_jobs(kind, scope.outcome, scope.count, scope.failed, time.perf_counter() - started)
