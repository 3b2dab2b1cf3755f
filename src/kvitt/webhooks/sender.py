"""Signed HTTP POSTs to endpoints, with short timeouts; no database in here.

The worker calls this with no transaction open (see ``jobs.deliver``), so an endpoint that
answers slowly or never holds neither the database nor the worker for longer than the timeouts.
A batch of requests goes out concurrently through one httpx client, at most ``POOL_SIZE`` at a
time (a bounded pool of threads and connections), so one slow endpoint costs the batch its
timeouts once per pool slot, not once per request in a row.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from kvitt import __version__

# Seconds. A receiver should answer at once and do its work afterwards (docs/webhooks.md).
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
EXCERPT_CHARS = 500
_MAX_BODY_BYTES = 4096  # read no more of a response than the excerpt needs
POOL_SIZE = 16  # requests in flight at once from one worker batch


@dataclass
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(request: Outgoing) -> Outcome:
    return post_many([request])[0]


def post_many(requests: list[Outgoing], *, pool_size: int | None = None) -> list[Outcome]:
    """Send every request (concurrently, at most ``pool_size`` at once); outcomes in their order."""
    if not requests:
        return []
    size = max(1, min(pool_size or POOL_SIZE, len(requests)))
    timeout = httpx.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=READ_TIMEOUT, pool=CONNECT_TIMEOUT)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    # Redirects are not followed: a signed request goes only where the issuer registered it.
    with httpx.Client(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False) as client:
        if size == 1:
            return [_post(client, request) for request in requests]
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="webhooks") as pool:
            return list(pool.map(lambda request: _post(client, request), requests))


def _post(client: httpx.Client, request: Outgoing) -> Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Kvitt-Webhooks/{__version__}",
        **request.headers,
    }
    started = time.monotonic()
    try:
        with client.stream("POST", request.url, content=request.body, headers=headers) as response:
            excerpt = _excerpt(response)
            status = response.status_code
    except httpx.TimeoutException as exc:
        return Outcome(None, _ms(started), f"timeout: {type(exc).__name__}", None)
    except httpx.HTTPError as exc:
        return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500], None)
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(status, _ms(started), error, excerpt)


def _excerpt(response: httpx.Response) -> str:
    chunks = bytearray()
    for chunk in response.iter_bytes():
        chunks += chunk
        if len(chunks) >= _MAX_BODY_BYTES:
            break
    return bytes(chunks).decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
