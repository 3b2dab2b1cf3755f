"""What the HTTP policies (kvitt.core.http: body limit, per-key rate limit, security headers) add
to each request, and what the collapse of repeated warnings (kvitt.core.log_quiet) adds to a line.

Per request: ASGI calls in this process to a bare Starlette app that answers a small JSON body,
alternating rounds with and without the ``HttpPolicies`` middleware (the baseline), the fastest
round of each. A GET with an API key (rate-limit bucket taken, headers added) and a POST with a
1 KiB JSON body (its length checked, the body counted as it is received).

Per log line: the ``Repeats`` processor alone on a warning that is admitted, and on one that is
dropped (a flood), against a processor that returns the event (the baseline).

Usage: .venv/bin/python bench/http_policies.py [--requests 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kvitt.core.http import HttpPolicies, TokenBuckets
from kvitt.core.log_quiet import Repeats

BODY = b'{"customer_no": "C-1", "name": "' + b"x" * 990 + b'"}'


async def _answer(request: Request) -> JSONResponse:
    if request.method == "POST":
        await request.body()
    return JSONResponse({"id": 1, "object": "customer"})


def _apps() -> tuple[Any, Any]:
    bare = Starlette(routes=[Route("/api/v1/customers", _answer, methods=["GET", "POST"])])
    policed = HttpPolicies(bare, max_body_bytes=1_048_576, buckets=TokenBuckets(1e9, 10**9))
    return bare, policed


def _scope(method: str, body: bytes) -> dict[str, Any]:
    headers = [(b"authorization", b"Bearer kv_live_benchmark-key"), (b"host", b"127.0.0.1")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/api/v1/customers",
        "raw_path": b"/api/v1/customers",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _round(app: Any, method: str, body: bytes, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        await app(_scope(method, body), receive, send)
    return (time.perf_counter() - started) / n


def per_request(method: str, body: bytes, n: int, rounds: int) -> tuple[float, float]:
    bare, policed = _apps()
    best = {"bare": float("inf"), "policed": float("inf")}
    for _ in range(rounds):
        for name, app in (("bare", bare), ("policed", policed)):
            best[name] = min(best[name], asyncio.run(_round(app, method, body, n)))
    return best["policed"], best["bare"]


def per_line(processor: Callable[..., Any], event: dict[str, Any], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            with contextlib.suppress(structlog.DropEvent):  # a dropped line
                processor(None, "warning", dict(event))
        best = min(best, (time.perf_counter() - started) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    for label, method, body in (("GET with a key", "GET", b""), ("POST, 1 KiB JSON body", "POST", BODY)):
        policed, bare = per_request(method, body, args.requests, args.rounds)
        rows.append(
            (
                f"{label}: added per request",
                "≤ 20 µs",
                f"{(policed - bare) * 1e6:.1f} µs ({policed * 1e6:.1f} vs {bare * 1e6:.1f} µs)",
                f"{policed / bare:.2f}× the bare app",
            )
        )
    event = {"event": "job failed, will retry", "level": "warning", "job": 1}
    baseline = per_line(lambda _l, _m, e: e, event, args.requests * 4, args.rounds)
    admitted = per_line(Repeats(first=10**9), event, args.requests * 4, args.rounds)
    dropped_repeats = Repeats(first=0)
    dropped = per_line(dropped_repeats, event, args.requests * 4, args.rounds)
    for label, value in (("a warning written", admitted), ("a repeated warning dropped", dropped)):
        rows.append(
            (
                f"collapse check, {label}",
                "≤ 5 µs",
                f"{(value - baseline) * 1e6:.2f} µs",
                f"{value / baseline:.1f}× an identity processor",
            )
        )
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; {args.requests} requests, {args.rounds} rounds")
    print("| figure | goal | measured | ratio to baseline |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
