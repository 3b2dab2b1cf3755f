"""Receiving money: book it, match it to invoices, and queue what a person must look at.

Every payment is one journal entry: the bank (1930) against what the money settles —
receivables (1510) of the invoices it pays, the customer's credit balance (2420 with the
customer) for a surplus, or unidentified money (2420 without a customer) when nobody can be
told. Moving money later (a person's match, a refund, credit applied to a new invoice) posts
its own entry from 2420. So a customer's balance = their 1510 postings, and their credit
balance = minus their 2420 postings.

Matching (``receive``), one batch of payments at a time:
- every reference (OCR) of the payment that names an issued invoice is a candidate, in the
  order the payer wrote them; money goes to the open ones in that order, each up to what is
  left on it (exact → paid; less → partly paid);
- what is left goes to the customer's other open invoices, the one due first first, then to
  their credit balance, with an ``overpayment`` deviation for a person (refund or keep);
- money for an invoice already paid or credited: credit balance plus an ``already_settled``
  deviation;
- no usable reference, or one that names nothing: unidentified money and a ``no_reference`` or
  ``unknown_reference`` deviation whose suggestions are computed when a person looks;
- a deduction (BGMax TK21, a negative amount): taken from the customer's credit balance if it
  covers it, else a ``deduction`` deviation.

Crediting a paid invoice (``release_for_credit``, called by the invoices feature's credit)
frees the money that paid it, newest payment first: 1510 back up for the invoice against 2420
for the customer (their credit balance), an allocation of kind ``released``; to be paid back, a
``refund_due`` deviation per payment, and for money that came through a provider (Swish, card)
a job that the checkout feature turns into a refund through that provider.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kvitt.core import outbox
from kvitt.core.db import any_of, bulk_insert, is_postgresql, reserve_ids, utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import BANK, CUSTOMER_ADVANCES, RECEIVABLES, ChartOfAccounts
from kvitt.ledger.journal import EntryDraft
from kvitt.ledger.models import JournalLine
from kvitt.payments import hooks
from kvitt.payments.models import Allocation, Deviation, Payment, PaymentFile
from kvitt.tenants.models import Tenant

# BGMax reference codes (Bankgirot, Bankgiro Inbetalningar, TK20 position 56).
NO_REFERENCE_CODES = (0, 1)
# Money freed by crediting a paid invoice, to be paid back (a deviation: a person's to-do, and
# the record that a provider's refund resolves when it is paid).
REFUND_DUE = "refund_due"
# Freed money that came through a provider goes back through it: this job is the checkout
# feature's (it registers the handler), enqueued here so that payments imports nothing above it.
REFUND_BY_METHOD_JOB = "payments.refund_by_method"
BY_PROVIDER = ("swish", "card")
RECEIPTS_LOCK = 0x4B56  # advisory-lock namespace for receiving payments ("KV")
WRONG_REFERENCE_CODE = 5


@dataclass
class Incoming:
    """A payment as a bank file or a person reports it, before it is matched."""

    amount: int  # öre; negative for a deduction
    date: date
    source: str  # bankgiro | manual | api
    reference: str | None = None
    reference_code: int | None = None
    extra_references: list[str] = field(default_factory=list)
    payer_name: str | None = None
    payer_account: str | None = None
    bank_serial: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    invoice_id: int | None = None  # a manual payment aimed at one invoice
    customer_id: int | None = None  # a manual payment for a known customer
    account: str = BANK  # the role of the account the money arrives on (card: the card clearing account)


@dataclass
class Received:
    payments: list[int] = field(default_factory=list)
    duplicates: int = 0
    matched: int = 0
    deviations: int = 0
    amount: int = 0


@dataclass
class _Plan:
    """What one payment does, before anything is written."""

    incoming: Incoming
    payment_id: int
    customer_id: int | None = None
    to_invoices: list[tuple[Invoice, int]] = field(default_factory=list)
    to_credit: int = 0  # the customer's credit balance (or unidentified money without a customer)
    deviations: list[tuple[str, int, int | None]] = field(default_factory=list)  # kind, amount, invoice id


def references_of(incoming: Incoming) -> list[str]:
    """The references the payer gave, in order: the reference field (several, space-separated,
    with reference code 3) and the extra references (TK22/TK23)."""
    found: list[str] = []
    for written in [incoming.reference or "", *incoming.extra_references]:
        for token in written.split():
            digits = token.strip()
            if digits.isascii() and digits.isdigit() and digits.strip("0") and digits not in found:
                found.append(digits)
    return found


def receive(
    session: Session, tenant: Tenant, incoming: Sequence[Incoming], *, file_id: int | None, today: date, actor: str
) -> Received:
    """Book and match payments in the caller's transaction.

    A bank payment received before, in this batch or earlier (same date, serial, amount and
    reference), is skipped and counted as a duplicate."""
    result = Received()
    _serialize_receipts(session, tenant)
    fresh = _without_duplicates(session, tenant, incoming)
    result.duplicates = len(incoming) - len(fresh)
    if not fresh:
        return result
    ids = reserve_ids(session, Payment, len(fresh))
    by_ocr = invoices.by_ocr(session, tenant, {ref for item in fresh for ref in references_of(item)})
    aimed = (
        invoices.get_many(session, tenant, [i.invoice_id for i in fresh if i.invoice_id])
        if any(i.invoice_id for i in fresh)
        else []
    )
    aimed_by_id = {invoice.id: invoice for invoice in aimed}
    plans = [_plan(item, payment_id, by_ocr, aimed_by_id) for item, payment_id in zip(fresh, ids, strict=True)]
    _spend_surplus_on_open_invoices(session, tenant, plans)
    _write(session, tenant, plans, file_id=file_id, today=today, actor=actor)
    result.payments = ids
    result.amount = sum(item.amount for item in fresh)
    result.deviations = sum(len(plan.deviations) for plan in plans)
    result.matched = sum(1 for plan in plans if plan.to_invoices and not plan.deviations)
    return result


def _serialize_receipts(session: Session, tenant: Tenant) -> None:
    """One receiving transaction per tenant at a time, so that two imports of files that share a
    payment cannot both miss the other's copy (the unique bank key would then fail one of them).
    PostgreSQL: a transaction-scoped advisory lock; SQLite serialises writers already."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": RECEIPTS_LOCK, "key": tenant.id})


def bank_key(item: Incoming) -> str | None:
    """What identifies a payment the bank reported (None for money a person registers)."""
    if not item.bank_serial:
        return None
    return f"{item.date.isoformat()}:{item.bank_serial}:{item.amount}:{item.reference or ''}"[:200]


def _without_duplicates(session: Session, tenant: Tenant, incoming: Sequence[Incoming]) -> list[Incoming]:
    keys = {key for key in map(bank_key, incoming) if key}
    seen: set[str | None] = set()
    if keys:
        seen = set(
            session.scalars(
                select(Payment.bank_key).where(Payment.tenant_id == tenant.id, any_of(session, Payment.bank_key, keys))
            )
        )
    fresh = []
    for item in incoming:
        key = bank_key(item)
        if key:
            if key in seen:
                continue
            seen.add(key)
        fresh.append(item)
    return fresh


def _plan(item: Incoming, payment_id: int, by_ocr: dict[str, Invoice], aimed: dict[int, Invoice]) -> _Plan:
    plan = _Plan(item, payment_id, customer_id=item.customer_id)
    if item.invoice_id is not None:
        candidates = [aimed[item.invoice_id]]
    else:
        candidates = [by_ocr[ref] for ref in references_of(item) if ref in by_ocr]
    if item.amount < 0:
        plan.customer_id = plan.customer_id or (candidates[0].customer_id if candidates else None)
        plan.to_credit = item.amount
        plan.deviations.append(("deduction", -item.amount, candidates[0].id if candidates else None))
        return plan
    money = item.amount
    for invoice in candidates:
        plan.customer_id = plan.customer_id or invoice.customer_id
        if invoice.kind != "invoice" or invoice.state not in states.OPEN_STATES:
            continue
        already = sum(amount for inv, amount in plan.to_invoices if inv is invoice)
        take = min(money, invoice.remaining - already)
        if take > 0:
            plan.to_invoices.append((invoice, take))
            money -= take
    plan.to_credit = money
    if not candidates:
        kind = (
            "no_reference"
            if not references_of(item) or item.reference_code in NO_REFERENCE_CODES
            else "unknown_reference"
        )
        if item.source == "bankgiro" or plan.customer_id is None:
            plan.deviations.append((kind, money, None))
    elif money > 0 and not plan.to_invoices:
        plan.deviations.append(("already_settled", money, candidates[0].id))
    return plan


def _spend_surplus_on_open_invoices(session: Session, tenant: Tenant, plans: list[_Plan]) -> None:
    """A surplus pays the customer's other open invoices before it becomes a credit balance."""
    owners = {plan.customer_id for plan in plans if plan.to_credit > 0 and plan.customer_id and not plan.deviations}
    if not owners:
        for plan in plans:
            _flag_overpayment(plan)
        return
    open_invoices = invoices.open_for_customers(session, tenant, owners)
    taken: dict[int, int] = {}
    for plan in plans:
        for invoice, amount in plan.to_invoices:
            taken[invoice.id] = taken.get(invoice.id, 0) + amount
    for plan in plans:
        if plan.to_credit > 0 and plan.customer_id in owners and not plan.deviations:
            for invoice in open_invoices[plan.customer_id]:
                left = invoice.remaining - taken.get(invoice.id, 0)
                take = min(plan.to_credit, left)
                if take > 0:
                    plan.to_invoices.append((invoice, take))
                    taken[invoice.id] = taken.get(invoice.id, 0) + take
                    plan.to_credit -= take
        _flag_overpayment(plan)


def _flag_overpayment(plan: _Plan) -> None:
    if plan.to_credit > 0 and plan.to_invoices and not plan.deviations:
        plan.deviations.append(("overpayment", plan.to_credit, plan.to_invoices[0][0].id))


def _write(
    session: Session, tenant: Tenant, plans: list[_Plan], *, file_id: int | None, today: date, actor: str
) -> None:
    chart = ledger.chart_for(tenant)
    now = utcnow()
    bulk_insert(session, Payment, [_payment_row(tenant, plan, file_id, now) for plan in plans])
    allocations: list[dict[str, Any]] = []
    deviations: list[dict[str, Any]] = []
    entries: list[EntryDraft] = []
    applied: list[tuple[Invoice, int, date, str | None, int | None]] = []
    for plan in plans:
        item = plan.incoming
        entries.append(_payment_entry(chart, plan))
        for invoice, amount in plan.to_invoices:
            allocations.append(
                _allocation(tenant, plan.payment_id, "invoice", invoice.id, invoice.customer_id, amount, actor, now)
            )
            applied.append((invoice, amount, item.date, item.reference, plan.payment_id))
        if plan.to_credit > 0 and plan.customer_id is not None:
            allocations.append(
                _allocation(
                    tenant, plan.payment_id, "credit_balance", None, plan.customer_id, plan.to_credit, actor, now
                )
            )
        for kind, amount, invoice_id in plan.deviations:
            deviations.append(
                {
                    "tenant_id": tenant.id,
                    "payment_id": plan.payment_id,
                    "kind": kind,
                    "state": "open",
                    "amount": amount,
                    "invoice_id": invoice_id,
                    "customer_id": plan.customer_id,
                    "suggestions": [],
                    "resolution": None,
                    "created_at": now,
                    "resolved_at": None,
                }
            )
    bulk_insert(session, Allocation, allocations)
    bulk_insert(session, Deviation, deviations)
    ledger.post(session, tenant.id, entries)
    invoices.apply_payments(session, tenant, applied, today=today, actor=actor)
    record(
        session,
        tenant.id,
        [
            Happening(invoice_id, "overpayment", actor, {"amount": amount, "payment": plan.payment_id})
            for plan in plans
            for kind, amount, invoice_id in plan.deviations
            if kind in ("overpayment", "already_settled") and invoice_id is not None
        ],
    )
    # A payment that reaches none of the customer's invoices publishes no invoice event: the
    # features above that keep something per customer (segments: how they paid last) are told.
    held = [p.customer_id for p in plans if p.customer_id is not None and not p.to_invoices and p.incoming.amount > 0]
    hooks.customers_paid(session, tenant.id, today, held)


def _payment_row(tenant: Tenant, plan: _Plan, file_id: int | None, now: Any) -> dict[str, Any]:
    item = plan.incoming
    return {
        "id": plan.payment_id,
        "tenant_id": tenant.id,
        "source": item.source,
        "file_id": file_id,
        "amount": item.amount,
        "date": item.date,
        "reference": (item.reference or None) and item.reference[:100],
        "reference_code": item.reference_code,
        "payer_name": item.payer_name,
        "payer_account": item.payer_account,
        "bank_serial": item.bank_serial,
        "bank_key": bank_key(item),
        "customer_id": plan.customer_id,
        "unallocated": plan.to_credit,
        "details": item.details if item.account == BANK else {**item.details, "account": item.account},
        "created_at": now,
    }


def _allocation(
    tenant: Tenant,
    payment_id: int | None,
    kind: str,
    invoice_id: int | None,
    customer_id: int | None,
    amount: int,
    actor: str,
    now: Any,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant.id,
        "payment_id": payment_id,
        "kind": kind,
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "amount": amount,
        "actor": actor,
        "created_at": now,
    }


def _payment_entry(chart: ChartOfAccounts, plan: _Plan) -> EntryDraft:
    item = plan.incoming
    text = (
        f"Inbetalning {item.reference or ''}".strip() if item.amount >= 0 else f"Avdrag {item.reference or ''}".strip()
    )
    entry = EntryDraft(item.date, "payment", text[:200])
    entry.add(chart[item.account], item.amount)
    for invoice, amount in plan.to_invoices:
        entry.add(chart[RECEIVABLES], -amount, customer_id=invoice.customer_id, invoice_id=invoice.id)
    entry.add(chart[CUSTOMER_ADVANCES], -plan.to_credit, customer_id=plan.customer_id)
    return entry


# --- payments a person or the API reports ------------------------------------------------------


def pay_invoice(
    session: Session,
    tenant: Tenant,
    invoice: Invoice,
    amount: int,
    *,
    on: date,
    today: date,
    reference: str | None,
    actor: str,
    source: str = "manual",
) -> Payment:
    """A payment for one invoice; a surplus pays the customer's other open invoices, then
    becomes their credit balance (with an ``overpayment`` deviation)."""
    states.require_action(invoice.kind, invoice.state, "pay")
    _not_after_today(on, today)
    incoming = Incoming(amount, on, source, reference=reference, invoice_id=invoice.id, customer_id=invoice.customer_id)
    (payment_id,) = receive(session, tenant, [incoming], file_id=None, today=today, actor=actor).payments
    return get(session, tenant, payment_id)


def _not_after_today(on: date, today: date) -> None:
    """Money cannot have arrived on a day that has not come (the business date, under a test clock)."""
    if on > today:
        raise ValidationFailed(
            f"date: a payment cannot be dated after today ({today.isoformat()}); got {on.isoformat()}",
            param="date",
            code="date_in_future",
        )


def register(session: Session, tenant: Tenant, incoming: Incoming, *, today: date, actor: str) -> Payment:
    """Money a person allocates: matched by its reference if it has one, else held for the
    customer named, else unidentified (a deviation)."""
    _not_after_today(incoming.date, today)
    if incoming.customer_id is not None:
        customers.get(session, tenant, incoming.customer_id)
    result = receive(session, tenant, [incoming], file_id=None, today=today, actor=actor)
    if not result.payments:
        raise Conflict(
            "a payment with this bank serial was already received", param="bank_serial", code="duplicate_payment"
        )
    return get(session, tenant, result.payments[0])


def get(session: Session, tenant: Tenant, payment_id: int) -> Payment:
    payment = session.scalar(select(Payment).where(Payment.tenant_id == tenant.id, Payment.id == payment_id))
    if payment is None:
        raise NotFound(f"no payment {payment_id}", param="payment")
    return payment


def get_file(session: Session, tenant: Tenant, file_id: int) -> PaymentFile:
    file = session.scalar(select(PaymentFile).where(PaymentFile.tenant_id == tenant.id, PaymentFile.id == file_id))
    if file is None:
        raise NotFound(f"no payment file {file_id}", param="payment_file")
    return file


def list_files(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[PaymentFile]:
    query = select(PaymentFile).where(PaymentFile.tenant_id == tenant.id)
    return paginate(session, query, PaymentFile.id, limit=limit, starting_after=starting_after)


def allocations_of(session: Session, tenant: Tenant, payment_ids: Sequence[int]) -> dict[int, list[Allocation]]:
    result: dict[int, list[Allocation]] = {payment_id: [] for payment_id in payment_ids}
    rows = session.scalars(
        select(Allocation)
        .where(Allocation.tenant_id == tenant.id, Allocation.payment_id.in_(payment_ids))
        .order_by(Allocation.id)
    )
    for allocation in rows:
        if allocation.payment_id is not None:
            result[allocation.payment_id].append(allocation)
    return result


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    customer: int | None = None,
    file: int | None = None,
) -> Page[Payment]:
    query = select(Payment).where(Payment.tenant_id == tenant.id)
    if customer is not None:
        query = query.where(Payment.customer_id == customer)
    if file is not None:
        query = query.where(Payment.file_id == file)
    return paginate(session, query, Payment.id, limit=limit, starting_after=starting_after)


# --- the credit balance -----------------------------------------------------------------------


def credit_balance(session: Session, tenant: Tenant, customer_id: int) -> int:
    """What the issuer holds for the customer: minus their postings on customer advances (2420)."""
    account = ledger.chart_for(tenant)[CUSTOMER_ADVANCES]
    return -int(
        session.scalar(
            select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
                JournalLine.tenant_id == tenant.id,
                JournalLine.account == account,
                JournalLine.customer_id == customer_id,
            )
        )
    )


def apply_credit(session: Session, tenant: Tenant, customer_ids: Iterable[int], *, today: date, actor: str) -> int:
    """Spend customers' credit balances on their open invoices (due first, first); returns öre moved.

    The credit is taken from their payments that still hold money, oldest first; money promised
    back (an open ``refund_due`` deviation) is not spent.
    """
    holders = list(
        session.scalars(
            select(Payment)
            .where(Payment.tenant_id == tenant.id, Payment.customer_id.in_(set(customer_ids)), Payment.unallocated > 0)
            .order_by(Payment.date, Payment.id)
        )
    )
    if not holders:
        return 0
    promised = _promised_back(session, tenant, [p.id for p in holders])
    open_invoices = invoices.open_for_customers(session, tenant, {p.customer_id for p in holders if p.customer_id})
    moves: list[tuple[Payment, Invoice, int]] = []
    for payment in holders:
        for invoice in open_invoices.get(payment.customer_id or 0, []):
            left = invoice.remaining - sum(amount for _, inv, amount in moves if inv is invoice)
            take = min(payment.unallocated - promised.get(payment.id, 0), left)
            if take > 0:
                moves.append((payment, invoice, take))
                payment.unallocated -= take
    if moves:
        _move_held_money(session, tenant, moves, today=today, actor=actor, text="Kvittning av kundsaldo")
    return sum(amount for _, _, amount in moves)


def _promised_back(session: Session, tenant: Tenant, payment_ids: list[int]) -> dict[int, int]:
    """What each payment owes back under open ``refund_due`` deviations."""
    rows = session.execute(
        select(Deviation.payment_id, func.sum(Deviation.amount))
        .where(
            Deviation.tenant_id == tenant.id,
            Deviation.payment_id.in_(payment_ids),
            Deviation.kind == REFUND_DUE,
            Deviation.state == "open",
        )
        .group_by(Deviation.payment_id)
    ).all()
    return {int(payment_id): int(total) for payment_id, total in rows}


def release_for_credit(
    session: Session,
    tenant: Tenant,
    invoice: Invoice,
    amount: int,
    *,
    today: date,
    actor: str,
    refund: bool,
    reason: str,
) -> list[tuple[int, int]]:
    """A credit took back ``amount`` öre more than was left on ``invoice``: free that much of the
    money that paid it, newest payment first. Returns (payment id, öre freed) pairs.

    Each payment's share moves from the invoice's receivable to the credit balance of the
    payment's customer (one balanced entry: 1510 debit, 2420 credit) and is held by the payment
    again (``unallocated``), recorded as an allocation of kind ``released``. With ``refund``, each
    share is a ``refund_due`` deviation (not spent on other invoices while open) and, for money
    that came through a provider, a job to pay it back through it; bankgiro and manual money is
    paid out by a person, who resolves the deviation with ``refund`` (2420 against the bank).
    """
    rows = session.execute(
        select(Allocation.payment_id, Allocation.kind, func.sum(Allocation.amount))
        .where(
            Allocation.tenant_id == tenant.id,
            Allocation.invoice_id == invoice.id,
            # What each payment still gives the invoice: what it paid, less what a credit freed
            # (released) or the payer took back (an autogiro refund: kind refund on the invoice).
            Allocation.kind.in_(("invoice", "released", "refund")),
            Allocation.payment_id.is_not(None),
        )
        .group_by(Allocation.payment_id, Allocation.kind)
    ).all()
    held: dict[int, int] = defaultdict(int)
    for payment_id, kind, total in rows:
        if payment_id is not None:
            held[payment_id] += int(total) if kind == "invoice" else -int(total)
    paying = list(
        session.scalars(
            select(Payment)
            .where(Payment.tenant_id == tenant.id, Payment.id.in_([i for i, left in held.items() if left > 0]))
            .order_by(Payment.date.desc(), Payment.id.desc())
            .with_for_update()
        )
    )
    takes: list[tuple[Payment, int]] = []
    left = amount
    for payment in paying:
        take = min(held[payment.id], left)
        if take > 0:
            takes.append((payment, take))
            left -= take
    if left:
        raise RuntimeError(
            f"invoice {invoice.id} holds {amount - left} öre of payments; {amount} öre were to be freed by a credit"
        )
    chart = ledger.chart_for(tenant)
    now = utcnow()
    entries = []
    allocations = []
    for payment, take in takes:
        if payment.customer_id is None and payment.unallocated == 0:
            payment.customer_id = invoice.customer_id
        entry = EntryDraft(today, "allocation", reason[:200], invoice.id)
        entry.add(chart[RECEIVABLES], take, customer_id=invoice.customer_id, invoice_id=invoice.id)
        entry.add(chart[CUSTOMER_ADVANCES], -take, customer_id=payment.customer_id)
        entries.append(entry)
        payment.unallocated += take
        allocations.append(
            _allocation(tenant, payment.id, "released", invoice.id, payment.customer_id, take, actor, now)
        )
    ledger.post(session, tenant.id, entries)
    bulk_insert(session, Allocation, allocations)
    if refund:
        for payment, take in takes:
            deviation = Deviation(
                tenant_id=tenant.id,
                payment_id=payment.id,
                kind=REFUND_DUE,
                state="open",
                amount=take,
                invoice_id=invoice.id,
                customer_id=payment.customer_id,
                suggestions=[],
                resolution=None,
            )
            session.add(deviation)
            session.flush()
            if payment.source in BY_PROVIDER:
                outbox.enqueue(
                    session,
                    REFUND_BY_METHOD_JOB,
                    {
                        "payment": payment.id,
                        "amount": take,
                        "deviation": deviation.id,
                        "invoice": invoice.id,
                        "invoice_number": invoice.number,
                    },
                    tenant_id=tenant.id,
                    dedupe_key=f"{REFUND_BY_METHOD_JOB}:{deviation.id}",
                )
    session.flush()
    return [(payment.id, take) for payment, take in takes]


invoices.provide_payment_release(release_for_credit)


def _move_held_money(
    session: Session,
    tenant: Tenant,
    moves: list[tuple[Payment, Invoice, int]],
    *,
    today: date,
    actor: str,
    text: str,
) -> None:
    """Money held on 2420 (a customer's credit or unidentified money) goes to invoices."""
    chart = ledger.chart_for(tenant)
    now = utcnow()
    entries = []
    for payment, invoice, amount in moves:
        entry = EntryDraft(today, "allocation", f"{text}, faktura {invoice.number}", invoice.id)
        entry.add(chart[CUSTOMER_ADVANCES], amount, customer_id=payment.customer_id)
        entry.add(chart[RECEIVABLES], -amount, customer_id=invoice.customer_id, invoice_id=invoice.id)
        entries.append(entry)
    ledger.post(session, tenant.id, entries)
    bulk_insert(
        session,
        Allocation,
        [_allocation(tenant, p.id, "invoice", i.id, i.customer_id, amount, actor, now) for p, i, amount in moves],
    )
    invoices.apply_payments(
        session, tenant, [(i, amount, today, p.reference, p.id) for p, i, amount in moves], today=today, actor=actor
    )


# --- the deviations queue ---------------------------------------------------------------------


def get_deviation(session: Session, tenant: Tenant, deviation_id: int) -> Deviation:
    deviation = session.scalar(select(Deviation).where(Deviation.tenant_id == tenant.id, Deviation.id == deviation_id))
    if deviation is None:
        raise NotFound(f"no deviation {deviation_id}", param="deviation")
    return deviation


def list_deviations(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, state: str | None, kind: str | None
) -> Page[Deviation]:
    query = select(Deviation).where(Deviation.tenant_id == tenant.id)
    if state is not None:
        query = query.where(Deviation.state == state)
    if kind is not None:
        query = query.where(Deviation.kind == kind)
    return paginate(session, query, Deviation.id, limit=limit, starting_after=starting_after)


def suggestions(session: Session, tenant: Tenant, deviation: Deviation, payment: Payment) -> list[dict[str, Any]]:
    """Ranked guesses for a payment nobody could match, computed when a person looks.

    An invoice number written in the reference or free text weighs most; then open invoices of
    exactly the amount, more so when the payer's name resembles the customer's.
    """
    if deviation.kind not in ("no_reference", "unknown_reference") or payment.unallocated <= 0:
        return []
    scored: dict[int, tuple[float, list[str], Invoice]] = {}

    def add(invoice: Invoice, score: float, why: str) -> None:
        old_score, reasons, _ = scored.get(invoice.id, (0.0, [], invoice))
        scored[invoice.id] = (old_score + score, [*reasons, why], invoice)

    texts = [payment.reference or "", *payment.details.get("free_text", [])]
    numbers = {int(n) for text in texts for n in re.findall(r"\b\d{1,12}\b", text) if int(n) > 0}
    for invoice in invoices.open_by_numbers(session, tenant, numbers):
        add(invoice, 0.6, "invoice number in the payment's text")
    for invoice in invoices.open_with_remaining(session, tenant, payment.unallocated, limit=20):
        add(invoice, 0.3, "open invoice of the same amount")
    names = customers.get_many(session, tenant, {inv.customer_id for _, _, inv in scored.values()})
    payer = _name_tokens(payment.payer_name)
    for invoice_id, (score, reasons, invoice) in list(scored.items()):
        customer = names.get(invoice.customer_id)
        if payer and customer and payer & _name_tokens(customer.name):
            scored[invoice_id] = (score + 0.3, [*reasons, "payer's name like the customer's"], invoice)
    ranked = sorted(scored.values(), key=lambda s: (-s[0], s[2].due_date or date.max, s[2].id))[:5]
    return [
        {
            "invoice": invoice.id,
            "number": invoice.number,
            "customer": invoice.customer_id,
            "remaining": invoice.remaining,
            "score": round(score, 2),
            "reasons": reasons,
        }
        for score, reasons, invoice in ranked
    ]


def _name_tokens(name: str | None) -> set[str]:
    return {word for word in re.split(r"[^\w]+", (name or "").casefold()) if len(word) >= 2 and word != "ab"}


def resolve(
    session: Session,
    tenant: Tenant,
    deviation: Deviation,
    *,
    action: str,
    allocations: list[tuple[int, int]],
    customer_id: int | None,
    amount: int | None,
    note: str | None,
    today: date,
    actor: str,
) -> Deviation:
    """A person's answer: ``match`` (to one or several invoices: a split), ``refund``,
    ``assign`` (the money belongs to a customer), or ``keep`` (leave it as credit)."""
    if deviation.state != "open":
        raise Conflict("this deviation is already resolved", code="deviation_resolved")
    payment = get(session, tenant, deviation.payment_id)
    if action == "match":
        _match(session, tenant, payment, allocations, today=today, actor=actor)
    elif action == "refund":
        # By default all the payment holds; for money freed by a credit, what was promised back.
        default = min(deviation.amount, payment.unallocated) if deviation.kind == REFUND_DUE else payment.unallocated
        _refund(session, tenant, payment, amount if amount is not None else default, today=today, actor=actor)
    elif action == "assign":
        _assign(session, tenant, payment, customer_id, today=today, actor=actor)
    elif action != "keep":
        raise ValidationFailed(f"unknown action {action!r}", param="action")
    deviation.state = "resolved"
    deviation.resolved_at = utcnow()
    deviation.resolution = {
        "action": action,
        "by": actor,
        "allocations": [{"invoice": i, "amount": a} for i, a in allocations],
        "customer": customer_id,
        "amount": amount,
        "note": note,
    }
    session.flush()
    return deviation


def _held(payment: Payment, wanted: int, param: str) -> None:
    if wanted <= 0:
        raise ValidationFailed("the amount must be greater than 0", param=param)
    if wanted > payment.unallocated:
        raise ValidationFailed(
            f"{wanted} öre asked for, but the payment holds {payment.unallocated} öre",
            param=param,
            code="amount_too_large",
        )


def _match(
    session: Session, tenant: Tenant, payment: Payment, allocations: list[tuple[int, int]], *, today: date, actor: str
) -> None:
    if not allocations:
        raise ValidationFailed("say which invoices the money goes to", param="allocations")
    _held(payment, sum(amount for _, amount in allocations), "allocations")
    targets = {inv.id: inv for inv in invoices.get_many(session, tenant, [i for i, _ in allocations])}
    moves = []
    for index, (invoice_id, amount) in enumerate(allocations):
        invoice = targets[invoice_id]
        if amount <= 0 or amount > invoice.remaining or invoice.state not in states.OPEN_STATES:
            raise ValidationFailed(
                f"invoice {invoice.id} (number {invoice.number}) has {invoice.remaining} öre left ({invoice.state})",
                param=f"allocations[{index}].amount",
            )
        moves.append((payment, invoice, amount))
    holder = payment.customer_id
    payment.unallocated -= sum(amount for _, amount in allocations)
    _move_held_money(session, tenant, moves, today=today, actor=actor, text="Manuell matchning")
    if holder is None and payment.unallocated == 0:
        # Fully placed: the payment was the customer's. (While some is left it stays unidentified
        # money, so that later refunds come out of the same pool on 2420.)
        payment.customer_id = targets[allocations[0][0]].customer_id


def refund_held(session: Session, tenant: Tenant, payment: Payment, amount: int, *, today: date, actor: str) -> None:
    """Pay back money the payment still holds (not allocated to invoices), from the account it
    arrived on; an open deviation of the payment is resolved by it (action ``refund``)."""
    deviation = session.scalar(
        select(Deviation)
        .where(Deviation.tenant_id == tenant.id, Deviation.payment_id == payment.id, Deviation.state == "open")
        .order_by((Deviation.kind == REFUND_DUE).desc(), Deviation.id)  # the promise of a refund first
        .limit(1)
    )
    if deviation is not None:
        resolve(
            session,
            tenant,
            deviation,
            action="refund",
            allocations=[],
            customer_id=None,
            amount=amount,
            note=None,
            today=today,
            actor=actor,
        )
    else:
        _refund(session, tenant, payment, amount, today=today, actor=actor)


def _refund(session: Session, tenant: Tenant, payment: Payment, amount: int, *, today: date, actor: str) -> None:
    _held(payment, amount, "amount")
    chart = ledger.chart_for(tenant)
    entry = EntryDraft(today, "refund", f"Återbetalning {payment.reference or payment.id}"[:200])
    entry.add(chart[CUSTOMER_ADVANCES], amount, customer_id=payment.customer_id)
    entry.add(chart[(payment.details or {}).get("account", BANK)], -amount)
    ledger.post(session, tenant.id, [entry])
    payment.unallocated -= amount
    bulk_insert(
        session,
        Allocation,
        [_allocation(tenant, payment.id, "refund", None, payment.customer_id, amount, actor, utcnow())],
    )


def _assign(
    session: Session, tenant: Tenant, payment: Payment, customer_id: int | None, *, today: date, actor: str
) -> None:
    if customer_id is None:
        raise ValidationFailed("say which customer the money belongs to", param="customer")
    customer = customers.get(session, tenant, customer_id)
    if payment.customer_id is not None:
        raise Conflict("the payment already belongs to a customer", code="payment_has_customer")
    chart = ledger.chart_for(tenant)
    entry = EntryDraft(today, "allocation", f"Kundsaldo {customer.customer_no}"[:200])
    entry.add(chart[CUSTOMER_ADVANCES], payment.unallocated, customer_id=None)
    entry.add(chart[CUSTOMER_ADVANCES], -payment.unallocated, customer_id=customer.id)
    if payment.unallocated:
        ledger.post(session, tenant.id, [entry])
    payment.customer_id = customer.id
    bulk_insert(
        session,
        Allocation,
        [_allocation(tenant, payment.id, "credit_balance", None, customer.id, payment.unallocated, actor, utcnow())],
    )
    session.flush()
    apply_credit(session, tenant, [customer.id], today=today, actor=actor)
    hooks.customers_paid(session, tenant.id, today, [customer.id])  # the customer's way of paying


def deviations_report(session: Session, tenant: Tenant, day: date) -> dict[str, Any]:
    """The day's deviations: what could not be matched, what was overpaid, what was paid twice."""
    rows = session.execute(
        select(Deviation, Payment)
        .join(Payment, Payment.id == Deviation.payment_id)
        .where(Deviation.tenant_id == tenant.id, Payment.date == day)
        .order_by(Deviation.id)
    ).all()
    groups: dict[str, list[dict[str, Any]]] = {"unmatched": [], "overpaid": [], "paid_twice": [], "deductions": []}
    group_of = {
        "no_reference": "unmatched",
        "unknown_reference": "unmatched",
        "overpayment": "overpaid",
        "already_settled": "paid_twice",
        "deduction": "deductions",
    }
    for deviation, payment in rows:
        groups[group_of[deviation.kind]].append(
            {
                "deviation": deviation.id,
                "kind": deviation.kind,
                "state": deviation.state,
                "amount": deviation.amount,
                "payment": payment.id,
                "reference": payment.reference,
                "payer_name": payment.payer_name,
                "invoice": deviation.invoice_id,
                "customer": deviation.customer_id,
            }
        )
    return {
        "object": "deviations_report",
        "date": day.isoformat(),
        **{
            name: {"count": len(items), "amount": sum(i["amount"] for i in items), "items": items}
            for name, items in groups.items()
        },
    }
