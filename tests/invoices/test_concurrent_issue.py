"""Concurrent issues never produce a gap or a duplicate in the invoice numbers.

A real uvicorn server runs in a background thread; many HTTP requests in parallel issue drafts,
credit invoices (credit notes take numbers from the same series) and pay them, while others fail:
some before a number is taken (an empty draft, an invoice already issued, the same draft issued
twice at once) and some after (a crash at the very end of the issue, after the number, the OCR
and the ledger posting were written; the loser of two requests racing with one Idempotency-Key).
Afterwards every tenant's numbers are exactly 1..N and every OCR reference is unique and valid.

On PostgreSQL the requests really overlap (the series row lock queues them); on SQLite the
database lock serialises them, and the rules must hold all the same.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.formats import ocr
from kvitt.invoices import issuing
from tests.conftest import ENGINE

THREADS = 12
GOOD_DRAFTS = 40
LINES = [
    {"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25},
    {"description": "Tidning", "quantity": "1", "unit_price": 8900, "vat_rate": 6},
]


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 on a free port, in a background thread."""
    app = create_app(settings, db, embedded_worker=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here on: no race with another process
    port = sock.getsockname()[1]
    # Keep-alive well beyond the test's length: with uvicorn's 5 s a pooled connection idle that
    # long under a loaded machine could be closed just as the client reused it ("Server
    # disconnected without sending a response"), a race of HTTP keep-alive, not of numbering.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=300,
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start within 15 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        uv.should_exit = True
        thread.join(timeout=20)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class Client:
    http: httpx.Client
    base: str
    key: str

    def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.http.request(
            method,
            self.base + path,
            json=json,
            headers={"Authorization": f"Bearer {self.key}", **(headers or {})},
        )

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.request(method, path, json)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def all_invoices(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = "?limit=100" + (f"&starting_after={cursor}" if cursor else "")
            page = self.ok("GET", "/invoices" + query)
            found += page["data"]
            if not page["has_more"]:
                return found
            cursor = page["data"][-1]["id"]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=THREADS * 2, max_keepalive_connections=THREADS * 2)
    with httpx.Client(timeout=120, limits=limits) as client:
        yield client


@dataclass
class Task:
    """One request of the parallel run and the outcomes it may have."""

    name: str
    client: Client
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    expect: tuple[int, ...] = (200,)

    def run(self) -> tuple[Task, Any]:
        return self, self.client.request(self.method, self.path, self.body, self.headers)


def _drafts(client: Client, customers: list[int], count: int, lines: list[dict[str, Any]]) -> list[int]:
    body = [{"customer": customers[n % len(customers)], "lines": lines} for n in range(count)]
    return [client.ok("POST", "/invoices", b, status=201)["id"] for b in body]


def test_concurrent_issues_leave_no_gap_and_no_duplicate(
    server: str,
    http: httpx.Client,
    tenant_a: tuple[int, str],
    tenant_b: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = Client(http, server, tenant_a[1])
    b = Client(http, server, tenant_b[1])
    customers = [
        a.ok("POST", "/customers", {"customer_no": f"{n}", "name": f"Kund {n}"}, status=201)["id"] for n in range(3)
    ]
    b_customer = b.ok("POST", "/customers", {"customer_no": "1", "name": "Kund"}, status=201)["id"]

    # Before the run: four invoices already issued (numbers 1..4) to credit, pay and re-issue.
    early = [a.ok("POST", f"/invoices/{i}/issue") for i in _drafts(a, customers, 4, LINES)]
    assert [inv["number"] for inv in early] == [1, 2, 3, 4]

    good = _drafts(a, customers, GOOD_DRAFTS, LINES)
    twice = _drafts(a, customers, 3, LINES)  # each issued by two requests at once
    empty = _drafts(a, customers, 3, [])  # refused before a number is taken
    poisoned = _drafts(a, customers, 4, LINES)  # crash after the number, OCR and ledger are written
    same_key = _drafts(a, customers, 2, LINES)  # two drafts issued under one Idempotency-Key
    b_drafts = _drafts(b, [b_customer], 10, LINES)

    real_record = issuing.record
    crashes: list[int] = []

    def record_or_crash(session: Any, tenant_id: int, happenings: list[Any]) -> None:
        hit = [h.invoice_id for h in happenings if h.invoice_id in poisoned]
        if hit:
            crashes.extend(hit)
            raise RuntimeError(f"crash while issuing {hit}")
        real_record(session, tenant_id, happenings)

    monkeypatch.setattr(issuing, "record", record_or_crash)

    tasks = [Task(f"issue {i}", a, "POST", f"/invoices/{i}/issue") for i in good]
    tasks += [Task(f"issue twice {i}", a, "POST", f"/invoices/{i}/issue", expect=(200, 409)) for i in twice * 2]
    tasks += [Task(f"issue empty {i}", a, "POST", f"/invoices/{i}/issue", expect=(422,)) for i in empty]
    # uvicorn closes the connection after an unhandled exception; "Connection: close" keeps the
    # client from handing that connection to another request (which would see a reset).
    tasks += [
        Task(f"issue poisoned {i}", a, "POST", f"/invoices/{i}/issue", headers={"Connection": "close"}, expect=(500,))
        for i in poisoned
    ]
    tasks += [
        Task(
            f"issue same key {i}",
            a,
            "POST",
            f"/invoices/{i}/issue",
            headers={"Idempotency-Key": "one"},
            expect=(200, 409),
        )
        for i in same_key
    ]
    tasks += [Task(f"reissue {inv['id']}", a, "POST", f"/invoices/{inv['id']}/issue", expect=(409,)) for inv in early]
    tasks += [
        Task(
            f"credit {inv['id']}",
            a,
            "POST",
            f"/invoices/{inv['id']}/credit",
            {"mode": "amount", "amount": 5000},
            expect=(201,),
        )
        for inv in early[:2]
    ]
    tasks += [
        Task(f"pay {inv['id']}", a, "POST", f"/invoices/{inv['id']}/payments", {"amount": 1000}) for inv in early[2:]
    ]
    tasks += [
        Task("overpay", a, "POST", f"/invoices/{early[3]['id']}/payments", {"amount": 10**9}, expect=(200,)),
        Task(
            "credit too much",
            a,
            "POST",
            f"/invoices/{early[2]['id']}/credit",
            {"mode": "amount", "amount": 10**9},
            expect=(422,),
        ),
    ]
    tasks += [Task(f"B issue {i}", b, "POST", f"/invoices/{i}/issue") for i in b_drafts]
    random.Random(20240601).shuffle(tasks)

    barrier = threading.Barrier(THREADS)

    def start(task: Task) -> tuple[Task, Any]:
        with contextlib.suppress(threading.BrokenBarrierError):  # the first requests leave together
            barrier.wait(timeout=5)
        return task.run()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(start, tasks))

    unexpected = [(t.name, r.status_code, r.text[:200]) for t, r in results if r.status_code not in t.expect]
    assert not unexpected, unexpected
    monkeypatch.setattr(issuing, "record", real_record)

    # Each draft issued twice at once: exactly one request issued it, the other was refused.
    for draft_id in twice:
        statuses = sorted(r.status_code for t, r in results if t.name == f"issue twice {draft_id}")
        assert statuses == [200, 409], (draft_id, statuses)
    # Two drafts under one key: one issued; the other told the key was taken, and left a draft.
    same = [(t, r) for t, r in results if t.name.startswith("issue same key")]
    assert sorted(r.status_code for _, r in same) == [200, 409]
    assert all(
        r.json()["error"]["code"] in ("idempotency_key_reused", "idempotency_key_in_use")
        for _, r in same
        if r.status_code == 409
    )
    assert sorted(crashes) == sorted(poisoned), "every poisoned issue reached the end and crashed"

    # --- the invariants -------------------------------------------------------------------------
    invoices = a.all_invoices()
    by_id = {inv["id"]: inv for inv in invoices}
    numbered = [inv for inv in invoices if inv["number"] is not None]
    expected_count = len(early) + len(good) + len(twice) + 1 + 2  # + same-key winner + 2 credit notes
    numbers = sorted(inv["number"] for inv in numbered)
    assert [n for n, c in Counter(numbers).items() if c > 1] == [], "duplicate invoice numbers"
    assert numbers == list(range(1, expected_count + 1)), (
        f"gap in the numbers: {sorted(set(range(1, expected_count + 1)) - set(numbers))}"
    )
    ocrs = [inv["ocr"] for inv in numbered if inv["kind"] == "invoice"]  # a credit note is not paid: no OCR
    assert len(set(ocrs)) == len(ocrs), "duplicate OCR references"
    assert all(ocr.is_valid(ref) for ref in ocrs)
    assert sorted(inv["kind"] for inv in numbered).count("credit_note") == 2

    for draft_id in good + twice:
        # Issued; the overpayment task's surplus may have paid some of the same customer's invoices.
        assert by_id[draft_id]["state"] in ("unpaid", "partly_paid", "paid") and by_id[draft_id]["number"] is not None
    for draft_id in empty + poisoned:
        left = by_id[draft_id]
        assert (left["state"], left["number"], left["ocr"]) == ("draft", None, None), left
        events = a.ok("GET", f"/invoices/{draft_id}/events")["data"]
        assert [e["type"] for e in events] == ["created"]
    assert sorted(by_id[i]["state"] != "draft" for i in same_key) == [False, True]

    # A crashed issue left no ledger posting: every balance is what the open invoices say.
    for customer in customers:
        open_sum = sum(inv["remaining"] for inv in invoices if inv["customer"] == customer and inv["kind"] == "invoice")
        assert a.ok("GET", f"/customers/{customer}")["balance"] == open_sum

    # The series goes on where it stands: the failures gave their numbers back.
    next_one = a.ok("POST", f"/invoices/{poisoned[0]}/issue")
    assert next_one["number"] == expected_count + 1

    # Tenant B's series is its own and as tight.
    b_numbers = sorted(inv["number"] for inv in b.all_invoices())
    assert b_numbers == list(range(1, len(b_drafts) + 1))


def test_the_run_uses_the_engine_under_test(db: Database) -> None:
    """Guard: the run above is meant once per engine; make sure ``KVITT_TEST_DB`` took effect."""
    assert db.engine.dialect.name == ENGINE
