"""Done when: a simulated year of 1,000 customers produces exactly what the policies say.

Some customers pay on time, some late, some in two parts, some never. Every day: the payments
of that day arrive (before the tick, as a bank file would), then the overdue sweep and the
dunning tick run for that date. At the end, the reminders (level, day, fee, interest), the
collection hand-overs and the ledger are compared with an independent model written here: its
own day loop, its own interest arithmetic with ``fractions.Fraction`` (Räntelagen 6 §: the
reference rate of each day's half-year + 8 percentage points, day by day on the balance, /365,
the sum rounded half up to öre), and the fee rules (Lag 1981:739 2 § / förordning 1981:1057:
60 kr only if agreed; 4 a §: 450 kr förseningsersättning for companies at collection).
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.dunning import service
from kvitt.dunning.models import CollectionCase, Reminder
from kvitt.dunning.schemas import PolicyCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.ledger import service as ledger
from kvitt.ledger.models import JournalLine
from kvitt.payments import service as payments
from kvitt.payments.service import Incoming
from tests.dunning.helpers import load, tenant_with, tick

CUSTOMERS = int(os.environ.get("KVITT_YEAR_CUSTOMERS", "1000"))
START, END = date(2026, 1, 1), date(2026, 12, 31)
# (invoice date, due date): the third is due on 25 June, so its interest runs over 1 July.
BILLING = [(date(2026, 1, 5), date(2026, 2, 4)), (date(2026, 3, 27), date(2026, 4, 26)),
           (date(2026, 5, 26), date(2026, 6, 25)), (date(2026, 9, 1), date(2026, 10, 1))]  # fmt: skip
# Reference rates as the test sets them (2026-07-01 is made up for the test: a half-year change).
RATES = {date(2026, 1, 1): 200, date(2026, 7, 1): 150}
MARGIN = 800
FEE = 6000

VIP_STEPS = [{"days": 14, "after": "due", "fee": 0, "interest": False}]
COMPANY_STEPS = [
    {"days": 10, "after": "due", "fee": FEE, "interest": True},
    {"days": 14, "after": "previous", "fee": FEE, "interest": True},
    {"days": 10, "after": "previous", "action": "collection", "fee": 18000, "interest": True},
]
DEFAULT_STEPS = [  # the default policy; fee and interest come from the tenant (60 kr, on)
    {"days": 7, "after": "due", "fee": None, "interest": None},
    {"days": 14, "after": "previous", "fee": None, "interest": None},
]


@dataclass
class Customer:
    id: int
    kind: str  # company | vip | individual
    agreed: bool
    behaviour: str  # on_time | late | partial | never
    late_days: int


@dataclass
class Expected:
    reminders: list[tuple[int, int, date, str, int, int]] = field(default_factory=list)
    collections: set[int] = field(default_factory=set)


def rate_on(day: date) -> int:
    return RATES[max(start for start in RATES if start <= day)]


def model_interest(balance_on: Any, after: date, through: date) -> int:
    total = Fraction(0)
    day = after + timedelta(days=1)
    while day <= through:
        balance = balance_on(day)
        if balance > 0:
            total += Fraction(balance * (rate_on(day) + MARGIN), 10000 * 365)
        day += timedelta(days=1)
    return int(total + Fraction(1, 2)) if total > 0 else 0  # half up, once


def model(customer: Customer, invoice_id: int, amount: int, due: date, payments_of: list[tuple[date, int]]) -> Expected:
    steps = {"vip": VIP_STEPS, "company": COMPANY_STEPS, "individual": DEFAULT_STEPS}[customer.kind]
    out = Expected()

    def balance_on(day: date) -> int:
        return amount - sum(paid for on, paid in payments_of if on <= day)

    level, last_on, interest_to = 0, None, None
    day = due + timedelta(days=1)
    while day <= END and level < len(steps):
        step = steps[level]
        since = due if level == 0 or step["after"] == "due" else last_on
        assert since is not None
        if balance_on(day) > 0 and day >= since + timedelta(days=step["days"]):
            collection = step.get("action") == "collection"
            wants_interest = step["interest"] if step["interest"] is not None else True
            interest = model_interest(balance_on, max(due, interest_to or due), day) if wants_interest else 0
            if collection:
                fee = 45000 if customer.kind == "company" else 18000
            else:
                fee = (step["fee"] if step["fee"] is not None else FEE) if customer.agreed else 0
            level += 1
            out.reminders.append((invoice_id, level, day, "collection" if collection else "reminder", fee, interest))
            last_on = day
            if interest:
                interest_to = day
            if collection:
                out.collections.add(invoice_id)
                break
        if balance_on(day) <= 0:
            break
        day += timedelta(days=1)
    return out


def test_a_simulated_year(db: Database) -> None:
    rng = random.Random(1975635)
    tenant_id = tenant_with(db, reminder_fee=FEE, reminder_fee_agreed=False, late_interest=True)
    with db.transaction() as session:
        for valid_from, rate in RATES.items():
            service.set_reference_rate(session, valid_from, rate, "test")
        tenant = load(session, tenant_id)
        from kvitt.dunning import policies

        policies.create(session, tenant, PolicyCreate.model_validate(
            {"name": "VIP", "priority": 10, "rules": [{"field": "attributes.segment", "op": "eq", "value": "vip"}],
             "steps": VIP_STEPS}))  # fmt: skip
        policies.create(session, tenant, PolicyCreate.model_validate(
            {"name": "Företag", "priority": 20, "rules": [{"field": "type", "op": "eq", "value": "company"}],
             "steps": COMPANY_STEPS}))  # fmt: skip

    people: list[Customer] = []
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        for index in range(CUSTOMERS):
            kind = "company" if index % 10 == 0 else "vip" if index % 10 == 1 else "individual"
            agreed = kind == "company" or index % 3 == 0
            behaviour = rng.choices(["on_time", "late", "partial", "never"], weights=[50, 25, 10, 15])[0]
            attributes: dict[str, Any] = {"reminder_fee_agreed": agreed}
            if kind == "vip":
                attributes["segment"] = "vip"
            data = CustomerCreate(
                customer_no=f"C{index}",
                name=f"Kund {index}",
                type="company" if kind == "company" else "individual",
                attributes=attributes,
            )
            customer_id = customers.create(session, tenant, data).id
            people.append(Customer(customer_id, kind, agreed, behaviour, rng.randint(1, 45)))

    # Who pays what when (principal only; a late or final payment also covers the charges then open).
    schedule: dict[date, list[tuple[int, int, str]]] = defaultdict(list)  # day → (invoice, amount, "part"|"all")
    principal_payments: dict[int, list[tuple[date, int]]] = defaultdict(list)
    facts: list[tuple[Customer, int, int, date]] = []
    by_invoice_date: dict[date, list[tuple[Customer, int]]] = defaultdict(list)
    for invoice_date, _due in BILLING:
        for person in people:
            # whole kronor: the tenant rounds invoice totals to kronor (öresavrundning)
            by_invoice_date[invoice_date].append((person, rng.randrange(100, 2000) * 100))

    day = START
    while day <= END:
        for invoice_date, due in BILLING:
            if day == invoice_date:
                batch = by_invoice_date[invoice_date]
                ids = _issue_batch(db, tenant_id, batch, day, due)
                for (person, amount), invoice_id in zip(batch, ids, strict=True):
                    facts.append((person, invoice_id, amount, due))
                    if person.behaviour == "on_time":
                        schedule[due].append((invoice_id, amount, "all"))
                        principal_payments[invoice_id].append((due, amount))
                    elif person.behaviour == "late":
                        schedule[due + timedelta(days=person.late_days)].append((invoice_id, amount, "all"))
                        principal_payments[invoice_id].append((due + timedelta(days=person.late_days), amount))
                    elif person.behaviour == "partial":
                        half = amount // 2
                        schedule[due + timedelta(days=5)].append((invoice_id, half, "part"))
                        schedule[due + timedelta(days=40)].append((invoice_id, amount - half, "all"))
                        principal_payments[invoice_id] += [
                            (due + timedelta(days=5), half), (due + timedelta(days=40), amount - half)
                        ]  # fmt: skip
        if schedule.get(day):
            _pay(db, tenant_id, schedule[day], day)
        tick(db, tenant_id, day)
        day += timedelta(days=1)

    expected = Expected()
    for person, invoice_id, amount, due in facts:
        one = model(person, invoice_id, amount, due, principal_payments[invoice_id])
        expected.reminders += one.reminders
        expected.collections |= one.collections

    with db.transaction() as session:
        tenant = load(session, tenant_id)
        got = sorted(
            (r.invoice_id, r.level, r.sent_on, r.action, r.fee, r.interest) for r in session.scalars(select(Reminder))
        )
        want = sorted(expected.reminders)
        assert got == want
        cases = set(session.scalars(select(CollectionCase.invoice_id)))
        assert cases == expected.collections
        # the policy mix really happened: every kind of step, fees and interest both ways
        assert {r[3] for r in got} == {"reminder", "collection"} and any(r[4] == 0 for r in got)
        assert any(r[5] > 0 for r in got) and len(cases) > 10
        # the books: balanced, every invoice's remaining is its receivable, income = what was charged
        assert ledger.unbalanced_entries(session, tenant.id) == []
        balances = ledger.account_balances(session, tenant.id)
        assert -balances.get("3990", 0) == sum(r[4] for r in got)
        assert -balances.get("8313", 0) == sum(r[5] for r in got)
        receivable = dict(
            session.execute(
                select(JournalLine.invoice_id, func.sum(JournalLine.amount))
                .where(JournalLine.tenant_id == tenant.id, JournalLine.account == "1510")
                .group_by(JournalLine.invoice_id)
            ).all()
        )
        remaining = dict(
            session.execute(select(Invoice.id, Invoice.remaining).where(Invoice.tenant_id == tenant.id)).all()
        )
        assert {k: v for k, v in remaining.items() if v} == {k: int(v) for k, v in receivable.items() if v}
        # those who paid everything late also paid the fees and interest their reminders asked
        late = {invoice_id for person, invoice_id, _, _ in facts if person.behaviour == "late"}
        charged = session.execute(
            select(Reminder.invoice_id, Invoice.remaining).join(Invoice, Invoice.id == Reminder.charge_invoice_id)
        ).all()
        assert any(invoice_id in late for invoice_id, _ in charged)
        assert all(left == 0 for invoice_id, left in charged if invoice_id in late)


def _issue_batch(db: Database, tenant_id: int, batch: list[tuple[Customer, int]], day: date, due: date) -> list[int]:
    from decimal import Decimal

    from kvitt.invoices.schemas import InvoiceCreate, LineIn

    with db.transaction() as session:
        tenant = load(session, tenant_id)
        inputs = [
            InvoiceCreate(
                customer=person.id,
                lines=[LineIn(description="Medlemsavgift", quantity=Decimal(1), unit_price=amount, vat_rate=0)],
                invoice_date=day,
                due_date=due,
                invoice_fee=False,
            )
            for person, amount in batch
        ]
        return invoices.create_and_issue(session, tenant, inputs, today=day, actor="test")


def _pay(db: Database, tenant_id: int, due_today: list[tuple[int, int, str]], day: date) -> None:
    """One bank file's worth: each payment references its invoice's OCR; a final payment covers
    what is left of the invoice and the charge invoices its reminders issued."""
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        by_id = {i.id: i for i in invoices.get_many(session, tenant, [i for i, _, _ in due_today])}
        open_charges: dict[int, int] = defaultdict(int)
        for invoice_id, left in session.execute(
            select(Reminder.invoice_id, Invoice.remaining)
            .join(Invoice, Invoice.id == Reminder.charge_invoice_id)
            .where(Reminder.invoice_id.in_(list(by_id)))
        ):
            open_charges[invoice_id] += left
        incoming = []
        for invoice_id, amount, what in due_today:
            invoice = by_id[invoice_id]
            if what == "all":
                amount = invoice.remaining + open_charges[invoice_id]
            incoming.append(Incoming(amount, day, "manual", reference=invoice.ocr))
        payments.receive(session, tenant, incoming, file_id=None, today=day, actor="test")
