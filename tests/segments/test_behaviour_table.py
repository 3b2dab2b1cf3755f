"""``customer_behaviour`` kept by the real services and the real worker: invoices issued, marked
overdue, paid late and credited through their services publish ``invoice.`` events; the worker
hands them to the segments subscriber, which computes the touched customers' rows again. The
rows it keeps equal a whole rebuild (whose meaning the Hypothesis property in test_rules_sql.py
pins to the Python evaluation), a count reads the table only on the day it was built for, and
every row and count is the tenant's own."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.invoices import service as invoices
from kvitt.invoices.schemas import CreditIn, InvoiceCreate, LineIn
from kvitt.payments import service as payments
from kvitt.segments import behaviour_table, service
from kvitt.segments.models import BehaviourBuild, CustomerBehaviour
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.delivery.conftest import drain  # the worker until idle: the events' subscribers run

TODAY = date(2026, 12, 6)
LATE = [{"field": "late_invoices_last_3", "op": "gte", "value": 1}]
FIELDS = behaviour_table.COLUMNS[2:]  # a row's facts (after tenant and customer)


@pytest.fixture(autouse=True)
def business_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def customer(api: Api, no: str) -> int:
    response = api.post("/customers", {"customer_no": no, "name": f"Kund {no}", "delivery_method": "letter"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def issue(db: Database, tenant_id: int, customer_id: int, invoiced: int, due: int, kronor: int) -> int:
    """An invoice dated ``invoiced`` days from TODAY, due ``due`` days from TODAY."""
    day = TODAY + timedelta(days=invoiced)
    data = InvoiceCreate(
        customer=customer_id,
        lines=[LineIn(description="Abonnemang", quantity=Decimal(1), unit_price=kronor * 100, vat_rate=0)],
        invoice_date=day,
        due_date=TODAY + timedelta(days=due),
        invoice_fee=False,
    )
    with db.transaction() as session:
        (invoice_id,) = invoices.create_and_issue(
            session, session.get_one(Tenant, tenant_id), [data], today=day, actor="test"
        )
    return int(invoice_id)


def rows(db: Database, tenant_id: int) -> dict[int, dict[str, Any]]:
    with db.read() as session:
        found = session.scalars(select(CustomerBehaviour).where(CustomerBehaviour.tenant_id == tenant_id))
        return {row.customer_id: {name: getattr(row, name) for name in FIELDS} for row in found}


def rebuild(db: Database, tenant_id: int) -> None:
    with db.transaction() as session:
        service.rebuild_behaviour(session, session.get_one(Tenant, tenant_id))


def count(db: Database, tenant_id: int, conditions: list[dict[str, Any]]) -> tuple[int, bool]:
    """The segment's count as the API makes it, and whether its behaviour fields read the
    behaviour table (all of them: True; on a day the table was not built for, only its
    ``DATELESS`` facts do)."""
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        checked = service.checked("all", conditions)
        table = service.reads_table(session, tenant_id, checked, TODAY)
        fields = {c["field"] for c in checked}
        reads = table is True or (isinstance(table, frozenset) and fields <= table)
        return service.count_and_examples(session, tenant, "all", checked).count, reads


def built_yesterday(db: Database, tenant_id: int) -> None:
    with db.transaction() as session:
        session.execute(
            update(BehaviourBuild).where(BehaviourBuild.tenant_id == tenant_id).values(built_on=TODAY - timedelta(1))
        )


def test_events_keep_the_rows_equal_to_a_rebuild(api: Api, db: Database) -> None:
    tenant_id = api.tenant_id
    late_payer, on_time, quiet = customer(api, "B-1"), customer(api, "B-2"), customer(api, "B-3")
    rebuild(db, tenant_id)  # the table exists before the events: the subscriber keeps it
    assert count(db, tenant_id, LATE) == (0, True)

    issue(db, tenant_id, late_payer, invoiced=-40, due=-10, kronor=300)
    issue(db, tenant_id, late_payer, invoiced=-5, due=25, kronor=200)
    paid_late = issue(db, tenant_id, on_time, invoiced=-60, due=-30, kronor=100)
    credited = issue(db, tenant_id, on_time, invoiced=-2, due=28, kronor=50)
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        invoices.mark_overdue(session, tenant, today=TODAY, actor="test")
        late = payments.Incoming(amount=10000, date=TODAY - timedelta(days=20), source="manual", invoice_id=paid_late)
        payments.receive(session, tenant, [late], file_id=None, today=TODAY, actor="test")
        invoice = invoices.get(session, tenant, credited)
        invoices.credit(session, tenant, invoice, CreditIn(mode="remaining"), today=TODAY, actor="test")
    drain(db)

    kept = rows(db, tenant_id)
    # The overdue invoice is the older of two: bit 1 of the mask; 10 days late so far, the one
    # invoice due in the window. The late payment: 10 days, by hand.
    assert kept[late_payer] | {"computed_on": TODAY} == {
        "open_balance": 50000,
        "last_invoice_total": 20000,
        "late_mask": 0b10,
        "late_days_sum": 10,
        "late_days_count": 1,
        "reminders_last_year": 0,
        "payment_method": None,
        "computed_on": TODAY,
    }
    assert kept[on_time]["late_mask"] == 0b10 and kept[on_time]["open_balance"] == 0
    assert kept[on_time]["payment_method"] == "manual"
    assert kept[quiet]["open_balance"] == 0 and kept[quiet]["last_invoice_total"] is None
    rebuild(db, tenant_id)
    assert rows(db, tenant_id) == kept
    assert count(db, tenant_id, LATE) == (2, True)


def test_a_table_built_for_another_day_is_not_read(api: Api, db: Database) -> None:
    tenant_id = api.tenant_id
    late_payer = customer(api, "C-1")
    customer(api, "C-2")
    issue(db, tenant_id, late_payer, invoiced=-40, due=-10, kronor=300)
    rebuild(db, tenant_id)
    with db.transaction() as session:  # as if built yesterday: the invoice was not late then
        session.execute(
            update(BehaviourBuild).where(BehaviourBuild.tenant_id == tenant_id).values(built_on=TODAY - timedelta(1))
        )
        session.execute(update(CustomerBehaviour).where(CustomerBehaviour.tenant_id == tenant_id).values(late_mask=0))
    assert count(db, tenant_id, LATE) == (1, False)  # grouped from the invoices: still exact


def test_rows_and_counts_are_the_tenants_own(api: Api, api_b: Api, db: Database) -> None:
    late_payer = customer(api, "D-1")
    issue(db, api.tenant_id, late_payer, invoiced=-40, due=-10, kronor=300)
    b_customer = customer(api_b, "D-1")
    rebuild(db, api.tenant_id)
    rebuild(db, api_b.tenant_id)
    assert set(rows(db, api.tenant_id)) == {late_payer}
    assert set(rows(db, api_b.tenant_id)) == {b_customer}
    assert count(db, api.tenant_id, LATE) == (1, True)
    assert count(db, api_b.tenant_id, LATE) == (0, True)
    # B's customers without late invoices, counted from B's rows only (A's late row is not B's)
    assert count(db, api_b.tenant_id, [{"field": "late_invoices_last_3", "op": "eq", "value": 0}]) == (1, True)


def test_the_rebuild_command_builds_the_tenants_table_and_names_a_bad_tenant(
    api: Api, db: Database, cli_env: str
) -> None:
    from typer.testing import CliRunner

    from kvitt.cli import app

    late_payer = customer(api, "E-1")
    issue(db, api.tenant_id, late_payer, invoiced=-40, due=-10, kronor=300)
    runner = CliRunner()
    done = runner.invoke(app, ["segments", "rebuild-behaviour", "--tenant", str(api.tenant_id)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"{TODAY.isoformat()}: behaviour of 1 customers")
    assert rows(db, api.tenant_id)[late_payer]["open_balance"] == 30000
    assert count(db, api.tenant_id, LATE) == (1, True)
    refused = runner.invoke(app, ["segments", "rebuild-behaviour", "--tenant", "999999"])
    assert refused.exit_code == 1 and "no tenant 999999" in refused.output and "Traceback" not in refused.output


def test_a_payment_that_reaches_no_invoice_changes_payment_method_at_once(api: Api, db: Database) -> None:
    """Held for the customer (no open invoice), or a deviation's money given to a customer: no
    invoice event for the subscriber, so the payments service keeps the row in the payment's own
    transaction (no worker runs here), equal to a rebuild."""
    tenant_id = api.tenant_id
    held, assigned, other = customer(api, "E-1"), customer(api, "E-2"), customer(api, "E-3")
    rebuild(db, tenant_id)
    manual = [{"field": "payment_method", "op": "eq", "value": "manual"}]
    bankgiro = [{"field": "payment_method", "op": "eq", "value": "bankgiro"}]
    assert count(db, tenant_id, manual) == (0, True)
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        money = payments.Incoming(amount=5000, date=TODAY, source="manual", customer_id=held)
        unknown = payments.Incoming(amount=7000, date=TODAY, source="bankgiro", reference="999", bank_serial="S1")
        payments.receive(session, tenant, [money, unknown], file_id=None, today=TODAY, actor="test")
    assert rows(db, tenant_id)[held]["payment_method"] == "manual"
    assert count(db, tenant_id, manual) == (1, True) and count(db, tenant_id, bankgiro) == (0, True)

    with db.transaction() as session:  # the unidentified bankgiro payment belongs to E-2
        tenant = session.get_one(Tenant, tenant_id)
        (deviation,) = payments.list_deviations(
            session, tenant, state="open", kind=None, limit=10, starting_after=None
        ).items
        payments.resolve(
            session,
            tenant,
            deviation,
            action="assign",
            allocations=[],
            customer_id=assigned,
            amount=None,
            note=None,
            today=TODAY,
            actor="test",
        )
    kept = rows(db, tenant_id)
    assert kept[assigned]["payment_method"] == "bankgiro" and kept[other]["payment_method"] is None
    assert count(db, tenant_id, bankgiro) == (1, True)
    rebuild(db, tenant_id)
    assert rows(db, tenant_id) == kept


def test_on_another_day_the_dateless_facts_read_the_table_and_the_rest_group(api: Api, db: Database) -> None:
    """Built yesterday: what is left to pay, the newest total and how the customer paid are kept
    by events whatever the day, so they read the table; lateness moves with the date, so it groups
    the invoices (``test_a_table_built_for_another_day_is_not_read``)."""
    tenant_id = api.tenant_id
    owing, clear = customer(api, "F-1"), customer(api, "F-2")
    issue(db, tenant_id, owing, invoiced=-5, due=25, kronor=300)
    rebuild(db, tenant_id)
    built_yesterday(db, tenant_id)
    owes = [{"field": "open_balance", "op": "gt", "value": 0}]
    assert count(db, tenant_id, owes) == (1, True)
    assert count(db, tenant_id, LATE) == (0, False)
    with db.transaction() as session:  # the count follows the table (which events keep), not the invoices
        session.execute(update(CustomerBehaviour).where(CustomerBehaviour.customer_id == clear).values(open_balance=1))
    assert count(db, tenant_id, owes) == (2, True)
    with db.transaction() as session:  # never built: every fact groups the invoices
        session.execute(delete(BehaviourBuild).where(BehaviourBuild.tenant_id == tenant_id))
    assert count(db, tenant_id, owes) == (1, False)
