"""The demo tenant: every state, valid Swedish data, a balanced ledger, reproducible."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from stdnum.se import orgnr, personnummer
from typer.testing import CliRunner

from kvitt.cli import app
from kvitt.core import identity
from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.customers.models import Customer
from kvitt.demo import DEMO_TENANT, demo_invoice_token, seed_demo
from kvitt.formats import ocr
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.ledger import service as ledger
from kvitt.payments.models import Payment
from kvitt.tenants.models import Tenant

TODAY = date(2026, 11, 25)
# in_collection is left out: no service action leads there before dunning exists.
PROMISED_STATES = {s for s in states.STATES if s != states.IN_COLLECTION}


@pytest.fixture
def seeded(db: Database) -> dict[str, Any]:
    with db.transaction() as session:
        return seed_demo(session, customers=60, seed=7, today=TODAY)


def _customers(db: Database, tenant_id: int) -> list[Customer]:
    with db.transaction() as session:
        return list(session.scalars(select(Customer).where(Customer.tenant_id == tenant_id).order_by(Customer.id)))


def _invoices(db: Database, tenant_id: int) -> list[Invoice]:
    with db.transaction() as session:
        return list(session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id).order_by(Invoice.id)))


def test_result_is_json_and_counts_agree(db: Database, seeded: dict[str, Any]) -> None:
    assert json.loads(json.dumps(seeded)) == seeded
    assert seeded["customers"] == 60
    invoices = _invoices(db, seeded["tenant_id"])
    assert seeded["invoices"] == sum(inv.kind == "invoice" for inv in invoices)
    assert seeded["credit_notes"] == sum(inv.kind == "credit_note" for inv in invoices) > 0
    assert seeded["invoices"] >= 150  # about three per customer


def test_every_promised_state_appears(db: Database, seeded: dict[str, Any]) -> None:
    invoices = _invoices(db, seeded["tenant_id"])
    assert {inv.state for inv in invoices if inv.kind == "invoice"} == PROMISED_STATES
    assert set(seeded["states"]) == PROMISED_STATES
    assert all(inv.state == states.PAID for inv in invoices if inv.kind == "credit_note")


def test_states_agree_with_dates_and_amounts(db: Database, seeded: dict[str, Any]) -> None:
    for inv in _invoices(db, seeded["tenant_id"]):
        if inv.state == states.DRAFT:
            assert inv.number is None and inv.invoice_date is None
            continue
        assert inv.invoice_date is not None and inv.invoice_date <= TODAY
        if inv.kind == "credit_note":
            assert inv.total < 0 and inv.credited_invoice_id is not None
            continue
        assert inv.ocr is not None and ocr.is_valid(inv.ocr)
        assert inv.remaining == inv.total - inv.paid - inv.credited - inv.written_off
        assert inv.due_date is not None
        if inv.state == states.OVERDUE:
            assert inv.due_date < TODAY and inv.remaining > 0
        if inv.state in (states.UNPAID, states.PARTLY_PAID):
            assert inv.due_date >= TODAY
        if inv.state == states.PARTLY_PAID:
            assert 0 < inv.paid < inv.total
        if inv.state in (states.PAID, states.CREDITED, states.WRITTEN_OFF):
            assert inv.remaining == 0


def test_numbers_are_gap_free_and_in_date_order(db: Database, seeded: dict[str, Any]) -> None:
    issued = sorted((inv for inv in _invoices(db, seeded["tenant_id"]) if inv.number), key=lambda inv: inv.number or 0)
    assert [inv.number for inv in issued] == list(range(1, len(issued) + 1))
    dates = [inv.invoice_date for inv in issued]
    assert dates == sorted(dates)  # type: ignore[type-var]


def test_customers_have_valid_swedish_data(db: Database, seeded: dict[str, Any]) -> None:
    customers = _customers(db, seeded["tenant_id"])
    assert len(customers) == 60
    kinds = {c.type for c in customers}
    assert kinds == {"individual", "company"}
    for customer in customers:
        assert customer.id_number is not None
        if customer.type == "individual":
            assert personnummer.is_valid(customer.id_number)
            assert identity.personal_number(customer.id_number) == customer.id_number
        else:
            assert orgnr.is_valid(customer.id_number) and int(customer.id_number[2]) >= 2
        assert customer.postal_code is not None and len(customer.postal_code) == 6
        assert customer.postal_code[3] == " " and customer.postal_code.replace(" ", "").isdigit()
        assert customer.address_line1 and customer.city
        assert customer.phone is None or (customer.phone[:-2] == "+467017406" and int(customer.phone[-2:]) >= 6)
        assert customer.email is None or customer.email.rsplit("@")[1].endswith(
            ("example.com", "example.net", "example.org")
        )
        assert customer.attributes["segment"] in ("consumer", "business", "vip")
        assert customer.language in ("sv", "en")
        if customer.delivery_method == "email":
            assert customer.email
        if customer.delivery_method == "sms":
            assert customer.phone


def test_tenant_is_valid_and_marked_as_test(db: Database, seeded: dict[str, Any]) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, seeded["tenant_id"])
        assert tenant is not None
        assert tenant.is_test and tenant.invoice_fee == 2900
        assert orgnr.is_valid(tenant.org_number) and tenant.org_number == DEMO_TENANT["org_number"]
        assert identity.bankgiro_number(tenant.bankgiro or "") == tenant.bankgiro
        assert tenant.swish_number and tenant.swish_number.startswith("123")


def test_ledger_balances_and_agrees_with_every_invoice(db: Database, seeded: dict[str, Any]) -> None:
    tenant_id = seeded["tenant_id"]
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert ledger.unbalanced_entries(session, tenant_id) == []
        assert sum(ledger.account_balances(session, tenant_id).values()) == 0
        invoices = list(session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id)))
        for inv in invoices:
            if inv.kind == "invoice":
                assert ledger.invoice_receivable(session, tenant, inv.id) == inv.remaining, inv.id
        open_total = sum(inv.remaining for inv in invoices if inv.kind == "invoice")
        assert ledger.account_balances(session, tenant_id)["1510"] == open_total


def test_demo_invoice_token_names_an_open_invoice(db: Database, seeded: dict[str, Any]) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, seeded["tenant_id"])
        assert tenant is not None
        token = demo_invoice_token(session, tenant)
        invoice = session.scalar(select(Invoice).where(Invoice.token == token))
        assert invoice is not None and invoice.state in states.OPEN_STATES and invoice.kind == "invoice"


def _fingerprint_of_seed(db: Database, seed: int) -> list[tuple[Any, ...]]:
    """Seed, read back what identifies the data, and roll back (the org number is unique)."""
    session = db.sessions()
    try:
        tenant_id = seed_demo(session, customers=25, seed=seed, today=TODAY)["tenant_id"]
        customers = session.execute(
            select(Customer.customer_no, Customer.name, Customer.id_number, Customer.email, Customer.city)
            .where(Customer.tenant_id == tenant_id)
            .order_by(Customer.customer_no)
        )
        invoices = session.execute(
            select(Invoice.number, Invoice.state, Invoice.invoice_date, Invoice.total, Invoice.paid)
            .where(Invoice.tenant_id == tenant_id, Invoice.number.is_not(None))
            .order_by(Invoice.number)
        )
        return [tuple(row) for row in customers] + [tuple(row) for row in invoices]
    finally:
        session.rollback()
        session.close()


def test_the_same_seed_gives_the_same_data(db: Database) -> None:
    first = _fingerprint_of_seed(db, 11)
    assert _fingerprint_of_seed(db, 11) == first
    assert _fingerprint_of_seed(db, 12)[:25] != first[:25]


def test_cli_demo_prints_json(database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # ``db``: the database is emptied afterwards (on PostgreSQL it is shared by the next tests).
    monkeypatch.setenv("KVITT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "--customers", "30", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["customers"] == 30 and data["invoices"] > 60
    assert data["api_key"].startswith("kv_live_")


def test_every_customer_has_a_subscription_billed_from_next_month_once(db: Database, seeded: dict[str, Any]) -> None:
    from kvitt.billing import service as billing
    from kvitt.subscriptions.models import Subscription

    tenant_id = seeded["tenant_id"]
    assert seeded["subscriptions"] == seeded["customers"] == 60
    with db.transaction() as session:
        rows = session.execute(select(Subscription.customer_id, Subscription.start_date)).all()
        starts = {customer_id: start for customer_id, start in rows}
        drafted = set(
            session.scalars(select(Invoice.customer_id).where(Invoice.tenant_id == tenant_id, Invoice.state == "draft"))
        )
    assert len(starts) == 60 and drafted
    december, january = date(2026, 12, 1), date(2027, 1, 1)
    # Next month's invoice is already drafted for a few: their subscription starts the month after.
    assert {c for c, start in starts.items() if start == january} == drafted
    assert {c for c, start in starts.items() if start == december} == set(starts) - drafted

    before = {inv.id for inv in _invoices(db, tenant_id)}
    billing.run_in_process(db, tenant_id, december, actor="test")
    billed = [inv for inv in _invoices(db, tenant_id) if inv.id not in before]
    assert sorted(inv.customer_id for inv in billed) == sorted(set(starts) - drafted)
    assert all(inv.state == states.UNPAID and inv.invoice_date == december and inv.total > 0 for inv in billed)
    billing.run_in_process(db, tenant_id, december, actor="test")  # again: nothing more
    assert len(_invoices(db, tenant_id)) == len(before) + len(billed)


def test_past_payments_arrive_in_bank_files_by_the_payers_channel(db: Database, seeded: dict[str, Any]) -> None:
    """As a real issuer's do: BGMax files read by the import, each payment with its BGMax
    channel (TK20 position 57: 1 internet bank, 2 supplier payment, 3 paper slip; Bankgirot's
    BGMax manual), so that the Översikt's digital payment share is not the demo's accident."""
    with db.transaction() as session:
        rows = session.execute(
            select(Payment.source, Payment.file_id, Payment.details, Customer.type, Customer.delivery_method)
            .join(Customer, Customer.id == Payment.customer_id)
            .where(Payment.tenant_id == seeded["tenant_id"], Payment.date < TODAY)  # today's file: its own mix
        ).all()
    assert len(rows) > 100
    assert all(source == "bankgiro" and file_id is not None for source, file_id, *_ in rows)
    channels = {(kind, delivery, details.get("channel")) for _, _, details, kind, delivery in rows}
    assert {channel for kind, _, channel in channels if kind == "company"} == {2}
    assert {channel for kind, delivery, channel in channels if kind == "individual" and delivery != "letter"} == {1}
    assert {channel for kind, delivery, channel in channels if kind == "individual" and delivery == "letter"} == {1, 3}
