"""Posting to the journal and reading balances from it; every query scoped to a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.core.db import bulk_insert, reserve_ids, utcnow
from kvitt.ledger.accounts import DEFAULTS, RECEIVABLES, ChartOfAccounts
from kvitt.ledger.journal import EntryDraft
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.tenants.models import Tenant


def chart_for(tenant: Tenant) -> ChartOfAccounts:
    return ChartOfAccounts(tenant.accounts)


def post(session: Session, tenant_id: int, drafts: Sequence[EntryDraft]) -> list[int]:
    """Store balanced entries (in bulk) and return their ids in the same order.

    A draft with no postings (an invoice discounted to nothing) has nothing to book and is
    left out; its id in the result is 0.
    """
    for draft in drafts:
        if draft.postings:
            draft.check_balanced()
    booked = [draft for draft in drafts if draft.postings]
    ids = iter(reserve_ids(session, JournalEntry, len(booked)))
    entry_ids = [next(ids) if draft.postings else 0 for draft in drafts]
    now = utcnow()
    bulk_insert(
        session,
        JournalEntry,
        [
            {
                "id": entry_id,
                "tenant_id": tenant_id,
                "date": d.date,
                "kind": d.kind,
                "text": d.text,
                "invoice_id": d.invoice_id,
                "reverses_entry_id": d.reverses_entry_id,
                "created_at": now,
            }
            for entry_id, d in zip(entry_ids, drafts, strict=True)
            if d.postings
        ],
    )
    bulk_insert(
        session,
        JournalLine,
        [
            {
                "tenant_id": tenant_id,
                "entry_id": entry_id,
                "account": p.account,
                "amount": p.amount,
                "customer_id": p.customer_id,
                "invoice_id": p.invoice_id,
            }
            for entry_id, d in zip(entry_ids, drafts, strict=True)
            for p in d.postings
        ],
    )
    return entry_ids


def receivables_account(tenant: Tenant) -> str:
    return str(tenant.accounts.get(RECEIVABLES, DEFAULTS[RECEIVABLES]))


def customer_balance(session: Session, tenant: Tenant, customer_id: int) -> int:
    """What the customer owes: the sum of their postings on receivables (1510)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
                JournalLine.tenant_id == tenant.id,
                JournalLine.account == receivables_account(tenant),
                JournalLine.customer_id == customer_id,
            )
        )
    )


def customer_balances(session: Session, tenant: Tenant, customer_ids: list[int]) -> dict[int, int]:
    """The balances of many customers in one query (a page of a list); 0 for one with no postings."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(JournalLine.customer_id, func.sum(JournalLine.amount))
        .where(
            JournalLine.tenant_id == tenant.id,
            JournalLine.account == receivables_account(tenant),
            JournalLine.customer_id.in_(customer_ids),
        )
        .group_by(JournalLine.customer_id)
    )
    balances = dict.fromkeys(customer_ids, 0)
    balances.update({int(customer_id): int(total) for customer_id, total in rows})
    return balances


def invoice_receivable(session: Session, tenant: Tenant, invoice_id: int) -> int:
    """The ledger's view of what is left to pay on an invoice."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
                JournalLine.tenant_id == tenant.id,
                JournalLine.account == receivables_account(tenant),
                JournalLine.invoice_id == invoice_id,
            )
        )
    )


def account_balances(session: Session, tenant_id: int, *, until: date | None = None) -> dict[str, int]:
    """Trial balance: the sum per account (debit positive)."""
    query = (
        select(JournalLine.account, func.sum(JournalLine.amount))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalLine.tenant_id == tenant_id)
        .group_by(JournalLine.account)
        .order_by(JournalLine.account)
    )
    if until is not None:
        query = query.where(JournalEntry.date <= until)
    return {account: int(total) for account, total in session.execute(query)}


def unbalanced_entries(session: Session, tenant_id: int) -> list[int]:
    """Ids of entries whose postings do not sum to zero (there must never be any)."""
    query = (
        select(JournalLine.entry_id)
        .where(JournalLine.tenant_id == tenant_id)
        .group_by(JournalLine.entry_id)
        .having(func.sum(JournalLine.amount) != 0)
    )
    return list(session.scalars(query))


def entries_for_invoice(session: Session, tenant_id: int, invoice_id: int) -> list[JournalEntry]:
    return list(
        session.scalars(
            select(JournalEntry)
            .where(JournalEntry.tenant_id == tenant_id, JournalEntry.invoice_id == invoice_id)
            .order_by(JournalEntry.id)
        )
    )
