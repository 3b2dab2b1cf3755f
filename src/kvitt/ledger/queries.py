"""Read-only queries over the journal for exports and statements; every one scoped to a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import date as Day  # CustomerPostings has a field named date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kvitt.ledger.models import JournalEntry, JournalLine


def entries_between(session: Session, tenant_id: int, date_from: date, date_to: date) -> list[JournalEntry]:
    """The tenant's journal entries dated ``date_from``..``date_to`` (both included), by date then id."""
    return list(
        session.scalars(
            select(JournalEntry)
            .where(JournalEntry.tenant_id == tenant_id, JournalEntry.date >= date_from, JournalEntry.date <= date_to)
            .order_by(JournalEntry.date, JournalEntry.id)
        )
    )


def lines_between(session: Session, tenant_id: int, date_from: date, date_to: date) -> list[tuple[int, str, int]]:
    """``(entry_id, account, amount)`` of every line of those entries, in posting order."""
    rows = session.execute(
        select(JournalLine.entry_id, JournalLine.account, JournalLine.amount)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalLine.tenant_id == tenant_id,
            JournalEntry.tenant_id == tenant_id,
            JournalEntry.date >= date_from,
            JournalEntry.date <= date_to,
        )
        .order_by(JournalLine.entry_id, JournalLine.id)
    )
    return [(entry_id, account, amount) for entry_id, account, amount in rows]


@dataclass(frozen=True)
class CustomerPostings:
    """What one journal entry did to one customer: its postings on receivables and on advances."""

    date: Day
    entry_id: int
    kind: str
    text: str
    invoice_id: int | None
    receivable: int  # the sum of the customer's receivables postings (debit positive: owes more)
    advances: int  # the sum of the customer's advances postings (credit negative: their credit grows)


def customer_postings(
    session: Session,
    tenant_id: int,
    customer_id: int,
    *,
    receivables: str,
    advances: str,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[CustomerPostings]:
    """Every entry that posted to the customer's receivables or advances, by date then entry id."""
    receivable = func.sum(case((JournalLine.account == receivables, JournalLine.amount), else_=0))
    advance = func.sum(case((JournalLine.account == advances, JournalLine.amount), else_=0))
    query = (
        select(
            JournalEntry.date,
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.text,
            JournalEntry.invoice_id,
            receivable,
            advance,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalLine.tenant_id == tenant_id,
            JournalEntry.tenant_id == tenant_id,
            JournalLine.customer_id == customer_id,
            JournalLine.account.in_((receivables, advances)),
        )
        .group_by(JournalEntry.date, JournalEntry.id, JournalEntry.kind, JournalEntry.text, JournalEntry.invoice_id)
        .order_by(JournalEntry.date, JournalEntry.id)
    )
    if date_from is not None:
        query = query.where(JournalEntry.date >= date_from)
    if date_to is not None:
        query = query.where(JournalEntry.date <= date_to)
    return [
        CustomerPostings(day, entry_id, kind, text, invoice_id, int(recv or 0), int(adv or 0))
        for day, entry_id, kind, text, invoice_id, recv, adv in session.execute(query)
    ]


def customer_totals_before(
    session: Session, tenant_id: int, customer_id: int, *, receivables: str, advances: str, before: date
) -> tuple[int, int]:
    """The sums of the customer's receivables and advances postings dated before ``before``."""
    query = (
        select(JournalLine.account, func.coalesce(func.sum(JournalLine.amount), 0))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalLine.tenant_id == tenant_id,
            JournalEntry.tenant_id == tenant_id,
            JournalLine.customer_id == customer_id,
            JournalLine.account.in_((receivables, advances)),
            JournalEntry.date < before,
        )
        .group_by(JournalLine.account)
    )
    totals = {account: int(total) for account, total in session.execute(query)}
    return totals.get(receivables, 0), totals.get(advances, 0)
