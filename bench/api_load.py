"""The request path under load: Kvitt's API and web invoice against the bare FastAPI ceiling.

Each run, per database (a fresh SQLite file, or a fresh PostgreSQL database on localhost:5432):

1. seeds one tenant, one customer and one issued 3-line invoice with a few events (through the
   API, as an issuer would) and takes its JSON body;
2. starts a *bare* FastAPI app that answers that same JSON body from memory under the same
   uvicorn settings (one process, no access log): the framework's ceiling in this run;
3. starts ``kvitt serve --no-worker`` (one process unless ``--workers``) and drives it with wrk
   (one thread, ``--connections``, ``--seconds``, loopback):
   - ``GET /api/v1/invoices/{id}``;
   - the web invoice ``GET /i/{token}`` as a browser asks for it (gzip), a 200 every time;
   - ``POST /api/v1/invoices``, a one-line draft;
   - create-and-issue with an ``Idempotency-Key`` on both requests: ``POST /invoices`` then
     ``POST /invoices/{id}/issue`` (the API has no one-call form); the rate is of pairs;
   - SQLite only: 8 readers (GET invoice) while one client writes drafts: the readers' p99;
   - ``kvitt serve --workers 2`` against one process for GET invoice (``--workers-compare``).

Every row prints its requests/s, the ratio to the ceiling and wrk's p99. Goals are ratios
(issue 20): a figure above one process's ceiling cannot be met on a 2-core machine.

    .venv/bin/python bench/api_load.py                          # both databases, 10 s per row
    .venv/bin/python bench/api_load.py --db sqlite --seconds 5
    .venv/bin/python bench/api_load.py --profile-row get        # py-spy record of the server
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import free_port

ROOT = Path(__file__).parents[1]
BENCH = ROOT / "bench"
KVITT = Path(sys.executable).parent / "kvitt"
PG = os.environ.get("KVITT_BENCH_PG", "postgresql://postgres@localhost:5432")
BENCH_DB = "kvitt_bench_api"


# --- the bare ceiling: FastAPI answering a stored body of the same size -----------------------------


def bare_app() -> Any:
    """``uvicorn --factory api_load:bare_app``: GET returns the body in KVITT_BENCH_BODY."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    body = Path(os.environ["KVITT_BENCH_BODY"]).read_bytes()
    app = FastAPI()

    # The same work as a route of Kvitt's: a path parameter validated as an integer.
    async def invoice(invoice_id: int) -> Response:
        return Response(body, media_type="application/json")

    invoice.__annotations__ = {"invoice_id": int, "return": Response}
    app.get("/api/v1/invoices/{invoice_id}")(invoice)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- seeding -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    url: str
    key: str
    invoice_id: int
    token: str
    customer_id: int
    body: bytes


def seed(url: str) -> Seeded:
    from fastapi.testclient import TestClient

    from kvitt.app import create_app
    from kvitt.core.config import Settings
    from kvitt.core.db import Database
    from kvitt.migrations import upgrade
    from kvitt.tenants import service as tenants
    from kvitt.tenants.schemas import TenantCreate

    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        _, key = tenants.create(
            session,
            TenantCreate(
                name="Norrsken Telekom AB", org_number="556036-0793", bankgiro="5050-1055", swish_number="1231181189"
            ),
        )
    settings = Settings(database_url=url, embedded_worker=False, public_url="http://127.0.0.1")
    app = create_app(settings, db, embedded_worker=False)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post("/api/v1" + path, json=body, headers=headers)
            assert response.status_code < 300, response.text
            return dict(response.json())

        customer = post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist", "email": "a@example.se"})
        lines = [
            {"description": f"Tjänst {n}", "quantity": "1", "unit_price": 10000 * n, "vat_rate": 25} for n in (1, 2, 3)
        ]
        draft = post("/invoices", {"customer": customer["id"], "lines": lines})
        invoice = post(f"/invoices/{draft['id']}/issue", {})
        post(f"/invoices/{invoice['id']}/payments", {"amount": 1000})
        got = client.get(f"/api/v1/invoices/{invoice['id']}", headers=headers)
        body = got.content
    db.dispose()
    return Seeded(url, key, invoice["id"], invoice["url"].rsplit("/", 1)[1], customer["id"], body)


@contextlib.contextmanager
def database(engine: str) -> Iterator[str]:
    if engine == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="kvitt-bench-api-"))
        try:
            yield f"sqlite:///{folder / 'kvitt.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(
        PG.replace("postgresql://", "postgresql+psycopg://") + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    try:
        yield f"{PG}/{BENCH_DB}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        admin.dispose()


# --- servers and wrk -------------------------------------------------------------------------------


UVICORN_FLAGS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    atexit.register(stop, process)  # no server outlives a failed run
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(f"the server did not start: {command}") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_bare(body_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "api_load:bare_app", "--app-dir", str(BENCH)]
    return start([*command, *UVICORN_FLAGS, "--port", str(port)], {"KVITT_BENCH_BODY": str(body_file)}, port), port


def start_kvitt(url: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [str(KVITT), "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    env = {"KVITT_DATABASE_URL": url, "KVITT_LOG_LEVEL": "WARNING", "KVITT_PUBLIC_URL": "http://127.0.0.1"}
    return start(command, env, port), port


@dataclass
class Run:
    rate: float
    p50: float
    p99: float
    errors: str = ""
    pairs: float = 0.0
    ceiling: float = 0.0  # the bare app's requests/s measured just before this row


LUA_POST = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""

# Create a draft, then issue it, each with its own Idempotency-Key; counts the issued ones.
LUA_CREATE_AND_ISSUE = """
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args)
  n = 0; issued = 0; pending = {{}}; prefix = "{prefix}"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local headers = {{["Idempotency-Key"] = prefix .. n, ["Content-Type"] = "application/json"}}
  headers["Authorization"] = wrk.headers["Authorization"]
  local id = table.remove(pending, 1)
  if id then
    return wrk.format("POST", "/api/v1/invoices/" .. id .. "/issue", headers, "{{}}")
  end
  return wrk.format("POST", "/api/v1/invoices", headers, [[{body}]])
end
function response(status, headers, body)
  local id = string.match(body, '^{{"id":(%d+)')
  if status == 201 and id then table.insert(pending, id) end
  if status == 200 then issued = issued + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("issued") end
  io.write(string.format("ISSUED %d\\n", total))
end
"""


def wrk(
    url: str, seconds: int, connections: int, headers: list[str], script: str | None = None
) -> subprocess.Popen[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        path = Path(tempfile.mkstemp(suffix=".lua")[1])
        path.write_text(script)
        command += ["-s", str(path)]
    return subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen[str], seconds: int, ceiling: float = 0.0) -> Run:
    out, _ = process.communicate()

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    errors = ""
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: [^\n]+"):
        found = re.search(pattern, out)
        if found:
            errors += found.group(0) + " "
    issued = re.search(r"ISSUED (\d+)", out)
    pairs = int(issued.group(1)) / seconds if issued else 0.0
    return Run(float(rate.group(1)), latency("50%"), latency("99%"), errors.strip(), pairs, ceiling)


def measure(
    url: str, seconds: int, connections: int, headers: list[str], script: str | None = None, ceiling: float = 0.0
) -> Run:
    return result(wrk(url, seconds, connections, headers, script), seconds, ceiling)


# --- the table -------------------------------------------------------------------------------------

GOALS = {
    "GET invoice": (0.40, 25.0),
    "web invoice page (200)": (0.30, 40.0),
    "POST draft invoice": (0.25, 50.0),
    "create-and-issue, Idempotency-Key (pairs)": (0.15, None),
    "SQLite: 8 readers while 1 writes (readers)": (None, 50.0),
}


def goal_text(figure: str) -> str:
    if figure.startswith("kvitt serve --workers"):
        return "the gain, recorded"
    ratio, p99 = GOALS.get(figure, (None, None))
    parts = []
    if ratio is not None:
        parts.append(f"≥ {ratio:.0%}")
    if p99 is not None:
        parts.append(f"p99 ≤ {p99:.0f} ms")
    return ", ".join(parts)


def verdict(figure: str, ratio: float, p99: float) -> str:
    goal_ratio, goal_p99 = GOALS.get(figure, (None, None))
    if goal_ratio is None and goal_p99 is None:
        return ""
    if ratio <= 0:
        return "NOT met (no answers)"
    met = (goal_ratio is None or ratio >= goal_ratio) and (goal_p99 is None or p99 <= goal_p99)
    return "met" if met else "NOT met"


def bench_engine(engine: str, args: argparse.Namespace) -> list[tuple[str, Run]]:
    rows: list[tuple[str, Run]] = []
    seconds, connections = args.seconds, args.connections
    with database(engine) as url:
        seeded = seed(url)
        body_file = Path(tempfile.mkstemp(suffix=".json")[1])
        body_file.write_bytes(seeded.body)
        auth = [f"Authorization: Bearer {seeded.key}"]
        draft = json.dumps(
            {
                "customer": seeded.customer_id,
                "lines": [{"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25}],
            }
        )
        invoice_path = f"/api/v1/invoices/{seeded.invoice_id}"
        # The bare app stays up: each row's ratio is to a ceiling measured just before it, so
        # that a machine whose load changes during the run (others' work) skews no row.
        bare, bare_port = start_bare(body_file)
        bare_url = f"http://127.0.0.1:{bare_port}{invoice_path}"
        measure(bare_url, 2, connections, [])  # warm up

        def ceiling() -> float:
            return measure(bare_url, max(3, seconds // 2), connections, []).rate

        first = measure(bare_url, seconds, connections, [])
        first.ceiling = first.rate
        rows.append(("bare FastAPI ceiling", first))
        server, port = start_kvitt(url)
        base = f"http://127.0.0.1:{port}"
        try:
            if args.profile_row:
                profiler = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--format",
                        "raw",
                        "-o",
                        str(BENCH / "out" / f"api_{engine}_{args.profile_row}.txt"),
                        "-p",
                        str(server.pid),
                        "-d",
                        str(seconds + 2),
                        "-r",
                        "200",
                    ]
                )
            urllib.request.urlopen(base + f"/i/{seeded.token}").read()  # the first view of the day
            measure(base + invoice_path, 2, connections, auth)  # warm up
            plan: list[tuple[str, str, str, list[str], str | None]] = [
                ("get", "GET invoice", invoice_path, auth, None),
                ("web", "web invoice page (200)", f"/i/{seeded.token}", ["Accept-Encoding: gzip"], None),
                ("post", "POST draft invoice", "/api/v1/invoices", auth, LUA_POST.format(body=draft)),
                (
                    "issue",
                    "create-and-issue, Idempotency-Key (pairs)",
                    "/api/v1/invoices",
                    auth,
                    LUA_CREATE_AND_ISSUE.format(prefix=f"bench-{os.getpid()}-{time.time_ns()}-", body=draft),
                ),
            ]
            for name, label, path, headers, script in plan:
                if args.only and name not in args.only:
                    continue
                top = ceiling()
                rows.append((label, measure(base + path, seconds, connections, headers, script, top)))
            if args.profile_row:
                profiler.wait()
            if engine == "sqlite" and (not args.only or "mixed" in args.only):
                top = ceiling()
                readers = wrk(base + invoice_path, seconds, 8, auth)
                writer = wrk(base + "/api/v1/invoices", seconds, 1, auth, LUA_POST.format(body=draft))
                rows.append(("SQLite: 8 readers while 1 writes (readers)", result(readers, seconds, top)))
                rows.append(("SQLite: … the 1 writer (drafts)", result(writer, seconds, top)))
        finally:
            stop(server)
        if args.workers_compare:
            server, port = start_kvitt(url, workers=2)
            try:
                measure(f"http://127.0.0.1:{port}{invoice_path}", 2, connections, auth)
                top = ceiling()
                rows.append(
                    (
                        "kvitt serve --workers 2: GET invoice",
                        measure(f"http://127.0.0.1:{port}{invoice_path}", seconds, connections, auth, None, top),
                    )
                )
            finally:
                stop(server)
        stop(bare)
        body_file.unlink()
    return rows


def print_table(engine: str, rows: list[tuple[str, Run]], args: argparse.Namespace, markdown: bool) -> None:
    header = ["figure", "goal", "req/s", "ceiling req/s", "ratio to ceiling", "p50 ms", "p99 ms", "verdict"]
    lines = []
    get_rate = next((run.rate for label, run in rows if label == "GET invoice"), None)
    for label, run in rows:
        rate = run.pairs if run.pairs else run.rate
        ratio = rate / run.ceiling
        extra = ""
        if label.startswith("kvitt serve --workers") and get_rate:
            extra = f" ({run.rate / get_rate:.2f}× one process)"
        if run.errors:
            extra += f" [{run.errors}]"
        lines.append(
            [
                label,
                goal_text(label),
                f"{rate:,.0f}" + (f" ({run.rate:,.0f} requests)" if run.pairs else ""),
                f"{run.ceiling:,.0f}",
                f"{ratio:.0%}" + extra,
                f"{run.p50:.1f}",
                f"{run.p99:.1f}",
                verdict(label, ratio, run.p99),
            ]
        )
    title = (
        f"{engine}: wrk -t1 -c{args.connections} -d{args.seconds}s, one kvitt serve --no-worker process;"
        " each row's ceiling measured just before it"
    )
    if markdown:
        print(f"\n{title}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in header:
        table.add_column(column, justify="left" if column in ("figure", "goal") else "right")
    for line in lines:
        table.add_row(*line)
    Console(width=160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", nargs="*", help="rows: get web post issue mixed")
    parser.add_argument("--workers-compare", action="store_true", help="also kvitt serve --workers 2")
    parser.add_argument("--profile-row", help="py-spy record the server during this run (needs py-spy)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with open("/proc/loadavg") as load:
        print("load average before:", load.read().strip())
    engines = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for engine in engines:
        rows = bench_engine(engine, args)
        print_table(engine, rows, args, args.markdown)
    with open("/proc/loadavg") as load:
        print("load average after:", load.read().strip())


if __name__ == "__main__":
    main()
