"""A month of mixed payments through matching: for every customer, the ledger says what the
invoices and credit balances say.

The rule (BAS: 1510 Kundfordringar, 2420 Förskott från kunder): a customer's net position in
the ledger — their 1510 postings plus their 2420 postings — equals the sum of their invoices'
``remaining`` less their credit balance, after every day.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import CreditIn, InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.ledger.models import JournalLine
from kvitt.payments import service as payments
from kvitt.payments.imports import import_bgmax
from kvitt.payments.models import Deviation
from kvitt.tenants.models import Tenant
from tests.conftest import TENANT_A, make_tenant
from tests.payments.test_bgmax_import import a_file

START = date(2026, 11, 1)
CUSTOMERS = 12


def _check(db: Database, tenant_id: int) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert ledger.unbalanced_entries(session, tenant.id) == []
        for customer_id in session.scalars(
            select(Invoice.customer_id).where(Invoice.tenant_id == tenant.id).distinct()
        ):
            position = session.scalar(
                select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
                    JournalLine.tenant_id == tenant.id,
                    JournalLine.customer_id == customer_id,
                    JournalLine.account.in_(("1510", "2420")),
                )
            )
            remaining = session.scalar(
                select(func.coalesce(func.sum(Invoice.remaining), 0)).where(
                    Invoice.tenant_id == tenant.id, Invoice.customer_id == customer_id
                )
            )
            credit = payments.credit_balance(session, tenant, customer_id)
            assert position == remaining - credit, (customer_id, position, remaining, credit)


def test_a_month_of_mixed_payments(db: Database) -> None:
    rng = random.Random(2026)
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        people = [
            customers.create(session, tenant, CustomerCreate(customer_no=f"K{n}", name=f"Kund {n}")).id
            for n in range(CUSTOMERS)
        ]
    serial = 0
    for day_number in range(30):
        today = START + timedelta(days=day_number)
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            if day_number % 7 == 0:  # a billing day: everyone gets an invoice
                lines = [
                    LineIn(
                        description="Abonnemang",
                        quantity=Decimal(1),
                        unit_price=rng.choice([19900, 29900, 39920]),
                        vat_rate=25,
                    )
                ]
                invoices.create_and_issue(
                    session,
                    tenant,
                    [InvoiceCreate(customer=c, lines=lines, invoice_date=today) for c in people],
                    today=today,
                    actor="t",
                )
            open_invoices = list(
                session.scalars(
                    select(Invoice)
                    .where(Invoice.tenant_id == tenant.id, Invoice.state.in_(("unpaid", "partly_paid", "overdue")))
                    .order_by(Invoice.id)  # the seeded choices below must not hang on the planner's row order
                )
            )
            pays = []
            for invoice in rng.sample(open_invoices, k=min(len(open_invoices), rng.randint(0, 6))):
                serial += 1
                roll = rng.random()
                amount = (
                    invoice.remaining
                    if roll < 0.6
                    else invoice.remaining // 2
                    if roll < 0.75
                    else invoice.remaining + 5000
                )
                reference = invoice.ocr if roll < 0.9 else "123456789"
                pays.append((amount, reference or "", f"{serial:012d}"))
            if rng.random() < 0.2 and open_invoices:
                victim = rng.choice(open_invoices)
                if victim.remaining > 100:
                    invoices.credit(
                        session,
                        tenant,
                        victim,
                        CreditIn(mode="amount", amount=victim.remaining // 3),
                        today=today,
                        actor="t",
                    )
            if pays:
                import_bgmax(
                    session,
                    tenant,
                    a_file("5050-1055", pays, on=today),
                    filename=None,
                    source="test",
                    today=today,
                    actor="t",
                )
            if rng.random() < 0.3 and open_invoices:  # a person pays over the counter
                invoice = rng.choice(open_invoices)
                if invoice.state in ("unpaid", "partly_paid", "overdue"):
                    payments.pay_invoice(
                        session,
                        tenant,
                        invoice,
                        rng.randint(100, 50000),
                        on=today,
                        today=today,
                        reference=None,
                        actor="t",
                    )
            # Staff work the queue: unidentified money goes to the first open invoice that fits.
            for deviation in session.scalars(
                select(Deviation).where(Deviation.tenant_id == tenant.id, Deviation.state == "open")
            ):
                payment = payments.get(session, tenant, deviation.payment_id)
                if deviation.kind == "unknown_reference" and payment.unallocated > 0:
                    target = next(
                        (
                            i
                            for i in open_invoices
                            if i.state in ("unpaid", "partly_paid", "overdue") and i.remaining >= payment.unallocated
                        ),
                        None,
                    )
                    if target is not None:
                        payments.resolve(
                            session,
                            tenant,
                            deviation,
                            action="match",
                            allocations=[(target.id, payment.unallocated)],
                            customer_id=None,
                            amount=None,
                            note=None,
                            today=today,
                            actor="staff",
                        )
                elif deviation.kind == "overpayment" and rng.random() < 0.5:
                    payments.resolve(
                        session,
                        tenant,
                        deviation,
                        action="refund",
                        allocations=[],
                        customer_id=None,
                        amount=None,
                        note=None,
                        today=today,
                        actor="staff",
                    )
            payments.apply_credit(session, tenant, people, today=today, actor="t")
            invoices.mark_overdue(session, tenant, today=today)
        _check(db, tenant_id)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        states = dict(
            session.execute(
                select(Invoice.state, func.count()).where(Invoice.tenant_id == tenant.id).group_by(Invoice.state)
            ).all()
        )
        kinds = dict(
            session.execute(
                select(Deviation.kind, func.count()).where(Deviation.tenant_id == tenant.id).group_by(Deviation.kind)
            ).all()
        )
    # The month exercised what it set out to.
    assert states.get("paid", 0) > 10 and states.get("partly_paid", 0) + states.get("overdue", 0) > 0
    assert kinds.get("unknown_reference", 0) > 0 and kinds.get("overpayment", 0) > 0
