"""Builds the ASGI app from the feature routers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from kvitt import __version__, admin, apidocs
from kvitt.autogiro.api import router as autogiro_router
from kvitt.automation.api import router as automation_router
from kvitt.billing.api import router as billing_router
from kvitt.billing_files.api import router as billing_files_router
from kvitt.billogram import errors as billogram_errors
from kvitt.billogram.api import PREFIX as BILLOGRAM_PREFIX
from kvitt.billogram.api import router as billogram_router
from kvitt.catalog.api import router as items_router
from kvitt.checkout.api import router as checkout_router
from kvitt.checkout.callbacks import callbacks as checkout_callbacks
from kvitt.core.api import error_response, provide_authenticator, validation_error
from kvitt.core.config import Settings, get_settings
from kvitt.core.db import Database
from kvitt.core.edge import install as install_edge
from kvitt.core.errors import InternalError, KvittError, NotFound
from kvitt.core.health import install as install_health
from kvitt.core.logging import configure_logging
from kvitt.core.metrics import exposition
from kvitt.customers.api import router as customers_router
from kvitt.customers.ledger_api import router as customer_ledger_router
from kvitt.delivery.api import callbacks as delivery_callbacks
from kvitt.delivery.api import router as delivery_router
from kvitt.documents.api import router as documents_router
from kvitt.dunning.api import router as dunning_router
from kvitt.engagement.api import router as engagement_router
from kvitt.invoices.api import router as invoices_router
from kvitt.ledger.api import router as ledger_router
from kvitt.metrics import database_registry
from kvitt.payments.api import router as payments_router
from kvitt.reports.api import router as reports_router
from kvitt.segments.api import router as segments_router
from kvitt.subscriptions.api import router as subscriptions_router
from kvitt.tenants.api import router as tenant_router
from kvitt.tenants.keys import AUTHENTICATOR as api_key_authenticator
from kvitt.web.api import router as web_api_router
from kvitt.web.autogiro import router as web_autogiro_router
from kvitt.web.inbox_api import router as messages_router
from kvitt.web.pay import router as web_pay_router
from kvitt.web.routes import not_found as web_not_found
from kvitt.web.routes import router as web_router
from kvitt.webhooks.api import router as webhooks_router
from kvitt.worker import Worker  # also provides the job runner the test clock's API uses

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request whose client went away before the answer

# The app serving the current request (KvittApp sets it): whose dependency_overrides apply.
_serving_app: ContextVar[FastAPI | None] = ContextVar("kvitt_serving_app", default=None)


class KvittApp(FastAPI):
    """FastAPI that notes itself as the app serving the request, for the shared routes'
    :class:`RequestAppOverrides`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _serving_app.set(self)
        try:
            await super().__call__(scope, receive, send)
        finally:
            _serving_app.reset(token)


class RequestAppOverrides:
    """The shared routes' ``dependency_overrides_provider``: the ``dependency_overrides`` of the
    app that serves the request, as FastAPI gives each route of an app's own (``app``)."""

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        app = _serving_app.get()
        return app.dependency_overrides if app is not None else {}


def include_routes(router: APIRouter | FastAPI) -> None:
    """Include every module-level router of Kvitt's into ``router``, in the order they match."""
    api = APIRouter(prefix=API_PREFIX)
    for feature in (
        tenant_router,
        customers_router,
        items_router,
        invoices_router,
        documents_router,
        payments_router,
        subscriptions_router,
        billing_router,
        billing_files_router,
        ledger_router,
        customer_ledger_router,
        reports_router,
        delivery_router,
        webhooks_router,
        automation_router,
        dunning_router,
        autogiro_router,
        web_api_router,
        messages_router,
        checkout_router,
        segments_router,
        engagement_router,
    ):
        api.include_router(feature)
    # The recipients' pages first: FastAPI tries the routes one by one, and the web invoice is
    # the most asked-for page; behind the ~150 API routes its matching was 14 % of its CPU.
    # Their paths (/i/, /e/, /m/, /brand/) share no prefix with the API's.
    router.include_router(web_router)
    router.include_router(web_autogiro_router)  # /i/{token}/autogiro: the mandate signed with BankID
    router.include_router(web_pay_router)  # /i/{token}/betala: Swish and card on the spot
    router.include_router(api)
    router.include_router(billogram_router)  # /api/billogram/v2: Billogram's v2 API over the same services
    router.include_router(delivery_callbacks)
    router.include_router(checkout_callbacks)
    router.include_router(apidocs.router(OPENAPI_URL))  # /api/docs, /api/redoc
    for back_office in admin.routers():  # /admin: the back office (kvitt.admin)
        router.include_router(back_office)


@functools.lru_cache(maxsize=1)
def shared_routes() -> APIRouter:
    """Kvitt's routes, built once per process and taken by every app made in it.

    FastAPI builds each included route's dependant and a pydantic TypeAdapter per parameter
    for the router that includes it (~150 routes, nearly all of ``create_app``'s time, once per
    test). The built routes hold nothing of an app's: the endpoints read the app's database and
    settings from ``request.app.state``, the per-app routes (``/metrics``, ``/livez``, ...) are
    the app's own, and ``dependency_overrides`` are looked up on the app serving the request
    (:class:`RequestAppOverrides`). docs/testing.md, "CI time, third pass".
    """
    routes = APIRouter(dependency_overrides_provider=RequestAppOverrides())
    include_routes(routes)
    # An app taking these routes does not merge their startup/shutdown handlers (Kvitt's
    # routers have none; the app's lifespan is create_app's): refuse rather than drop one.
    if routes.on_startup or routes.on_shutdown:
        raise RuntimeError("a router of Kvitt's has startup or shutdown handlers: include it in create_app")
    for _ in iter_route_contexts(routes.routes):  # build every route now, not at its first request
        pass
    return routes


def take_shared_routes(app: FastAPI) -> None:
    """Give ``app`` the routes of :func:`shared_routes`, as ``app.include_router`` would place
    them, without building them again."""
    app.router.routes.extend(shared_routes().routes)
    app.router._mark_routes_changed()  # FastAPI's own step after adding routes


def create_app(
    settings: Settings | None = None, db: Database | None = None, *, embedded_worker: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    provide_authenticator(api_key_authenticator)
    database = db or Database(settings.database_url)
    run_worker = settings.embedded_worker if embedded_worker is None else embedded_worker

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if run_worker:
            task = asyncio.create_task(Worker(database, settings).run_forever_async())
        yield
        # The BankID client (web.autogiro.bankid_client, made at first use) holds a TLS
        # connection pool: closed with the app, so the provider sees no half-open connections.
        bankid = getattr(app.state, "bankid_client", None)
        if bankid is not None:
            bankid.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if db is None:
            database.dispose()

    app = KvittApp(
        title="Kvitt API",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # /api/docs and /api/redoc: kvitt.apidocs (vendored assets, no CDN)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    # Request ids, metrics, body limit, rate limit, security headers (docs/operations.md), in one
    # pass (core/edge.py); its 413 and 429 answers are counted and labelled too.
    install_edge(app, settings)

    take_shared_routes(app)  # /api/v1, Billogram's API, the web pages, the docs, /admin
    app.openapi = lambda: apidocs.describe(app)  # type: ignore[method-assign]
    admin.install_errors(app)

    @app.exception_handler(KvittError)
    async def kvitt_error(_: Request, exc: KvittError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(ClientDisconnect)
    async def client_gone(_: Request, __: ClientDisconnect) -> Response:
        # The client closed the connection while still sending its body (a phone that lost its
        # network in the middle of a form): nobody is left to answer and nothing went wrong here,
        # so no 500 and no traceback. Logged and counted as 499, as nginx names it.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse | HTMLResponse:
        # ServerErrorMiddleware sends this response, then re-raises so that the server logs the
        # traceback; the client gets the API's error shape and nothing of the internals.
        if not request.url.path.startswith("/api/"):
            return HTMLResponse("<!doctype html><title>Error</title><h1>Something went wrong</h1>", status_code=500)
        if request.url.path.startswith(BILLOGRAM_PREFIX):
            return billogram_errors.response(billogram_errors.INTERNAL_ERROR, "something went wrong on our side", 500)
        return error_response(InternalError("something went wrong on our side; it has been logged"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse | HTMLResponse:
        if request.url.path.startswith("/i/") and exc.status_code == 404:
            return web_not_found()
        if not request.url.path.startswith("/api/"):
            phrase = HTTPStatus(exc.status_code).phrase
            return HTMLResponse(f"<!doctype html><title>{phrase}</title><h1>{phrase}</h1>", status_code=exc.status_code)
        if request.url.path.startswith(BILLOGRAM_PREFIX):
            status = billogram_errors.NOT_FOUND if exc.status_code == 404 else "HTTP_ERROR"
            return billogram_errors.response(status, str(exc.detail), exc.status_code)
        if exc.status_code == 404:
            return error_response(NotFound(f"no such endpoint: {request.method} {request.url.path}"))
        error = KvittError(str(exc.detail))
        error.status_code = exc.status_code
        return error_response(error)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/api/docs")

    metrics_registry = database_registry(database)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition(metrics_registry)
        return Response(body, media_type=content_type)

    # /livez, /readyz, and 503 with the reason while the database is down or not migrated.
    install_health(app, database)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
