"""The web invoice under load: server time per page for a 10-line invoice, on SQLite.

Starts ``kvitt``'s app (with a stopwatch around it, ``timed_app``) with uvicorn in a separate
process on a free loopback port, against a fresh SQLite file holding one tenant with a Swish
number and one issued 10-line invoice (an info block, 10 messages), then drives it with wrk,
one connection by default. The figure is the server's own time per request, p50 (the
stopwatch); wrk's latency (which adds loopback and wrk) and throughput are shown beside it.

- ``/healthz``: the baseline, a trivial route of the same app in the same server, same run;
- ``/i/<token>``: the web invoice, as a browser asks for it (``Accept-Encoding: gzip``);
- ``/i/<token>`` without compression;
- ``/i/<token>?tab=meddelanden`` with 10 messages.

Each view is recorded (``web_invoice_visits``); after the first view of the day the page writes
only once a minute, which is what the load sees.

    .venv/bin/python bench/web_invoice.py                # 5 s per route
    .venv/bin/python bench/web_invoice.py --seconds 10 --connections 4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from benchlib import free_port
from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate
from kvitt.web.messages import post_message

GOAL_P50_MS = 5.0
ROOT = Path(__file__).parents[1]


def seed(url: str) -> str:
    """One tenant, one customer, one issued 10-line invoice with 10 messages; returns its token.

    Made through the API (a TestClient on the same database), as an issuer would."""
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        tenant, key = tenants.create(
            session,
            TenantCreate(
                name="Norrsken Telekom AB", org_number="556036-0793", bankgiro="5050-1055", swish_number="1231181189"
            ),
        )
        tenant_id = tenant.id
    app = create_app(Settings(database_url=url, embedded_worker=False), db, embedded_worker=False)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post("/api/v1" + path, json=body, headers=headers)
            assert response.status_code < 300, response.text
            return dict(response.json())

        customer = post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist", "type": "individual"})
        lines = [
            {"description": f"Tjänst {n}", "quantity": "1", "unit_price": 1000 * n, "vat_rate": 25 if n % 3 else 6}
            for n in range(1, 11)
        ]
        info = [{"title": "Förbrukning", "text": "412 kWh i oktober"}]
        draft = post("/invoices", {"customer": customer["id"], "lines": lines, "info": info})
        invoice = post(f"/invoices/{draft['id']}/issue", {})
        for n in range(5):
            with db.transaction() as session:
                post_message(session, tenant_id, invoice["id"], author="recipient", text=f"Fråga {n}")
            post(f"/invoices/{invoice['id']}/messages", {"text": f"Svar {n}"})
    db.dispose()
    return str(invoice["url"].rsplit("/", 1)[1])


def timed_app() -> Any:
    """The app with a stopwatch around it: the server's own time per request (from the request
    reaching the app to the last byte handed to uvicorn), read and reset at ``/__bench/timings``."""
    app = create_app()
    samples: list[float] = []

    async def stopwatch(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/timings":
            body = json.dumps(samples).encode()
            samples.clear()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        start = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http":
            samples.append(time.perf_counter() - start)

    return stopwatch


def server_times(base: str) -> list[float]:
    with urllib.request.urlopen(base + "/__bench/timings") as response:
        return sorted(float(x) * 1000 for x in json.loads(response.read()))


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KVITT_DATABASE_URL": url, "KVITT_EMBEDDED_WORKER": "false", "KVITT_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "web_invoice:timed_app",
        "--app-dir",
        str(ROOT / "bench"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def wrk(url: str, seconds: int, connections: int, headers: list[str]) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) from wrk --latency."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors from {url}:\n{out}")

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    return latency("50%"), latency("99%"), float(rate.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    folder = Path(tempfile.mkdtemp(prefix="kvitt-bench-web-"))
    url = f"sqlite:///{folder / 'kvitt.db'}"
    token = seed(url)
    port = free_port()
    server = start_server(url, port)
    base = f"http://127.0.0.1:{port}"
    gzip_header = ["Accept-Encoding: gzip"]
    routes = [
        ("baseline: /healthz", "/healthz", []),
        ("web invoice, gzip (browser)", f"/i/{token}", gzip_header),
        ("web invoice, uncompressed", f"/i/{token}", []),
        ("Meddelanden tab, 10 messages, gzip", f"/i/{token}?tab=meddelanden", gzip_header),
    ]
    try:
        urllib.request.urlopen(base + f"/i/{token}").read()  # the first view of the day
        server_times(base)
        results = []
        for label, path, headers in routes:
            p50, p99, rate = wrk(base + path, args.seconds, args.connections, headers)
            times = server_times(base)
            results.append((label, times[len(times) // 2], p50, p99, rate))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)

    baseline = results[0][1]
    table = Table(title=f"Web invoice on SQLite, 10 lines, wrk -c{args.connections} {args.seconds}s on loopback")
    columns = ("route", "goal", "server p50 ms", "server / baseline", "wrk p50 ms", "wrk p99 ms", "requests/s")
    for column in columns:
        table.add_column(column, justify="left" if column == "route" else "right")
    for label, server_p50, p50, p99, rate in results:
        goal = "" if label.startswith("baseline") else f"≤ {GOAL_P50_MS:.0f} ms"
        table.add_row(
            label,
            goal,
            f"{server_p50:.2f}",
            f"{server_p50 / baseline:.1f}×",
            f"{p50:.2f}",
            f"{p99:.2f}",
            f"{rate:,.0f}",
        )
    Console(width=140).print(table)
    met = all(server_p50 <= GOAL_P50_MS for _, server_p50, _, _, _ in results[1:])
    Console().print("goal met" if met else "goal NOT met")


if __name__ == "__main__":
    main()
