"""Matching payments to invoices, and the ledger that results.

Sources: Bankgirot, "Bankgiro Inbetalningar, BGMax" (reference codes: 2 correct OCR, 3 several
references, 0/1 none, 5 wrong); BAS: 1930 bank, 1510 receivables, 2420 customer advances.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.payments import service as payments
from kvitt.payments.models import Deviation
from kvitt.payments.service import Incoming
from kvitt.tenants.models import Tenant
from tests.conftest import TENANT_A, make_tenant

DAY = date(2026, 11, 25)


def _setup(db: Database, amounts: list[int], *, customers_n: int = 2) -> tuple[int, list[int], list[int]]:
    """A tenant, customers, and one issued invoice per amount (öre, 0 % VAT so total = amount),
    spread over the customers in turn."""
    tenant_id, _ = make_tenant(db, **TENANT_A, round_to_krona=False)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        people = [
            customers.create(session, tenant, CustomerCreate(customer_no=str(n), name=name)).id
            for n, name in enumerate(["Astrid Lindqvist", "Bo Ek", "Cecilia Holm"][:customers_n])
        ]
        inputs = [
            InvoiceCreate(
                customer=people[i % len(people)],
                lines=[LineIn(description="Abonnemang", quantity=Decimal(1), unit_price=amount, vat_rate=0)],
                due_date=date(2026, 12, 1 + i),
            )
            for i, amount in enumerate(amounts)
        ]
        ids = invoices.create_and_issue(session, tenant, inputs, today=DAY, actor="test")
    return tenant_id, people, ids


def _receive(db: Database, tenant_id: int, items: list[Incoming]) -> payments.Received:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return payments.receive(session, tenant, items, file_id=None, today=DAY, actor="test")


def _state(db: Database, tenant_id: int) -> dict[str, Any]:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        page = invoices.list_page(session, tenant, limit=100, starting_after=None)
        found = {inv.id: (inv.state, inv.remaining, inv.ocr) for inv in page.items}
        deviations = sorted((d.kind, d.amount) for d in session.query(Deviation).filter_by(tenant_id=tenant_id))
        assert ledger.unbalanced_entries(session, tenant.id) == []
        for invoice in page.items:
            assert ledger.invoice_receivable(session, tenant, invoice.id) == invoice.remaining
        return {"invoices": found, "deviations": deviations, "balances": ledger.account_balances(session, tenant.id)}


def _ocr(db: Database, tenant_id: int, invoice_id: int) -> str:
    return str(_state(db, tenant_id)["invoices"][invoice_id][2])


def bg(amount: int, reference: str | None, serial: str, code: int = 2, **kw: Any) -> Incoming:
    return Incoming(amount, DAY, "bankgiro", reference=reference, reference_code=code, bank_serial=serial, **kw)


def test_exact_less_and_more(db: Database) -> None:
    tenant_id, _people, (a, b, c, d) = _setup(db, [10000, 20000, 30000, 5000], customers_n=3)
    refs = {i: _ocr(db, tenant_id, i) for i in (a, b, c)}
    result = _receive(db, tenant_id, [bg(10000, refs[a], "1"), bg(5000, refs[b], "2"), bg(31000, refs[c], "3")])
    assert result.duplicates == 0 and len(result.payments) == 3
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("paid", 0)
    assert state["invoices"][b][:2] == ("partly_paid", 15000)
    assert state["invoices"][c][:2] == ("paid", 0)
    # a and d are the first customer's: c's surplus has nothing of its own customer's to pay.
    assert state["invoices"][d][:2] == ("unpaid", 5000)
    assert state["deviations"] == [("overpayment", 1000)]
    assert state["balances"]["1930"] == 46000


def test_a_surplus_pays_the_customers_other_open_invoices_first(db: Database) -> None:
    tenant_id, _people, (a, b) = _setup(db, [10000, 5000], customers_n=1)
    _receive(db, tenant_id, [bg(11000, _ocr(db, tenant_id, a), "1")])
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("paid", 0)
    assert state["invoices"][b][:2] == ("partly_paid", 4000)
    assert state["deviations"] == []


def test_a_surplus_with_nothing_left_to_pay_is_credit_and_a_deviation(db: Database) -> None:
    tenant_id, people, (a,) = _setup(db, [10000], customers_n=1)
    _receive(db, tenant_id, [bg(12500, _ocr(db, tenant_id, a), "1")])
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("paid", 0)
    assert state["deviations"] == [("overpayment", 2500)]
    assert state["balances"]["2420"] == -2500
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert payments.credit_balance(session, tenant, people[0]) == 2500


def test_credit_is_spent_on_the_next_invoice(db: Database) -> None:
    tenant_id, people, (a,) = _setup(db, [10000], customers_n=1)
    _receive(db, tenant_id, [bg(12500, _ocr(db, tenant_id, a), "1")])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        line = LineIn(description="December", quantity=Decimal(1), unit_price=4000, vat_rate=0)
        (new,) = invoices.create_and_issue(
            session, tenant, [InvoiceCreate(customer=people[0], lines=[line])], today=DAY, actor="t"
        )
        assert payments.apply_credit(session, tenant, [people[0]], today=DAY, actor="t") == 2500
        invoice = invoices.get(session, tenant, new)
        assert (invoice.state, invoice.remaining) == ("partly_paid", 1500)
        assert payments.credit_balance(session, tenant, people[0]) == 0
    assert _state(db, tenant_id)["balances"]["2420"] == 0


def test_several_references_in_one_payment(db: Database) -> None:
    tenant_id, _, (a, b, c) = _setup(db, [10000, 20000, 30000])
    refs = [_ocr(db, tenant_id, i) for i in (a, b, c)]
    # BGMax: reference code 3, the references in the field and in TK22 records (amounts 0).
    _receive(db, tenant_id, [bg(35000, f"{refs[0]} {refs[1]}", "1", code=3, extra_references=[refs[2]])])
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("paid", 0)
    assert state["invoices"][b][:2] == ("paid", 0)
    assert state["invoices"][c][:2] == ("partly_paid", 25000)


def test_unknown_and_missing_references_go_to_the_queue_as_unidentified_money(db: Database) -> None:
    tenant_id, _, (a,) = _setup(db, [10000])
    _receive(db, tenant_id, [bg(10000, "99999999", "1", code=5), bg(7000, None, "2", code=0, payer_name="Bo Ek")])
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("unpaid", 10000)
    assert state["deviations"] == [("no_reference", 7000), ("unknown_reference", 10000)]
    assert state["balances"]["2420"] == -17000 and state["balances"]["1930"] == 17000


def test_paying_a_paid_invoice_again(db: Database) -> None:
    tenant_id, people, (a,) = _setup(db, [10000], customers_n=1)
    ref = _ocr(db, tenant_id, a)
    _receive(db, tenant_id, [bg(10000, ref, "1")])
    _receive(db, tenant_id, [bg(10000, ref, "2")])
    state = _state(db, tenant_id)
    assert state["deviations"] == [("already_settled", 10000)]
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert payments.credit_balance(session, tenant, people[0]) == 10000


def test_the_same_bank_payment_twice_is_one_payment(db: Database) -> None:
    tenant_id, _, (a,) = _setup(db, [10000])
    ref = _ocr(db, tenant_id, a)
    first = _receive(db, tenant_id, [bg(4000, ref, "SER-1"), bg(4000, ref, "SER-1")])
    again = _receive(db, tenant_id, [bg(4000, ref, "SER-1")])
    assert (len(first.payments), first.duplicates) == (1, 1)
    assert (len(again.payments), again.duplicates) == (0, 1)
    assert _state(db, tenant_id)["invoices"][a][:2] == ("partly_paid", 6000)


def test_a_deduction_takes_from_the_bank_and_is_queued(db: Database) -> None:
    tenant_id, _, (a,) = _setup(db, [10000])
    ref = _ocr(db, tenant_id, a)
    _receive(db, tenant_id, [bg(10000, ref, "1"), Incoming(-500, DAY, "bankgiro", reference=ref, bank_serial="2")])
    state = _state(db, tenant_id)
    assert state["balances"]["1930"] == 9500
    assert state["deviations"] == [("deduction", 500)]


def test_resolving_an_unidentified_payment_by_splitting_it(db: Database) -> None:
    tenant_id, _people, (a, b) = _setup(db, [10000, 20000])
    _receive(db, tenant_id, [bg(25000, "no such", "1", code=1, payer_name="Astrid Lindqvist")])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        (deviation,) = payments.list_deviations(
            session, tenant, limit=10, starting_after=None, state="open", kind=None
        ).items
        payment = payments.get(session, tenant, deviation.payment_id)
        payments.resolve(
            session,
            tenant,
            deviation,
            action="match",
            allocations=[(a, 10000), (b, 15000)],
            customer_id=None,
            amount=None,
            note="split by phone",
            today=DAY,
            actor="staff",
        )
        assert payment.unallocated == 0 and deviation.state == "resolved"
    state = _state(db, tenant_id)
    assert state["invoices"][a][:2] == ("paid", 0) and state["invoices"][b][:2] == ("partly_paid", 5000)
    assert state["balances"]["2420"] == 0


def test_suggestions_rank_the_invoice_number_and_the_amount(db: Database) -> None:
    tenant_id, _people, (_a, b) = _setup(db, [10000, 20000])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        number_b = invoices.get(session, tenant, b).number
    _receive(db, tenant_id, [bg(20000, f"faktura {number_b}", "1", code=0, payer_name="Bo Ek")])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        (deviation,) = payments.list_deviations(
            session, tenant, limit=10, starting_after=None, state=None, kind=None
        ).items
        ranked = payments.suggestions(session, tenant, deviation, payments.get(session, tenant, deviation.payment_id))
        assert ranked[0]["invoice"] == b and ranked[0]["score"] == 1.2  # number + amount + payer's name
        assert len(ranked) == 1
