"""Two job workers and two API processes on one PostgreSQL.

Workers: two ``kvitt jobs run`` processes started together on a queue of 80 issued invoices'
events (one job per event, so there is something to share from the first claim) and, after the
fan-out, their 80 emails; small claim batches make them take turns. Each job runs exactly once:
the two processes' "N jobs run" add up to the number of jobs, every job is done after one
attempt, and the SMTP server received one message per invoice, with its delivery's Message-ID.

API: two ``kvitt serve --no-worker`` processes on free ports take 24 concurrent POSTs of one
invoice with one Idempotency-Key, split across both: one invoice is created; the other answers
are the same invoice replayed (201) or 409 while the first is in flight, never a second one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kvitt.billing import service as billing
from kvitt.billing.seed import seed_subscriptions
from kvitt.core.db import Database
from kvitt.core.outbox import DONE, OutboxJob
from kvitt.delivery.models import Delivery
from kvitt.invoices.models import Invoice
from tests.conftest import ENGINE, TENANT_A, make_tenant
from tests.faults.killpoints import assert_one_issued_event_per_invoice
from tests.loopback import Mailbox, free_port

pytestmark = pytest.mark.skipif(
    ENGINE != "postgresql", reason="PostgreSQL only: processes share the queue with FOR UPDATE SKIP LOCKED"
)


def kvitt(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KVITT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "kvitt.cli", *args],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_workers_run_each_job_exactly_once(db: Database, delivery_env: dict[str, str], mailbox: Mailbox) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        seed_subscriptions(session, tenant_id, 40, start=date(2026, 1, 1))
    # Batches of 5: each publishes 10 events, one job each (bundles start at 50).
    billing.run_in_process(db, tenant_id, date(2026, 2, 1), actor="test", batch_size=5)
    env = {**delivery_env, "KVITT_WORKER_BATCH_SIZE": "4"}
    workers = [kvitt("jobs", "run", env=env) for _ in range(2)]
    ran = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, (out, err)
        found = re.search(r"(\d+) jobs run", out)
        assert found, out
        ran.append(int(found.group(1)))
    print(f"jobs run by each worker: {ran}")

    with db.transaction() as session:
        jobs = session.execute(select(OutboxJob.kind, OutboxJob.state, OutboxJob.attempts)).all()
        invoices = set(session.scalars(select(Invoice.id).where(Invoice.tenant_id == tenant_id)))
        sent = session.execute(select(Delivery.invoice_id, Delivery.state, Delivery.provider_ref)).all()
    assert len(invoices) == 80
    assert {state for _, state, _ in jobs} == {DONE} and {attempts for _, _, attempts in jobs} == {1}
    assert sum(ran) == len(jobs)  # no job run by both (a job run twice would count twice)
    with db.transaction() as session:
        assert_one_issued_event_per_invoice(session, tenant_id)
    assert sorted(invoice_id for invoice_id, _, _ in sent) == sorted(invoices)
    assert {state for _, state, _ in sent} == {"sent"}
    message_ids = Counter(message["Message-ID"] for message in mailbox.messages)
    assert len(mailbox.messages) == 80 and set(message_ids.values()) == {1}
    assert set(message_ids) == {ref for _, _, ref in sent}


@contextmanager
def api_process(database_url: str) -> Iterator[str]:
    port = free_port()
    process = kvitt(
        "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), env={"KVITT_DATABASE_URL": database_url}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"{url}/livez", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kvitt serve did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_two_api_processes_make_one_invoice_of_one_idempotency_key(db: Database, database_url: str) -> None:
    tenant_id, key = make_tenant(db, **TENANT_A)
    auth = {"Authorization": f"Bearer {key}"}
    with api_process(database_url) as first, api_process(database_url) as second:
        customer = httpx.post(
            f"{first}/api/v1/customers", json={"customer_no": "1001", "name": "Astrid Lindqvist"}, headers=auth
        ).json()
        body = {
            "customer": customer["id"],
            "lines": [{"description": "Abonnemang", "unit_price": 19900, "vat_rate": 25}],
        }

        def create(n: int) -> httpx.Response:
            base = (first, second)[n % 2]
            headers = {**auth, "Idempotency-Key": "one-invoice-two-processes"}
            return httpx.post(f"{base}/api/v1/invoices", json=body, headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=24) as pool:
            responses: list[Any] = list(pool.map(create, range(24)))
    statuses = Counter(r.status_code for r in responses)
    print(f"answers: {dict(statuses)}")
    assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count(Invoice.id)).where(Invoice.tenant_id == tenant_id)) == 1
