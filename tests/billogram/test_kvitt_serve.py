"""The client's example flows against a live ``kvitt serve`` process (a tenant made with
``kvitt init --json``, whose ``billogram_user`` and ``api_key`` are all the client needs), on
the test database of the run (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from billogram_api import BillogramAPI, BillogramExceptions  # type: ignore[import-untyped]

from kvitt.billogram.route import PREFIX
from kvitt.core.db import Database
from tests.loopback import free_port

KVITT = Path(sys.executable).with_name("kvitt")
E = BillogramExceptions


@pytest.fixture
def served(database_url: str, db: Database, tmp_path: Path) -> Iterator[BillogramAPI]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KVITT_")},
        "KVITT_DATABASE_URL": database_url,
        "KVITT_PUBLIC_URL": "https://kvitt.test",
    }
    made = subprocess.run(
        [
            str(KVITT),
            "init",
            "--name",
            "Norrsken Telekom AB",
            "--org-number",
            "556036-0793",
            "--bankgiro",
            "5050-1055",
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    tenant = json.loads(made.stdout)
    port = free_port()
    process = subprocess.Popen(
        [str(KVITT), "serve", "--port", str(port), "--no-worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a guard against a hang, not a measurement
        while True:
            assert process.poll() is None, "kvitt serve stopped:\n" + "".join(output)
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "kvitt serve does not answer:\n" + "".join(output)
            time.sleep(0.2)
        yield BillogramAPI(tenant["billogram_user"], tenant["api_key"], api_base=base + PREFIX)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_example_flows_against_kvitt_serve(served: BillogramAPI) -> None:
    api = served
    api.items.create({"item_no": "1", "title": "Mobilabonnemang", "price": 316, "vat": 25, "unit": "month"})
    api.customers.create({"customer_no": 1, "name": "Astrid Lindqvist", "contact": {"email": "astrid@example.se"}})
    # example1: create and send, then credit in full
    due = (date.today() + timedelta(days=35)).isoformat()
    data = {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}], "currency": "SEK", "due_date": due}
    bg = api.billogram.create_and_send(data, "Email")
    assert (bg["state"], bg["total_sum"], bg["due_date"]) == ("Unpaid", 395, due)
    bg.credit_full()
    assert bg["state"] == "Credited" and bg["remaining_sum"] == 0
    # example2: raise the price of the "mobil..." items by 10 %
    query = api.items.query().filter_search("title", "mobil")
    for item in query.iter_all():
        item.update({"price": round(item["price"] * 1.1, 2)})
    assert api.items.get("1")["price"] == 347.6
    # example3: find or create a customer, invoice them, note it on the customer
    with pytest.raises(E.ObjectNotFoundError):
        api.customers.get(12345)
    customer = api.customers.create(
        {
            "customer_no": 12345,
            "name": "Terkel Testsson",
            "contact": {"email": "terkel@example.com"},
            "company_type": "individual",
        }
    )
    second = api.billogram.create(
        {
            "customer": {"customer_no": 12345},
            "currency": "SEK",
            "items": [{"title": "Customer assistance", "price": 300, "unit": "hour", "vat": 25, "count": 0.5}],
        }
    )
    customer.update({"notes": "Last conversation was on invoice id {}".format(second["id"])})
    second.send("Email")
    assert second["total_sum"] == 188 and second["rounding_value"] == 0.5  # 187.50 kr rounded to whole kronor
    second.create_payment(second["total_sum"])
    assert second["state"] == "Paid"
    # example4: paid or credited billograms, their events and PDFs
    found = api.billogram.query().filter_state_any("Paid", "Credited")
    assert found.count == 2
    for compact in found.iter_all():
        compact.refresh()
        letters = [e["data"]["letter_id"] for e in compact["events"] if e["data"] and "letter_id" in e["data"]]
        assert letters and all(compact.get_invoice_pdf(letter_id=letter).startswith(b"%PDF-") for letter in letters)
