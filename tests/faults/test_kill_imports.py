"""``kvitt import billing-file`` and ``kvitt import bgmax`` SIGKILLed before their K-th SQL
statement at seeded points, then rerun.

An import is one transaction: a killed import leaves nothing behind (no customer, invoice,
number, payment, journal entry or queued job of it), and the run after the kills imports the
whole file once; one more run finds it imported and changes nothing. Checked afterwards: one
invoice per invoice ref and numbers 1..n without a gap, every invoice's event queued once; one
payment per BGMax payment, the invoices' remaining amounts as the payments make them, each
deviation once; the ledger balanced per entry and overall.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kvitt.billing import service as billing
from kvitt.billing.seed import seed_subscriptions
from kvitt.billing_files.models import BillingFile
from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.formats import bgmax
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalLine
from kvitt.payments.models import Deviation, Payment, PaymentFile
from tests.conftest import ENGINE, TENANT_A, make_tenant
from tests.faults.killpoints import (
    assert_ledger_balanced,
    assert_numbers_without_gap,
    assert_one_issued_event_per_invoice,
    published_events,
    run_cli,
    seeded_points,
)

INVOICES = 60  # 2 lines each: 120 rows
# A whole import's statements (much of it is COPY on PostgreSQL, which is not one): the seeded
# points are drawn below these, so that each falls inside the import.
BILLING_FILE_STATEMENTS = {"postgresql": 22, "sqlite": 29}[ENGINE]
BGMAX_STATEMENTS = {"postgresql": 11, "sqlite": 19}[ENGINE]
POINTS = 8
HEADER = (
    "customer_no,customer_name,email,phone,id_number,address,postal_code,city,delivery_method,"
    "invoice_ref,invoice_date,due_date,item_no,description,quantity,unit_price,vat_rate,info\n"
)


def billing_file(path: Path) -> Path:
    rows = [HEADER]
    for n in range(INVOICES):
        customer = 1000 + n % 40  # 40 customers, some with two invoices
        ref = f"F-2026-11-{n:04d}"
        rows.append(
            f"{customer},Kund {customer},k{customer}@example.se,,,Storgatan {n},11122,Stockholm,email,"
            f"{ref},2026-11-30,2026-12-30,MOB-1,Mobilabonnemang,1,{199 + n}.00,25,\n"
        )
        rows.append(f"{customer},,,,,,,,,{ref},,,,Extra surf,{1 + n % 3},49.50,25,\n")
    path.write_text("".join(rows), encoding="utf-8")
    return path


def kill_and_rerun(command: list[str], database_url: str, log: Path, points: list[int]) -> list[int]:
    """Kill the import before each point in turn, then run it to the end, then once more."""
    killed: list[int] = []
    for point in points:
        run = run_cli(command, database_url, log, point)
        if not run.killed:  # the import is shorter than this point: it ran to its end
            assert run.code == 0, run.output
            break
        killed.append(point)
    last = run_cli(command, database_url, log)
    assert last.code == 0, last.output
    print(f"killed before statements {killed}; the whole import is {last.statements} statements")
    again = run_cli(command, database_url, log)
    assert again.code == 0 and "imported before" in again.output, again.output
    return killed


@pytest.mark.parametrize("seed", [5, 77])
def test_a_billing_file_import_killed_at_seeded_points_imports_once(
    db: Database, database_url: str, tmp_path: Path, seed: int
) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    path = billing_file(tmp_path / "november.csv")
    command = ["import", "billing-file", str(path), "--issue", "--tenant", str(tenant_id)]
    killed = kill_and_rerun(
        command, database_url, tmp_path / "import.log", seeded_points(seed, POINTS, 1, BILLING_FILE_STATEMENTS - 1)
    )
    assert len(killed) == POINTS, "the import takes fewer statements now: lower BILLING_FILE_STATEMENTS"

    with db.transaction() as session:
        assert assert_numbers_without_gap(session, tenant_id) == INVOICES
        assert session.scalar(select(func.count(Invoice.id)).where(Invoice.tenant_id == tenant_id)) == INVOICES
        assert session.scalar(select(func.count(Customer.id)).where(Customer.tenant_id == tenant_id)) == 40
        assert session.scalar(select(func.count(BillingFile.id)).where(BillingFile.tenant_id == tenant_id)) == 1
        assert_one_issued_event_per_invoice(session, tenant_id)
        assert_ledger_balanced(session, tenant_id)
        receivables = session.scalar(
            select(func.sum(JournalLine.amount)).where(
                JournalLine.tenant_id == tenant_id, JournalLine.account == "1510"
            )
        )
        assert receivables == session.scalar(select(func.sum(Invoice.total)).where(Invoice.tenant_id == tenant_id))


def bgmax_file(path: Path, payee: str, invoices: list[tuple[str, int]]) -> Path:
    """Payments of ``invoices`` (ocr, total): most in full, some in part, some twice as much,
    and three references nobody issued; in two deposits."""
    payments: list[bgmax.BgmaxPayment] = []
    for n, (ocr, total) in enumerate(invoices):
        amount = total if n % 6 else (total // 2 if n % 12 else total * 2)
        payments.append(_payment(ocr, amount, f"{n:012d}"))
    payments += [_payment(f"99999{n}", 10000 + n, f"9{n:011d}") for n in range(3)]
    half = len(payments) // 2
    deposits = [
        bgmax.BgmaxDeposit(
            payee_bankgiro=payee.replace("-", "").zfill(10),
            payee_plusgiro=None,
            currency="SEK",
            payments=tuple(part),
            account="000000000000000000000012345",
            date=date(2026, 2, 20),
            deposit_serial=f"0000{number}",
            amount=sum(p.amount for p in part),
            count=len(part),
            deposit_type="",
        )
        for number, part in enumerate((payments[:half], payments[half:]), start=1)
    ]
    path.write_bytes(bgmax.write(bgmax.file_of(datetime(2026, 2, 20, 7, 0), deposits)))
    return path


def _payment(reference: str, amount: int, serial: str) -> bgmax.BgmaxPayment:
    return bgmax.BgmaxPayment(
        kind="payment",
        payer_bankgiro="0000000000",
        reference=reference,
        amount=amount,
        reference_code=2,
        channel=1,
        bgc_serial=serial,
        has_image=False,
        payer_name="Astrid Lindqvist",
    )


@pytest.mark.parametrize("seed", [8, 404])
def test_a_bgmax_import_killed_at_seeded_points_applies_each_payment_once(
    db: Database, database_url: str, tmp_path: Path, seed: int
) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        seed_subscriptions(session, tenant_id, 30, start=date(2026, 1, 1))
    billing.run_in_process(db, tenant_id, date(2026, 2, 1), actor="test")
    with db.transaction() as session:
        issued = session.execute(
            select(Invoice.id, Invoice.ocr, Invoice.total).where(Invoice.tenant_id == tenant_id).order_by(Invoice.id)
        ).all()
    path = bgmax_file(tmp_path / "bgmax.txt", TENANT_A["bankgiro"], [(ocr, total) for _, ocr, total in issued[:50]])
    command = ["import", "bgmax", str(path), "--tenant", str(tenant_id)]
    killed = kill_and_rerun(
        command, database_url, tmp_path / "import.log", seeded_points(seed, POINTS, 1, BGMAX_STATEMENTS - 1)
    )
    assert len(killed) == POINTS, "the import takes fewer statements now: lower BGMAX_STATEMENTS"

    with db.transaction() as session:
        payments = session.scalars(select(Payment).where(Payment.tenant_id == tenant_id)).all()
        assert len(payments) == 53 and len({p.bank_serial for p in payments}) == 53
        assert session.scalar(select(func.count(PaymentFile.id)).where(PaymentFile.tenant_id == tenant_id)) == 1
        assert session.scalar(select(func.count(Deviation.id)).where(Deviation.tenant_id == tenant_id)) >= 3
        paid = dict(session.execute(select(Invoice.id, Invoice.paid).where(Invoice.tenant_id == tenant_id)).all())
        for n, (invoice_id, _, total) in enumerate(issued):
            expected = 0 if n >= 50 else total if n % 6 else (total // 2 if n % 12 else total)
            assert paid[invoice_id] == expected, (n, paid[invoice_id], total)
        # No job lost or doubled: each invoice the file paid in full has one invoice.paid event queued.
        paid_events = [one["invoice_id"] for one in published_events(session, tenant_id, "invoice.paid")]
        fully_paid = {i for i, _, total in issued if paid[i] == total}
        assert len(paid_events) == len(set(paid_events)) and set(paid_events) == fully_paid
        assert_numbers_without_gap(session, tenant_id)
        assert_ledger_balanced(session, tenant_id)
