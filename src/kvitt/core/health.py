"""Liveness, readiness, and what the API answers while the database cannot serve it.

- ``/livez``: the process is up and answers (no database involved): restart it if this fails.
- ``/readyz``: the database is reachable and its schema is at this Kvitt's head; otherwise 503
  with a JSON reason that names the fix (``kvitt migrate``): send it no traffic until then.
- ``/healthz`` (kept as it was, app.py): a trivial answer, the benchmarks' baseline route.
- A request that fails on the database: if the database is down, missing or not migrated, 503
  with that reason (and ``Retry-After``) instead of a 500 and a traceback on every call; the log
  gets one line when the state changes (and once a minute while it lasts). On a database that is
  ready, the error is a bug: it goes on to the 500 handler with its traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import DBAPIError

from kvitt import __version__
from kvitt.core.db import Database
from kvitt.core.readiness import Watch

RETRY_AFTER_SECONDS = 5
STATUS_CACHE_SECONDS = 2.0  # a burst of failing requests probes the database once
LOG_EVERY_SECONDS = 60.0


def install(app: FastAPI, database: Database) -> None:
    probe = Watch(database.engine.url.render_as_string(hide_password=False), STATUS_CACHE_SECONDS, LOG_EVERY_SECONDS)
    app.state.database_probe = probe

    @app.get("/livez", include_in_schema=False)
    def livez() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        status = await run_in_threadpool(probe.get, True)
        body: dict[str, Any] = {**status.to_dict(), "version": __version__}
        return JSONResponse(body, status_code=200 if status.ready else 503)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse | HTMLResponse:
        status = await run_in_threadpool(probe.get, False)
        if status.ready:
            raise exc  # the database is fine: a bug, for the 500 handler and the log's traceback
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if not request.url.path.startswith("/api/"):
            page = "<!doctype html><title>Unavailable</title><h1>Unavailable</h1><p>Please try again in a while.</p>"
            return HTMLResponse(page, status_code=503, headers=headers)
        error = {"type": "api_error", "code": status.code, "message": status.message, "param": None}
        return JSONResponse({"error": error}, status_code=503, headers=headers)
