"""``kvitt export facts``: the files a run writes, and that a rerun writes only what is new."""

from __future__ import annotations

import csv
import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kvitt.cli import app
from kvitt.core.db import Database
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.reports import export
from kvitt.tenants.models import Tenant
from kvitt.worker import Worker
from tests.conftest import ENGINE, Api

runner = CliRunner()
PERIOD = ["--from", "2026-03-01", "--to", "2026-03-31"]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def issue(api: Api, customer: int, kronor: int, day: str) -> dict[str, Any]:
    lines = [
        {"description": "Abonnemang", "quantity": "1", "unit_price": kronor * 100, "vat_rate": 25},
        {"description": "Samtal", "quantity": "3", "unit_price": 500, "vat_rate": 25},
    ]
    draft = ok(api.post("/invoices", {"customer": customer, "lines": lines, "invoice_date": day}), 201)
    return dict(ok(api.post(f"/invoices/{draft['id']}/issue")))


def run(folder: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["export", "facts", str(folder), *PERIOD, "--settle", "0", *extra])
    return result


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != export.CURSOR_FILE)


@pytest.fixture
def customer(api: Api) -> int:
    body = {"customer_no": "1001", "name": "Astrid Lindqvist", "email": "astrid@example.se"}
    return int(ok(api.post("/customers", body), 201)["id"])


def test_a_first_run_writes_the_period_and_a_rerun_only_what_is_new(
    api: Api, db: Database, cli_env: str, delivery_env: dict[str, str], customer: int, tmp_path: Path
) -> None:
    march = issue(api, customer, 316, "2026-03-05")
    second = issue(api, customer, 200, "2026-03-20")
    issue(api, customer, 100, "2026-04-02")  # outside the period
    ok(api.post("/invoices", {"customer": customer, "lines": [], "invoice_date": "2026-03-10"}), 201)  # a draft
    ok(api.post(f"/invoices/{march['id']}/payments", {"amount": 10000, "date": "2026-03-25"}))
    Worker(db, worker_id="export-test").run_until_idle()  # the invoices are emailed
    folder = tmp_path / "warehouse"

    first = run(folder)
    assert first.exit_code == 0, first.output
    assert "run 1:" in first.output
    assert files(folder) == [f"{t}-2026-03-01-2026-03-31-0001.csv" for t in sorted(export.TABLES)]
    got = {t: rows(folder / f"{t}-2026-03-01-2026-03-31-0001.csv") for t in export.TABLES}
    assert [int(r["id"]) for r in got["invoices"]] == [march["id"], second["id"]]
    assert [(r["paid"], r["remaining"]) for r in got["invoices"]] == [
        ("10000", str(march["total"] - 10000)),
        ("0", str(second["total"])),
    ]
    assert len(got["invoice_lines"]) == 4 and {r["invoice_id"] for r in got["invoice_lines"]} == {
        str(march["id"]),
        str(second["id"]),
    }
    assert [(r["amount"], r["date"], r["source"]) for r in got["payments"]] == [("10000", "2026-03-25", "manual")]
    assert {r["type"] for r in got["events"]} >= {"created", "issued", "payment"}
    assert json.loads(got["invoices"][0]["vat_summary"])  # JSON columns as JSON text
    delivered = [(int(r["invoice_id"]), r["channel"], r["state"]) for r in got["deliveries"]]
    assert sorted(delivered) == [(march["id"], "email", "sent"), (second["id"], "email", "sent")]

    again = run(folder)
    assert again.exit_code == 0, again.output
    assert "nothing new since run 1" in again.output
    assert len(files(folder)) == len(export.TABLES)

    ok(api.post(f"/invoices/{second['id']}/payments", {"amount": second["total"], "date": "2026-03-28"}))
    third = run(folder)
    assert third.exit_code == 0, third.output
    new = sorted(set(files(folder)) - {f"{t}-2026-03-01-2026-03-31-0001.csv" for t in export.TABLES})
    assert new == [f"{t}-2026-03-01-2026-03-31-0002.csv" for t in ("events", "invoices", "payments")]
    changed = rows(folder / "invoices-2026-03-01-2026-03-31-0002.csv")
    assert [(int(r["id"]), r["state"]) for r in changed] == [(second["id"], "paid")]
    assert {r["type"] for r in rows(folder / "events-2026-03-01-2026-03-31-0002.csv")} == {"payment", "paid"}
    cursor = json.loads((folder / export.CURSOR_FILE).read_text())
    assert cursor["series"]["2026-03-01..2026-03-31"]["run"] == 2


def test_a_folder_of_another_tenant_is_refused(
    api: Api, api_b: Api, cli_env: str, customer: int, tmp_path: Path
) -> None:
    issue(api, customer, 316, "2026-03-05")
    out = tmp_path / "out"
    assert run(out, "--tenant", str(api.tenant_id)).exit_code == 0
    refused = run(out, "--tenant", str(api_b.tenant_id))
    assert refused.exit_code == 2 and "another tenant's export" in refused.output


def test_parquet_is_refused_without_pyarrow(
    api: Api, cli_env: str, customer: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(api, customer, 316, "2026-03-05")
    monkeypatch.setattr(export, "pyarrow_installed", lambda: False)  # as on an installation without it
    out = tmp_path / "out"
    result = run(out, "--format", "parquet")
    assert result.exit_code == 2 and "needs pyarrow" in result.output
    assert not out.exists()


def test_parquet_holds_the_rows_with_their_types_and_a_rerun_only_what_is_new(
    api: Api, db: Database, cli_env: str, delivery_env: dict[str, str], customer: int, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    march = issue(api, customer, 316, "2026-03-05")
    ok(api.post(f"/invoices/{march['id']}/payments", {"amount": 10000, "date": "2026-03-25"}))
    Worker(db, worker_id="export-test").run_until_idle()
    out = tmp_path / "out"

    first = run(out, "--format", "parquet")
    assert first.exit_code == 0, first.output
    assert files(out) == [f"{t}-2026-03-01-2026-03-31-0001.parquet" for t in sorted(export.TABLES)]
    invoices_file = pq.read_table(out / "invoices-2026-03-01-2026-03-31-0001.parquet")
    schema = invoices_file.schema
    for money in ("total", "paid", "remaining", "net", "vat", "credited", "written_off"):
        assert schema.field(money).type == pa.int64(), money  # öre, whole numbers
    assert schema.field("invoice_date").type == pa.date32()
    assert schema.field("due_date").type == pa.date32()
    assert schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("state").type == pa.string() and schema.field("vat_summary").type == pa.string()
    (row,) = invoices_file.to_pylist()
    assert row["id"] == march["id"] and row["total"] == march["total"] and isinstance(row["total"], int)
    assert (row["paid"], row["remaining"]) == (10000, march["total"] - 10000)
    assert (
        row["invoice_date"] == date(2026, 3, 5) and row["state"] == api.get(f"/invoices/{march['id']}").json()["state"]
    )
    assert json.loads(row["vat_summary"])  # JSON as its text
    assert row["updated_at"].utcoffset() is not None
    lines = pq.read_table(out / "invoice_lines-2026-03-01-2026-03-31-0001.parquet").to_pylist()
    assert sorted((r["unit_price"], r["quantity_milli"]) for r in lines) == [(500, 3000), (31600, 1000)]
    payments = pq.read_table(out / "payments-2026-03-01-2026-03-31-0001.parquet")
    assert payments.schema.field("amount").type == pa.int64() and payments.schema.field("date").type == pa.date32()
    assert [(r["amount"], r["date"], r["source"]) for r in payments.to_pylist()] == [
        (10000, date(2026, 3, 25), "manual")
    ]
    deliveries = pq.read_table(out / "deliveries-2026-03-01-2026-03-31-0001.parquet").to_pylist()
    assert [(r["invoice_id"], r["channel"]) for r in deliveries] == [(march["id"], "email")]

    again = run(out, "--format", "parquet")
    assert again.exit_code == 0 and "nothing new since run 1" in again.output, again.output
    ok(api.post(f"/invoices/{march['id']}/payments", {"amount": march["total"] - 10000, "date": "2026-03-28"}))
    third = run(out, "--format", "parquet")
    assert third.exit_code == 0, third.output
    new = sorted(set(files(out)) - {f"{t}-2026-03-01-2026-03-31-0001.parquet" for t in export.TABLES})
    assert new == [f"{t}-2026-03-01-2026-03-31-0002.parquet" for t in ("events", "invoices", "payments")]
    changed = pq.read_table(out / "invoices-2026-03-01-2026-03-31-0002.parquet").to_pylist()
    assert [(r["id"], r["state"], r["remaining"]) for r in changed] == [(march["id"], "paid", 0)]
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


@pytest.mark.skipif(ENGINE != "postgresql", reason="SQLite has one writer: the export holds the write lock")
def test_rows_of_a_transaction_still_open_are_left_for_a_later_run(
    api: Api, db: Database, cli_env: str, customer: int, tmp_path: Path
) -> None:
    """A billing batch stamps its rows, then commits later: the run in between must not skip them."""
    issue(api, customer, 316, "2026-03-05")
    written, release = threading.Event(), threading.Event()

    def slow_batch() -> None:
        with db.transaction() as session:
            tenant = session.get_one(Tenant, api.tenant_id)
            lines = [LineIn(description="Abonnemang", unit_price=10000, vat_rate=25)]
            data = InvoiceCreate(customer=customer, lines=lines, invoice_date=date(2026, 3, 6))
            invoices.create_and_issue(session, tenant, [data], today=date(2026, 3, 6), actor="test")
            written.set()
            release.wait(30)

    thread = threading.Thread(target=slow_batch)
    thread.start()
    try:
        assert written.wait(30)
        during = run(tmp_path / "out")
        assert during.exit_code == 0, during.output
        first = rows(tmp_path / "out" / "invoices-2026-03-01-2026-03-31-0001.csv")
        assert len(first) == 1
    finally:
        release.set()
        thread.join()
    after = run(tmp_path / "out")
    assert after.exit_code == 0, after.output
    later = rows(tmp_path / "out" / "invoices-2026-03-01-2026-03-31-0002.csv")
    assert len(later) == 1 and later[0]["invoice_date"] == "2026-03-06"
