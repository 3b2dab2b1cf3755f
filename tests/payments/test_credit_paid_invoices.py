"""Crediting a paid or partly paid invoice frees the money that paid it to the customer's credit
balance; paid back, the reskontra still balances.

BAS-kontoplanen (bas.se): 1510 Kundfordringar, 1930 Företagskonto, 2420 Förskott från kunder
(the customer's credit balance: money Kvitt holds for them), 30xx sales and 26xx output VAT.
The credit note reverses sales and VAT against 1510 (Mervärdesskattelagen 2023:200 17 kap.: a
credit note names the invoice it corrects); the part of it that the payments had already
settled is moved 1510 <- 2420 (the customer is owed it); the refund pays it out 2420 -> 1930.
Bokföringslagen (1999:1078) 5 kap.: every verifikation balances.

The invariants checked after every step, as docs/architecture.md states them: every entry sums
to zero; each invoice's ``remaining`` is its 1510 postings; ``total == paid + credited +
written_off + remaining``; a customer's 1510 postings are what remains on their invoices and
minus their 2420 postings is their credit balance, which is what their payments still hold
(``unallocated``); the bank (1930) holds what came in less what was paid back.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from stdnum import luhn

from kvitt.core.db import Database
from kvitt.core.errors import InvalidState, ValidationFailed
from kvitt.core.outbox import OutboxJob
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import CreditIn, InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.payments import service as payments
from kvitt.payments.models import Allocation, Deviation, Payment
from kvitt.tenants.models import Tenant
from tests.conftest import make_tenant

DAY = date(2026, 3, 2)
ACTOR = "test"
_serial = itertools.count(500)


def _org_number() -> str:
    body = f"559{next(_serial):06d}"
    return body + luhn.calc_check_digit(body)


def _tenant(db: Database) -> tuple[int, int]:
    tenant_id, _ = make_tenant(
        db, name="Kreditera AB", org_number=_org_number(), bankgiro="5050-1055", round_to_krona=False, invoice_fee=0
    )
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        customer = customers.create(session, tenant, CustomerCreate(customer_no="1", name="Astrid Lindqvist"))
        return tenant_id, customer.id


def _issue(db: Database, tenant_id: int, customer_id: int, lines: list[tuple[int, int]]) -> int:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        made = [
            LineIn(description="Abonnemang", quantity=Decimal(1), unit_price=price, vat_rate=rate)
            for price, rate in lines
        ]
        (invoice_id,) = invoices.create_and_issue(
            session, tenant, [InvoiceCreate(customer=customer_id, lines=made)], today=DAY, actor=ACTOR
        )
        return int(invoice_id)


def _pay(db: Database, tenant_id: int, invoice_id: int, amount: int) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id, for_update=True)
        payments.pay_invoice(session, tenant, invoice, amount, on=DAY, today=DAY, reference=None, actor=ACTOR)


def _credit(db: Database, tenant_id: int, invoice_id: int, data: CreditIn) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id, for_update=True)
        invoices.credit(session, tenant, invoice, data, today=DAY + timedelta(days=3), actor=ACTOR)


def _pay_out_refunds(db: Database, tenant_id: int) -> int:
    """Staff pay back every open ``refund_due`` from the bank and resolve it; returns öre paid out."""
    paid_out = 0
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        due = session.scalars(
            select(Deviation).where(
                Deviation.tenant_id == tenant_id, Deviation.kind == payments.REFUND_DUE, Deviation.state == "open"
            )
        ).all()
        for deviation in due:
            payments.resolve(
                session,
                tenant,
                deviation,
                action="refund",
                allocations=[],
                customer_id=None,
                amount=None,
                note="utbetalt från banken",
                today=DAY + timedelta(days=4),
                actor=ACTOR,
            )
            paid_out += deviation.amount
    return paid_out


def check_reskontra(db: Database, tenant_id: int, customer_id: int, *, came_in: int, paid_out: int) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert ledger.unbalanced_entries(session, tenant_id) == []
        balances = ledger.account_balances(session, tenant_id)
        assert sum(balances.values()) == 0
        bills = session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.kind == "invoice")).all()
        for invoice in bills:
            assert invoice.total == invoice.paid + invoice.credited + invoice.written_off + invoice.remaining
            assert invoice.paid >= 0 and invoice.remaining >= 0
            assert ledger.invoice_receivable(session, tenant, invoice.id) == invoice.remaining
            assert (invoice.state in states.OPEN_STATES) == (invoice.remaining > 0)
            # What paid the invoice is what its payments' allocations still give it.
            given_ = session.scalar(
                select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                    Allocation.invoice_id == invoice.id, Allocation.kind == "invoice"
                )
            )
            taken = session.scalar(
                select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                    Allocation.invoice_id == invoice.id, Allocation.kind == "released"
                )
            )
            assert invoice.paid == int(given_ or 0) - int(taken or 0)
        assert ledger.customer_balance(session, tenant, customer_id) == sum(i.remaining for i in bills)
        held = session.scalar(
            select(func.coalesce(func.sum(Payment.unallocated), 0)).where(Payment.tenant_id == tenant_id)
        )
        assert payments.credit_balance(session, tenant, customer_id) == int(held or 0)
        assert balances.get("2420", 0) == -int(held or 0)
        assert balances.get("1930", 0) == came_in - paid_out
        # The credit notes' sales and VAT reversed exactly what was credited.
        credited = sum(i.credited for i in bills)
        notes = session.scalar(
            select(func.coalesce(func.sum(Invoice.total), 0)).where(
                Invoice.tenant_id == tenant_id, Invoice.kind == "credit_note"
            )
        )
        assert int(notes or 0) == -credited
        revenue = sum(amount for account, amount in balances.items() if account[:2] in ("26", "30", "35", "37"))
        assert revenue == -(sum(i.total for i in bills) - credited)


prices = st.integers(min_value=1, max_value=2_000_000)


@settings(
    max_examples=20,
    deadline=None,
    phases=tuple(p for p in Phase if p is not Phase.shrink),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_reskontra_balances_after_crediting_paid_invoices_and_refunding(db: Database, data: st.DataObject) -> None:
    tenant_id, customer_id = _tenant(db)
    lines = data.draw(st.lists(st.tuples(prices, st.sampled_from([25, 12, 6, 0])), min_size=1, max_size=3))
    invoice_id = _issue(db, tenant_id, customer_id, lines)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        total = invoices.get(session, tenant, invoice_id).total
    came_in = paid_out = 0
    # One to three payments, together at most the total (partly paid or paid).
    for _ in range(data.draw(st.integers(1, 3), label="payments")):
        left = total - came_in
        if left <= 0:
            break
        amount = data.draw(st.integers(1, left), label="payment")
        _pay(db, tenant_id, invoice_id, amount)
        came_in += amount
    check_reskontra(db, tenant_id, customer_id, came_in=came_in, paid_out=paid_out)

    # One or two credits, each at most what can still be credited; refunded or kept.
    for _ in range(data.draw(st.integers(1, 2), label="credits")):
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            invoice = invoices.get(session, tenant, invoice_id)
            remaining, untouched, state = invoice.remaining, invoice.credited == 0, invoice.state
            creditable = remaining + invoice.paid
        if creditable == 0 or state == states.CREDITED:
            break
        refund = data.draw(st.booleans(), label="refund")
        if untouched and data.draw(st.booleans(), label="full"):
            credit_in = CreditIn(mode="full", refund=refund)
        else:
            credit_in = CreditIn(
                mode="amount", amount=data.draw(st.integers(1, creditable), label="credit"), refund=refund
            )
        event(
            "the credit frees paid money"
            if (credit_in.amount or total) > remaining
            else "the credit takes what is left"
        )
        _credit(db, tenant_id, invoice_id, credit_in)
        check_reskontra(db, tenant_id, customer_id, came_in=came_in, paid_out=paid_out)
        paid_out += _pay_out_refunds(db, tenant_id)
        check_reskontra(db, tenant_id, customer_id, came_in=came_in, paid_out=paid_out)


def test_a_fully_paid_invoice_credited_in_full_is_paid_back_and_leaves_nothing_behind(db: Database) -> None:
    """316 kr + 25 % = 395 kr paid by bankgiro; credited in full: 1510 and 3001/2611 reversed, the
    395 kr owed to the customer (2420) until staff pay it out (1930), each step balanced."""
    tenant_id, customer_id = _tenant(db)
    invoice_id = _issue(db, tenant_id, customer_id, [(31600, 25)])
    _pay(db, tenant_id, invoice_id, 39500)
    _credit(db, tenant_id, invoice_id, CreditIn(mode="full", reason="Fel pris"))
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id)
        assert (invoice.state, invoice.paid, invoice.credited, invoice.remaining) == (states.CREDITED, 0, 39500, 0)
        assert payments.credit_balance(session, tenant, customer_id) == 39500
        (deviation,) = session.scalars(select(Deviation).where(Deviation.tenant_id == tenant_id)).all()
        assert (deviation.kind, deviation.amount, deviation.invoice_id) == ("refund_due", 39500, invoice_id)
        # Bankgiro money: a person pays it out; no provider job.
        assert session.scalar(select(OutboxJob.id).where(OutboxJob.kind == payments.REFUND_BY_METHOD_JOB)) is None
        balances = ledger.account_balances(session, tenant_id)
    assert (balances.get("1510", 0), balances["1930"], balances["2420"]) == (0, 39500, -39500)
    assert balances.get("3001", 0) == 0 and balances.get("2611", 0) == 0
    assert _pay_out_refunds(db, tenant_id) == 39500
    check_reskontra(db, tenant_id, customer_id, came_in=39500, paid_out=39500)
    with db.transaction() as session:
        balances = ledger.account_balances(session, tenant_id)
    assert {account: amount for account, amount in balances.items() if amount} == {}


def test_a_partly_paid_invoice_credited_frees_the_newest_payment_first(db: Database) -> None:
    tenant_id, customer_id = _tenant(db)
    invoice_id = _issue(db, tenant_id, customer_id, [(100000, 0)])
    _pay(db, tenant_id, invoice_id, 30000)
    _pay(db, tenant_id, invoice_id, 20000)
    # 50,000 left to pay; a credit of 60,000 takes those and frees 10,000 of the second payment.
    _credit(db, tenant_id, invoice_id, CreditIn(mode="amount", amount=60000))
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id)
        assert (invoice.state, invoice.paid, invoice.credited, invoice.remaining) == (states.PAID, 40000, 60000, 0)
        held = session.execute(select(Payment.amount, Payment.unallocated).order_by(Payment.id)).all()
        assert [tuple(row) for row in held] == [(30000, 0), (20000, 10000)]
    assert states.available_actions("invoice", states.PAID) == ["credit"]
    check_reskontra(db, tenant_id, customer_id, came_in=50000, paid_out=0)
    # The rest is credited too: both payments freed, the invoice credited.
    _credit(db, tenant_id, invoice_id, CreditIn(mode="amount", amount=40000, refund=False))
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice = invoices.get(session, tenant, invoice_id)
        assert (invoice.state, invoice.paid, invoice.credited) == (states.CREDITED, 0, 100000)
        assert payments.credit_balance(session, tenant, customer_id) == 50000
    check_reskontra(db, tenant_id, customer_id, came_in=50000, paid_out=0)
    # Nothing is left to credit; and money promised back (10,000) is not spent on the next
    # invoice, the kept credit (40,000) is.
    with pytest.raises(InvalidState):
        _credit(db, tenant_id, invoice_id, CreditIn(mode="amount", amount=1))
    next_id = _issue(db, tenant_id, customer_id, [(45000, 0)])
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert payments.apply_credit(session, tenant, [customer_id], today=DAY, actor=ACTOR) == 40000
        assert invoices.get(session, tenant, next_id).remaining == 5000
    check_reskontra(db, tenant_id, customer_id, came_in=50000, paid_out=0)
    assert _pay_out_refunds(db, tenant_id) == 10000
    check_reskontra(db, tenant_id, customer_id, came_in=50000, paid_out=10000)


def test_a_paid_invoice_cannot_be_credited_beyond_what_it_was_or_by_what_remains(db: Database) -> None:
    tenant_id, customer_id = _tenant(db)
    invoice_id = _issue(db, tenant_id, customer_id, [(10000, 0)])
    _pay(db, tenant_id, invoice_id, 10000)
    with pytest.raises(ValidationFailed) as too_much:
        _credit(db, tenant_id, invoice_id, CreditIn(mode="amount", amount=10001))
    assert too_much.value.code == "amount_too_large"
    with pytest.raises(ValidationFailed) as nothing:
        _credit(db, tenant_id, invoice_id, CreditIn(mode="remaining"))
    assert nothing.value.code == "nothing_to_credit"
    check_reskontra(db, tenant_id, customer_id, came_in=10000, paid_out=0)
