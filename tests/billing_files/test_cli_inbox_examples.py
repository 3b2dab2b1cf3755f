"""Billing files from the command line, from the inbox, and the shipped examples end to end."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from kvitt.billing_files.inbox import MAPPING_FILE, read_billing_inbox
from kvitt.billing_files.models import BillingFile
from kvitt.cli import app
from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
from tests.billing_files.test_import import GOOD
from tests.conftest import TENANT_A, TENANT_B, make_tenant

EXAMPLES = Path(__file__).parents[2] / "examples" / "billing-files"
runner = CliRunner()


def invoices_by_ref(db: Database) -> dict[str, Invoice]:
    with db.transaction() as session:
        return {i.metadata_["invoice_ref"]: i for i in session.scalars(select(Invoice))}


def test_the_erp_example_with_its_mapping(cli_env: str, db: Database) -> None:
    """Semicolons, decimal comma, thousands space, dd/mm/yyyy and yyyymmdd, VAT and delivery codes."""
    make_tenant(db, **TENANT_A)
    mapping = EXAMPLES / "erp-semikolon.toml"
    result = runner.invoke(
        app, ["import", "billing-file", str(EXAMPLES / "erp-semikolon.csv"), "--mapping", str(mapping), "--issue"]
    )
    assert result.exit_code == 0, result.output
    assert "2 invoices issued (4 lines)" in result.output
    found = invoices_by_ref(db)
    # 1 234,50 + 412,5 × 0,43 (= 177,375 → 177,38) = 1 411,88 net at 25 % → 1 764,85 → 1 765 kr
    assert (found["202611-0001"].net, found["202611-0001"].total) == (141188, 176500)
    # 2 990,00 + 2 × 149,00 = 3 288,00 net at 25 % → 4 110,00 kr
    assert found["202611-0002"].total == 411000
    assert found["202611-0002"].invoice_date == date(2026, 11, 30)
    assert found["202611-0001"].info == [
        {"title": "Förbrukning", "text": "412 kWh"},
        {"title": "Mätperiod", "text": "2026-11-01–2026-11-30"},
    ]
    with db.transaction() as session:
        bakery = session.scalar(select(Customer).where(Customer.customer_no == "E-10002"))
        assert bakery is not None
        assert (bakery.type, bakery.id_number, bakery.delivery_method) == ("company", "556036-0793", "letter")
    again = runner.invoke(
        app, ["import", "billing-file", str(EXAMPLES / "erp-semikolon.csv"), "--mapping", str(mapping), "--issue"]
    )
    assert again.exit_code == 0 and "nothing changed" in again.output


def test_the_telecom_example_by_name_from_the_mappings_folder(cli_env: str, db: Database, monkeypatch: object) -> None:
    """Tab-separated, no header (columns by position), VAT written as "25%", info from two columns."""
    from kvitt.core.config import get_settings

    make_tenant(db, **TENANT_A)
    monkeypatch.setenv("KVITT_BILLING_MAPPINGS_DIR", str(EXAMPLES))  # type: ignore[attr-defined]
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["import", "billing-file", str(EXAMPLES / "telekom-fast.tsv"), "--mapping", "telekom-fast"]
    )
    assert result.exit_code == 0, result.output
    found = invoices_by_ref(db)
    # 316,00 + 1,5 × 29,00 = 359,50 at 25 % → 449,375 → 449 kr; drafts without --issue
    assert {ref: (i.state, i.total) for ref, i in found.items()} == {
        "T-2026-11-1": ("draft", 44900),
        "T-2026-11-2": ("draft", 18600),
    }
    assert found["T-2026-11-1"].info == [
        {"title": "Surf använd", "text": "14,2 GB av 20 GB"},
        {"title": "Bindningstid till", "text": "2027-03-31"},
    ]


def test_the_canonical_examples(cli_env: str, db: Database) -> None:
    make_tenant(db, **TENANT_A)
    for name, mapping in (("canonical.csv", "canonical"), ("canonical.jsonl", "jsonl")):
        result = runner.invoke(app, ["import", "billing-file", str(EXAMPLES / name), "--mapping", mapping, "--issue"])
        assert result.exit_code == 0, result.output
    assert set(invoices_by_ref(db)) == {"F-2026-11-1001", "F-2026-11-1002", "J-2026-11-1"}


def test_the_cli_prints_every_error_and_applies_nothing(cli_env: str, db: Database, tmp_path: Path) -> None:
    make_tenant(db, **TENANT_A)
    broken = tmp_path / "broken.csv"
    broken.write_text(GOOD.replace(",2,24.50,", ",abc,24.50,").replace("120.00,6,", "120.00,24,"))
    result = runner.invoke(app, ["import", "billing-file", str(broken), "--issue"])
    assert result.exit_code == 1
    assert "line 3, quantity: 'abc' is not a number" in result.output
    assert "line 4, vat_rate: '24' is not a Swedish VAT rate" in result.output
    assert "Traceback" not in result.output
    assert invoices_by_ref(db) == {}


def test_the_inbox_reads_each_tenants_folder(db: Database, tmp_path: Path) -> None:
    a, _ = make_tenant(db, **TENANT_A)
    b, _ = make_tenant(db, **TENANT_B)
    inbox = tmp_path / "inbox"
    folder_a = inbox / "billing" / "5560360793"
    folder_b = inbox / "billing" / "556016-0680"
    folder_a.mkdir(parents=True)
    folder_b.mkdir(parents=True)
    (inbox / "billing" / "5569999999").mkdir()  # no such tenant
    (folder_a / "nov.csv").write_text(GOOD)
    (folder_a / ".partial.csv").write_text("half")  # an upload in progress is left alone
    (folder_a / "broken.csv").write_text(GOOD.replace(",2,24.50,", ",abc,24.50,").replace("F-", "G-"))
    shutil.copy(EXAMPLES / "erp-semikolon.csv", folder_b / "export.csv")
    shutil.copy(EXAMPLES / "erp-semikolon.toml", folder_b / MAPPING_FILE)
    with db.transaction() as session:
        results = read_billing_inbox(session, inbox, today=date(2026, 11, 30))
    assert {(r.tenant, r.path, r.outcome) for r in results} == {
        ("5560360793", "broken.csv", "rejected"),
        ("5560360793", "nov.csv", "imported"),
        ("5569999999", "", "unknown_tenant"),
        ("556016-0680", "export.csv", "imported"),
    }
    with db.transaction() as session:
        files = {(f.tenant_id, f.filename): (f.state, f.invoices) for f in session.scalars(select(BillingFile))}
        assert files == {
            (a, "nov.csv"): ("imported", 2),
            (a, "broken.csv"): ("rejected", 0),
            (b, "export.csv"): ("imported", 2),
        }
        rejected = session.scalar(select(BillingFile).where(BillingFile.state == "rejected"))
        assert rejected is not None and rejected.errors[0]["line"] == 3 and rejected.errors[0]["field"] == "quantity"
        owners = {i.metadata_["invoice_ref"]: (i.tenant_id, i.state) for i in session.scalars(select(Invoice))}
        assert owners["F-1"] == (a, "unpaid") and owners["202611-0001"] == (b, "unpaid")
    with db.transaction() as session:
        again = read_billing_inbox(session, inbox, today=date(2026, 11, 30))
    assert [r.outcome for r in again] == ["unknown_tenant"]  # the others are known by their content


def test_the_worker_reads_the_billing_inbox_at_the_inbox_times(db: Database, tmp_path: Path) -> None:
    from datetime import datetime

    from kvitt.billing_files.inbox import READ_BILLING_INBOX_JOB
    from kvitt.core.config import Settings
    from kvitt.core.outbox import OutboxJob
    from kvitt.worker import Worker

    make_tenant(db, **TENANT_A)
    folder = tmp_path / "inbox" / "billing" / "556036-0793"
    folder.mkdir(parents=True)
    (folder / "nov.csv").write_text(GOOD)
    settings = Settings(database_url="sqlite://", inbox_dir=str(tmp_path / "inbox"), inbox_times="07:00,12:00")
    worker = Worker(db, settings)
    worker.schedule_inbox(datetime(2026, 11, 25, 7, 30))
    Worker(db, settings).schedule_inbox(datetime(2026, 11, 25, 7, 45))  # a second worker: no second read
    with db.transaction() as session:
        keys = list(session.scalars(select(OutboxJob.dedupe_key).where(OutboxJob.kind == READ_BILLING_INBOX_JOB)))
    assert keys == [f"{READ_BILLING_INBOX_JOB}:all:2026-11-25T07:00"]
    worker.run_until_idle()
    assert set(invoices_by_ref(db)) == {"F-1", "F-2"}
