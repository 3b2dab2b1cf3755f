"""Credit balances spent on newly issued invoices, a batch of events at a time: the same as the
events one by one, and one query for a batch whose customers hold no credit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.payments import jobs
from kvitt.payments import service as payments
from kvitt.tenants.models import Tenant
from tests.conftest import TENANT_A, TENANT_B, make_tenant
from tests.payments.test_matching import DAY, _ocr, bg
from tests.webhooks.batching import counting_statements, pending_events


def _line(amount: int) -> list[LineIn]:
    return [LineIn(description="Abonnemang", quantity=Decimal(1), unit_price=amount, vat_rate=0)]


def _with_credit(db: Database, fields: dict[str, Any]) -> tuple[int, list[int]]:
    """Four customers; the first two overpaid an invoice (2,500 and 7,000 öre of credit)."""
    tenant_id, _ = make_tenant(db, **fields, round_to_krona=False)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        people = [
            customers.create(session, tenant, CustomerCreate(customer_no=str(n), name=f"Kund {n}")).id for n in range(4)
        ]
        first = invoices.create_and_issue(
            session, tenant, [InvoiceCreate(customer=c, lines=_line(10000)) for c in people[:2]], today=DAY, actor="t"
        )
    paid = [bg(12500, _ocr(db, tenant_id, first[0]), "1"), bg(17000, _ocr(db, tenant_id, first[1]), "2")]
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        payments.receive(session, tenant, paid, file_id=None, today=DAY, actor="test")
    return tenant_id, people


def _issue_new(db: Database, tenant_id: int, people: list[int]) -> set[Any]:
    """Two new invoices per customer; the events before them (not part of the test)."""
    before = {e["event_job_id"] for e in pending_events(db, tenant_id)}
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        inputs = [InvoiceCreate(customer=c, lines=_line(2000 * (i + 1))) for i, c in enumerate(people * 2)]
        invoices.create_and_issue(session, tenant, inputs, today=DAY, actor="t")
    return before


def _outcome(db: Database, tenant_id: int, people: list[int]) -> list[Any]:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        rows = session.execute(
            select(Invoice.customer_id, Invoice.total, Invoice.state, Invoice.remaining)
            .where(Invoice.tenant_id == tenant_id)
            .order_by(Invoice.id)
        ).all()
        by_customer = {c: n for n, c in enumerate(people)}
        return [(by_customer[c], t, s, r) for c, t, s, r in rows] + [
            payments.credit_balance(session, tenant, c) for c in people
        ]


def _issued(events: list[dict[str, Any]], before: set[Any]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "invoice.issued" and e["event_job_id"] not in before]


def test_credit_is_spent_on_a_batch_of_new_invoices_as_one_by_one(db: Database) -> None:
    batched, people_a = _with_credit(db, TENANT_A)
    single, people_b = _with_credit(db, TENANT_B)
    before_a = _issue_new(db, batched, people_a)
    before_b = _issue_new(db, single, people_b)

    events = _issued(pending_events(db, batched), before_a)
    assert len(events) == 8
    with db.transaction() as session:
        jobs.spend_credit_on_new_invoice(session, batched, events)
    for event in _issued(pending_events(db, single), before_b):
        with db.transaction() as session:
            jobs.spend_credit_on_new_invoice(session, single, [event])

    outcome = _outcome(db, batched, people_a)
    assert outcome == _outcome(db, single, people_b)
    # Customer 0's 2,500 öre paid their 2,000 invoice and 500 of the 10,000 one; customer 1's 7,000
    # paid 4,000 and 3,000 of 12,000; the others' invoices are untouched.
    assert outcome[-4:] == [0, 0, 0, 0]
    assert [row for row in outcome[2:-4] if row[2] != "unpaid"] == [
        (0, 2000, "paid", 0),
        (1, 4000, "paid", 0),
        (0, 10000, "partly_paid", 9500),
        (1, 12000, "partly_paid", 9000),
    ]


def test_a_batch_without_credit_costs_one_query(db: Database) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        people = [customers.create(session, tenant, CustomerCreate(customer_no=str(n), name="K")).id for n in range(40)]
        invoices.create_and_issue(
            session, tenant, [InvoiceCreate(customer=c, lines=_line(1000)) for c in people], today=DAY, actor="t"
        )
    events = [e for e in pending_events(db, tenant_id) if e["type"] == "invoice.issued"]
    assert len(events) == 40
    with db.transaction() as session, counting_statements(db) as seen:
        jobs.spend_credit_on_new_invoice(session, tenant_id, events)
    assert len(seen) == 1
