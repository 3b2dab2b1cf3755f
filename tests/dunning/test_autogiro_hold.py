"""An invoice being debited by autogiro gets no reminder until Bankgirot has answered: a debit
ordered or sent, also one Bankgirot retries (status 9, förnyad täckningskontroll: BGC's autogiro
manual, SWEDISH-RULES.md "Autogiro"), holds the invoice's next step back; a failed debit lets it
go on at the next tick; a debit never answered stops holding it back 14 days after its debit day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from kvitt.autogiro.models import Debit, Mandate
from kvitt.core.db import Database
from kvitt.dunning.models import Reminder
from kvitt.dunning.tick import AUTOGIRO_HOLD_DAYS
from tests.dunning.helpers import add_customers, issue, tenant_with, tick

DUE = date(2026, 3, 31)
FIRST_STEP = DUE + timedelta(days=7)  # the default policy's first reminder


def _debit(db: Database, tenant_id: int, customer_id: int, invoice_id: int, status: str, code: str | None) -> int:
    with db.transaction() as session:
        mandate = Mandate(
            tenant_id=tenant_id,
            customer_id=customer_id,
            payer_number=str(customer_id),
            clearing="5000",
            account="1234567",
            status="active",
        )
        session.add(mandate)
        session.flush()
        debit = Debit(
            tenant_id=tenant_id,
            invoice_id=invoice_id,
            mandate_id=mandate.id,
            payer_number=mandate.payer_number,
            amount=10000,
            reference=str(invoice_id),
            debit_on=DUE,
            order_on=DUE - timedelta(days=1),
            status=status,
            result_code=code,
        )
        session.add(debit)
        session.flush()
        return debit.id


def _reminded(db: Database) -> set[int]:
    with db.read() as session:
        return set(session.scalars(select(Reminder.invoice_id)))


def test_a_debit_in_flight_holds_the_reminder_back_until_it_fails_or_goes_stale(db: Database) -> None:
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 5)
    plain, retrying, failed, ordered, unanswered = issue(
        db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE
    )
    retrying_debit = _debit(db, tenant_id, customers[1], retrying, "sent", "9")  # Bankgirot tries again
    _debit(db, tenant_id, customers[2], failed, "failed", "1")  # insufficient funds: final
    _debit(db, tenant_id, customers[3], ordered, "pending", None)  # not in a file yet
    _debit(db, tenant_id, customers[4], unanswered, "sent", None)

    tick(db, tenant_id, FIRST_STEP)
    assert _reminded(db) == {plain, failed}

    # Bankgirot's final answer for the retried one: no money. The next tick reminds.
    with db.transaction() as session:
        debit = session.get(Debit, retrying_debit)
        assert debit is not None
        debit.status, debit.result_code = "failed", "1"
    tick(db, tenant_id, FIRST_STEP + timedelta(days=1))
    assert _reminded(db) == {plain, failed, retrying}

    # Debits never answered hold the invoices back no longer than AUTOGIRO_HOLD_DAYS after the debit day.
    tick(db, tenant_id, DUE + timedelta(days=AUTOGIRO_HOLD_DAYS))
    assert _reminded(db) == {plain, failed, retrying}
    tick(db, tenant_id, DUE + timedelta(days=AUTOGIRO_HOLD_DAYS + 1))
    assert _reminded(db) == {plain, failed, retrying, ordered, unanswered}


def test_a_tick_on_the_first_day_there_is_does_not_break(api: Any) -> None:
    """The hold's earliest debit day is clamped to the calendar (the OpenAPI fuzz sent 0001-01-01)."""
    answer = api.post("/dunning/run", {"date": "0001-01-01"})
    assert answer.status_code < 500, answer.text
