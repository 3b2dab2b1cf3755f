"""Customers with invoices, payments and timelines written straight to the tables, and the
same customer's facts computed in Python from those rows (independently of the SQL)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from kvitt.core.clock import STOCKHOLM
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.payments.models import Payment
from kvitt.segments.models import CustomerBehaviour

OPEN = ("unpaid", "partly_paid", "overdue", "in_collection")
ISSUED = (*OPEN, "paid", "credited", "written_off")


@dataclass
class Inv:
    state: str = "unpaid"
    total: int = 10000
    remaining: int = 10000
    due: int = 0  # days from today (negative: in the past)
    paid_on: list[int] = field(default_factory=list)  # days from today of each payment event
    went_overdue: bool = False
    reminders: list[int] = field(default_factory=list)  # days from today of each reminder_sent


@dataclass
class Cust:
    type: str = "individual"
    language: str = "sv"
    delivery_method: str = "email"
    city: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_days_ago: int = 100
    invoices: list[Inv] = field(default_factory=list)
    payments: list[tuple[str, int]] = field(default_factory=list)  # (source, days from today)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM)


def clear(session: Session, tenant_id: int) -> None:
    for model in (CustomerBehaviour, InvoiceEvent, Payment, Invoice, Customer):
        session.execute(delete(model).where(model.tenant_id == tenant_id))
    session.flush()


def write(session: Session, tenant_id: int, customers: list[Cust], today: date) -> list[int]:
    """The customers' rows; returns their ids in order."""
    ids = []
    for n, c in enumerate(customers):
        row = Customer(
            tenant_id=tenant_id,
            customer_no=f"S-{n}",
            type=c.type,
            name=f"Kund {n}",
            delivery_method=c.delivery_method,
            language=c.language,
            city=c.city,
            attributes=c.attributes,
            created_at=start_of(today - timedelta(days=c.created_days_ago)) + timedelta(hours=10),
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
        for inv in c.invoices:
            _invoice(session, tenant_id, row.id, inv, today)
        for source, days in c.payments:
            session.add(
                Payment(
                    tenant_id=tenant_id,
                    source=source,
                    amount=100,
                    date=today + timedelta(days=days),
                    customer_id=row.id,
                )
            )
    session.flush()
    return ids


def _invoice(session: Session, tenant_id: int, customer_id: int, inv: Inv, today: date) -> None:
    due = today + timedelta(days=inv.due)
    row = Invoice(
        tenant_id=tenant_id,
        customer_id=customer_id,
        state=inv.state,
        token=secrets.token_urlsafe(24),
        invoice_date=due - timedelta(days=30),
        due_date=due,
        total=inv.total,
        remaining=inv.remaining,
    )
    session.add(row)
    session.flush()
    events = [("payment", {"date": (today + timedelta(days=d)).isoformat(), "amount": 1}, today) for d in inv.paid_on]
    if inv.went_overdue:
        events.append(("overdue", {}, today))
    for d in inv.reminders:
        events.append(("reminder_sent", {}, today + timedelta(days=d)))
    for kind, data, on in events:
        session.add(
            InvoiceEvent(
                tenant_id=tenant_id,
                invoice_id=row.id,
                type=kind,
                actor="test",
                data=data,
                at=start_of(on) + timedelta(hours=12),
            )
        )
    session.flush()


def facts(c: Cust, today: date) -> dict[str, Any]:
    """What the segment fields mean, computed from the test's own data."""
    created = (start_of(today - timedelta(days=c.created_days_ago)) + timedelta(hours=10)).astimezone(STOCKHOLM).date()
    issued = [(i, inv) for i, inv in enumerate(c.invoices) if inv.state in ISSUED]  # index = id order
    out: dict[str, Any] = {
        "type": c.type,
        "language": c.language,
        "delivery_method": c.delivery_method,
        "city": c.city,
        "attributes": c.attributes,
        "tenure_days": (today - created).days,
        "age_years": today.year - created.year - ((today.month, today.day) < (created.month, created.day)),
        "open_balance": sum(inv.remaining for inv in c.invoices if inv.state in OPEN),
        "last_invoice_total": issued[-1][1].total if issued else None,
        "reminders_last_year": sum(
            1 for inv in c.invoices for d in inv.reminders if today + timedelta(days=d) >= today - timedelta(days=365)
        ),
        "payment_method": _last_payment(c),
        "avg_days_late": _avg_days_late(issued, today),
    }
    newest_first = [inv for _, inv in reversed(issued)]
    for n in range(1, 25):
        out[f"late_invoices_last_{n}"] = sum(1 for inv in newest_first[:n] if _late(inv))
    return out


def _late(inv: Inv) -> bool:
    return (inv.state in OPEN and inv.due < 0) or inv.went_overdue or any(d > inv.due for d in inv.paid_on)


def _avg_days_late(issued: list[tuple[int, Inv]], today: date) -> Fraction | None:
    days = []
    for _, inv in issued:
        if not -365 <= inv.due <= 0:
            continue
        if inv.state in OPEN:
            late = -inv.due
        elif inv.state == "paid" and inv.paid_on:
            late = max(inv.paid_on) - inv.due
        else:
            late = 0
        days.append(max(late, 0))
    return Fraction(sum(days), len(days)) if days else None


def _last_payment(c: Cust) -> str | None:
    # latest by date, then by the order written (the id)
    best = None
    for order, (source, days) in enumerate(c.payments):
        if best is None or (days, order) >= (best[0], best[1]):
            best = (days, order, source)
    return best[2] if best else None
