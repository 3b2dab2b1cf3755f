"""HTTP policies every response passes through: body size limit, per-key rate limit, security headers.

One pure ASGI middleware (no ``BaseHTTPMiddleware``: no extra task per request, streaming
untouched), installed by :func:`install` in ``create_app``:

- **Body limit** (``KVITT_MAX_BODY_BYTES``, default 1 MiB): a request whose ``Content-Length``
  is above it is answered ``413`` before anything is read or authenticated; a body without a
  length (chunked) is counted as it streams and refused with ``413`` as soon as it passes the
  limit, so a 10 MB body is never read whole. File uploads (``POST /api/v1/payment-files``,
  ``POST /api/v1/billing-files``) have their own, larger limits and stream to their handlers.
- **Rate limit** (``KVITT_RATE_LIMIT_PER_SECOND`` sustained, ``KVITT_RATE_LIMIT_BURST`` at
  once; ``0`` turns it off): a token bucket per API key (the ``Authorization`` header, hashed)
  in this process. Above it: ``429`` with ``Retry-After`` (whole seconds). Several API processes
  each keep their own buckets, so the limit a client sees is per process.
- **Security headers** on every response that has not set its own: ``X-Content-Type-Options:
  nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, a
  ``Content-Security-Policy`` that allows nothing for JSON and plain HTML answers (the web
  invoice and the API docs set their own, without inline scripts), and
  ``Strict-Transport-Security`` when the request came over HTTPS (behind a proxy: run uvicorn
  with ``--proxy-headers`` so that ``X-Forwarded-Proto`` sets the scheme).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kvitt.core.config import Settings
from kvitt.core.errors import KvittError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/"
# Routes that take a file as the body, each with its own (larger) limit, enforced by its handler.
UPLOADS = frozenset({("POST", "/api/v1/payment-files"), ("POST", "/api/v1/billing-files")})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BUCKETS = 10_000  # keys remembered; the least recently used full bucket is forgotten first
HSTS = b"max-age=63072000"
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (an HTTPException, so that
    FastAPI's body parsing lets it through instead of turning it into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=body_too_large_message(limit))
        self.limit = limit


def body_too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than {limit} bytes, this API's limit (KVITT_MAX_BODY_BYTES); "
        "send files to POST /payment-files or /billing-files"
    )


def body_too_large_error(limit: int) -> KvittError:
    error = KvittError(body_too_large_message(limit), param="body", code="body_too_large")
    error.status_code = 413
    return error


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self.clock = clock
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def take(self, key: bytes) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        self._buckets.move_to_end(key)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


class HttpPolicies:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, buckets: TokenBuckets | None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_security_headers(list(message.get("headers", ())), https)
            await send(message)

        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        headers = _headers(scope)

        if self.buckets is not None and path.startswith(API_PREFIX) and b"authorization" in headers:
            key = hashlib.blake2b(headers[b"authorization"], digest_size=16).digest()
            wait = self.buckets.take(key)
            if wait > 0:
                await _rate_limited(wait, self.buckets)(scope, receive, send_with_headers)
                return

        limited = method in BODY_METHODS and (method, path.rstrip("/")) not in UPLOADS
        if limited:
            declared = headers.get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                await _too_large(path, self.max_body_bytes)(scope, receive, send_with_headers)
                return
            receive = _capped(receive, self.max_body_bytes)
        try:
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(path, self.max_body_bytes)(scope, receive, send_with_headers)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    wanted = {b"authorization", b"content-length"}
    return {name: value for name, value in scope.get("headers", ()) if name in wanted}


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_capped


def _with_security_headers(headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    added = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    if b"content-security-policy" not in present:
        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        if content_type.startswith((b"application/json", b"text/html", b"text/plain")):
            added.append((b"content-security-policy", DEFAULT_CSP))
    if https and b"strict-transport-security" not in present:
        added.append((b"strict-transport-security", HSTS))
    return headers + added


def _too_large(path: str, limit: int) -> Response:
    # Connection: close, because the rest of the body is left unread.
    if path.startswith(API_PREFIX):
        error = body_too_large_error(limit)
        return JSONResponse(error.to_dict(), status_code=413, headers={"Connection": "close"})
    return Response("Content Too Large", status_code=413, media_type="text/plain", headers={"Connection": "close"})


def _rate_limited(wait: float, buckets: TokenBuckets) -> Response:
    retry_after = max(1, math.ceil(wait))
    error = KvittError(
        f"too many requests with this API key: at most {buckets.rate:g} a second "
        f"(bursts of {buckets.burst}); retry after {retry_after} s",
        code="rate_limited",
    )
    error.error_type = "rate_limit_error"
    error.status_code = 429
    body = json.dumps(error.to_dict()).encode()
    return Response(body, status_code=429, media_type="application/json", headers={"Retry-After": str(retry_after)})


def install(app: Any, settings: Settings) -> None:
    """Add the policies to ``app`` (a FastAPI/Starlette app) as its outermost middleware. The app
    itself installs ``core.edge.Edge`` instead, which does this and more in one pass."""
    app.add_middleware(HttpPolicies, max_body_bytes=settings.max_body_bytes, buckets=buckets_of(settings))
    install_too_large_handler(app, settings)


def buckets_of(settings: Settings) -> TokenBuckets | None:
    rate = settings.rate_limit_per_second
    return TokenBuckets(rate, settings.rate_limit_burst) if rate > 0 else None


def install_too_large_handler(app: Any, settings: Settings) -> None:
    """A body found too large while an endpoint reads it: the same 413 as the edge's."""

    async def too_large(request: Request, exc: Exception) -> Response:
        limit = exc.limit if isinstance(exc, BodyTooLarge) else settings.max_body_bytes
        return _too_large(request.url.path, limit)

    app.add_exception_handler(BodyTooLarge, too_large)
