"""Debits: which invoices autogiro pays, on which banking day, and what their results do.

An open invoice of a customer with an active mandate is paid by autogiro: its debit is planned
on the due date (the next banking day if the due date is not one) and ordered
``banking_days_before`` banking days earlier (Bankgirot needs the order at the latest the
banking day before). A debit whose order day has passed moves to the first banking day an
order sent today can reach. A debited payment is booked by ``kvitt.payments.service`` like any
payment; a failed one leaves the invoice open, records ``autogiro_failed`` on its timeline and
publishes ``autogiro.failed`` (which the default event chain answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.autogiro import bankdays
from kvitt.autogiro import service as mandates
from kvitt.autogiro.models import Debit, Mandate
from kvitt.core import events
from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import InternalError
from kvitt.core.pagination import Page, paginate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.ledger import service as ledger
from kvitt.ledger.accounts import BANK, RECEIVABLES
from kvitt.ledger.journal import EntryDraft
from kvitt.payments import service as payments
from kvitt.payments.models import Allocation
from kvitt.tenants.models import Tenant

OPEN = ("pending", "sent")
# What a failed debit's status in the payment specification means, as the autogiro.failed code.
FAILURE_CODES = {1: "insufficient_funds", 2: "no_mandate"}


def reference_of(invoice: Invoice) -> str:
    """The payment order's reference (16 characters): the OCR, else the invoice number."""
    if invoice.ocr and len(invoice.ocr) <= 16:
        return invoice.ocr
    return str(invoice.number or invoice.id)


def planned_dates(due: date, *, lead: int, today: date) -> tuple[date, date]:
    """(debit day, order day) for an invoice due on ``due``, ordered ``lead`` banking days before."""
    debit_on = bankdays.next_banking_day(due)
    order_on = bankdays.banking_days_before(debit_on, lead)
    if order_on < today:
        order_on = bankdays.next_banking_day(today)
        debit_on = bankdays.banking_days_after(order_on, lead)
    return debit_on, order_on


def debit_date(session: Session, tenant: Tenant, invoice: Invoice, *, today: date) -> date | None:
    """The day autogiro takes the money for ``invoice``, or None when autogiro does not pay it
    (for "Dras via autogiro <date>" on the web invoice, the email and the PDF)."""
    return debit_dates(session, tenant, [invoice], today=today).get(invoice.id)


def debit_dates(session: Session, tenant: Tenant, invoices_: list[Invoice], *, today: date) -> dict[int, date]:
    """``debit_date`` of many invoices in two statements (a batch of emails)."""
    payable = [i for i in invoices_ if autogiro_may_pay(i)]
    if not payable:
        return {}
    ids = [i.id for i in payable]
    debits = {
        d.invoice_id: d
        for d in session.scalars(select(Debit).where(Debit.tenant_id == tenant.id, Debit.invoice_id.in_(ids)))
    }
    customer_ids = {i.customer_id for i in payable if i.id not in debits}
    with_mandate = set()
    if customer_ids:
        with_mandate = set(
            session.scalars(
                select(Mandate.customer_id).where(
                    Mandate.tenant_id == tenant.id, Mandate.status == "active", Mandate.customer_id.in_(customer_ids)
                )
            )
        )
    lead = mandates.settings_of(session, tenant).banking_days_before if with_mandate else 1
    found: dict[int, date] = {}
    for invoice in payable:
        debit = debits.get(invoice.id)
        day = debit_day_of(
            invoice,
            (debit.status, debit.debit_on) if debit is not None else None,
            invoice.customer_id in with_mandate,
            lead=lambda: lead,
            today=today,
        )
        if day is not None:
            found[invoice.id] = day
    return found


def autogiro_may_pay(invoice: Invoice) -> bool:
    return invoice.kind == "invoice" and invoice.remaining > 0 and invoice.due_date is not None


def debit_day_of(
    invoice: Invoice,
    debit: tuple[str, date] | None,
    has_active_mandate: bool,
    *,
    lead: Callable[[], int],
    today: date,
) -> date | None:
    """``debit_date`` from facts read elsewhere (the web invoice reads them with its page): the
    invoice's debit as (status, day) if it has one, and whether its customer has an active
    mandate; ``lead`` gives the tenant's banking days before (asked only when needed)."""
    if not autogiro_may_pay(invoice):
        return None
    if debit is not None:
        status, debit_on = debit
        return debit_on if status in OPEN else None
    if has_active_mandate:
        assert invoice.due_date is not None
        return planned_dates(invoice.due_date, lead=lead(), today=today)[0]
    return None


def plan(session: Session, tenant: Tenant, *, today: date) -> int:
    """A debit for every open invoice of a customer with an active mandate that has none yet."""
    active = {
        m.customer_id: m
        for m in session.scalars(select(Mandate).where(Mandate.tenant_id == tenant.id, Mandate.status == "active"))
    }
    if not active:
        return 0
    lead = mandates.settings_of(session, tenant).banking_days_before
    open_invoices = [i for found in invoices.open_for_customers(session, tenant, active).values() for i in found]
    have = set(
        session.scalars(
            select(Debit.invoice_id).where(
                Debit.tenant_id == tenant.id, Debit.invoice_id.in_([i.id for i in open_invoices])
            )
        )
    )
    made = 0
    for invoice in open_invoices:
        if invoice.id in have or invoice.remaining <= 0 or invoice.due_date is None:
            continue
        mandate = active[invoice.customer_id]
        debit_on, order_on = planned_dates(invoice.due_date, lead=lead, today=today)
        session.add(
            Debit(
                tenant_id=tenant.id,
                invoice_id=invoice.id,
                mandate_id=mandate.id,
                payer_number=mandate.payer_number,
                amount=invoice.remaining,
                reference=reference_of(invoice),
                debit_on=debit_on,
                order_on=order_on,
                status="pending",
            )
        )
        made += 1
    session.flush()
    return made


def due_orders(session: Session, tenant: Tenant, *, day: date) -> list[Debit]:
    """The pending debits whose order goes in a file written on ``day``; each made ready to send
    (the amount still owed; a debit whose invoice was settled, or whose mandate ended, dropped)."""
    query = (
        select(Debit)
        .where(Debit.tenant_id == tenant.id, Debit.status == "pending", Debit.order_on <= day)
        .order_by(Debit.debit_on, Debit.id)
    )
    if is_postgresql(session):
        query = query.with_for_update(of=Debit)
    debits = list(session.scalars(query))
    by_id = {i.id: i for i in invoices.get_many(session, tenant, [d.invoice_id for d in debits])}
    live = {
        m.id: m
        for m in session.scalars(select(Mandate).where(Mandate.tenant_id == tenant.id, Mandate.status == "active"))
    }
    ready = []
    for debit in debits:
        invoice = by_id.get(debit.invoice_id)
        if invoice is None or invoice.remaining <= 0 or debit.mandate_id not in live:
            debit.status, debit.result_text = "cancelled", "nothing to debit (settled, or the mandate ended)"
            continue
        if live[debit.mandate_id].new_payer_number is not None:
            continue  # the payer number is changing (TK05): ordered once Bankgirot's advice answers
        debit.amount = invoice.remaining
        if bankdays.banking_days_before(debit.debit_on, 1) < day:  # too late for its day: Bankgirot
            debit.debit_on = bankdays.banking_days_after(day, 1)  # needs the order a banking day before
        ready.append(debit)
    session.flush()
    return ready


def move_pending(session: Session, tenant: Tenant, mandate_id: int, payer_number: str) -> None:
    """The mandate's payer number changed: its debits not yet ordered go under the new number
    (those already sent keep the number their order named, which their results will carry)."""
    for debit in session.scalars(
        select(Debit).where(Debit.tenant_id == tenant.id, Debit.mandate_id == mandate_id, Debit.status == "pending")
    ):
        debit.payer_number = payer_number


def mark_sent(debits: list[Debit]) -> None:
    now = utcnow()
    for debit in debits:
        debit.status, debit.sent_at = "sent", now


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One debit result from a file of Bankgirot, before it is matched to a debit."""

    payer_number: str
    amount: int
    on: date | None  # the debit day the result names (None: any)
    ok: bool
    code: str  # the status or comment code as written
    text: str
    renewed: bool = False  # status 9: Bankgirot tries again; the answer comes in a later file


RENEWED = "9"


def find(session: Session, tenant: Tenant, result: Result) -> Debit | None:
    """The debit a result answers: same payer number and amount (and day, when the file names it),
    sent, or already answered (then the result is applied already). A debit Bankgirot is trying
    again (status 9 earlier) is also found by a later result of another day."""
    query = select(Debit).where(
        Debit.tenant_id == tenant.id,
        Debit.payer_number == result.payer_number,
        Debit.amount == result.amount,
        Debit.status.in_(("sent", "debited", "failed", "refunded")),
    )
    dated = query.where(Debit.debit_on == result.on) if result.on is not None else query
    candidates = list(session.scalars(dated.order_by(Debit.id)))
    if not candidates and result.on is not None:
        retried = query.where(Debit.status == "sent", Debit.result_code == RENEWED, Debit.debit_on <= result.on)
        candidates = list(session.scalars(retried.order_by(Debit.id)))
    waiting = [d for d in candidates if d.status == "sent"]
    chosen = waiting or candidates
    return chosen[0] if chosen else None


def apply(session: Session, tenant: Tenant, results: list[Result], *, today: date, actor: str) -> dict[str, int]:
    """Book the debited ones as payments, fail the others; a result applied before changes nothing."""
    counts = {"debited": 0, "failed": 0, "renewed": 0, "applied_before": 0, "unknown": 0}
    booked: list[tuple[Debit, Result]] = []
    failed: list[tuple[Debit, Result]] = []
    retrying: list[tuple[Debit, Result]] = []
    for result in results:
        debit = find(session, tenant, result)
        if debit is None:
            counts["unknown"] += 1
        elif debit.status != "sent":
            counts["applied_before"] += 1
        elif result.renewed:
            if debit.result_code != RENEWED:
                retrying.append((debit, result))
            debit.result_code, debit.result_text = result.code, result.text
            counts["renewed"] += 1
        elif result.ok:
            booked.append((debit, result))
        else:
            failed.append((debit, result))
    _book(session, tenant, booked, today=today, actor=actor)
    _fail(session, tenant, failed, actor=actor)
    _retrying(session, tenant, retrying, actor=actor)
    counts["debited"], counts["failed"] = len(booked), len(failed)
    session.flush()
    return counts


def _book(session: Session, tenant: Tenant, booked: list[tuple[Debit, Result]], *, today: date, actor: str) -> None:
    if not booked:
        return
    customers = {i.id: i.customer_id for i in invoices.get_many(session, tenant, [d.invoice_id for d, _ in booked])}
    incoming = [
        payments.Incoming(
            amount=debit.amount,
            date=min(result.on or debit.debit_on, today),
            source="autogiro",
            reference=debit.reference,
            invoice_id=debit.invoice_id,
            customer_id=customers.get(debit.invoice_id),
            bank_serial=f"autogiro-{debit.id}",
            details={"autogiro": {"payer_number": debit.payer_number, "debit": debit.id}},
        )
        for debit, result in booked
    ]
    received = payments.receive(session, tenant, incoming, file_id=None, today=today, actor=actor)
    if len(received.payments) != len(booked):  # a debit booked before under its bank key: stop, apply nothing
        raise InternalError(
            f"{len(booked) - len(received.payments)} autogiro debits were booked already; nothing of the file applied"
        )
    for (debit, result), payment_id in zip(booked, received.payments, strict=True):
        debit.status, debit.payment_id = "debited", payment_id
        debit.result_code, debit.result_text = result.code, result.text
    events.publish(
        session,
        tenant.id,
        [
            {"type": "autogiro.debited", "invoice_id": d.invoice_id, "data": {"debit": d.id, "amount": d.amount}}
            for d, _ in booked
        ],
    )


def _fail(session: Session, tenant: Tenant, failed: list[tuple[Debit, Result]], *, actor: str) -> None:
    if not failed:
        return
    happenings = []
    published: list[dict[str, Any]] = []
    for debit, result in failed:
        debit.status, debit.result_code, debit.result_text = "failed", result.code, result.text
        data = {"code": _failure_code(result), "status": result.code, "reason": result.text, "debit": debit.id}
        happenings.append(Happening(debit.invoice_id, "autogiro_failed", actor, data))
        published.append({"type": "autogiro.failed", "invoice_id": debit.invoice_id, "data": data})
    record(session, tenant.id, happenings)
    events.publish(session, tenant.id, published)


def _retrying(session: Session, tenant: Tenant, retrying: list[tuple[Debit, Result]], *, actor: str) -> None:
    """Status 9 (förnyad täckningskontroll): Bankgirot tries the debit again on the coming banking
    days and a later specification gives its final status. Kvitt orders nothing again (a second
    order could take the money twice): the debit stays ``sent`` with code 9, the invoice's timeline
    says so once (``autogiro_retrying``), and the later result is applied to it."""
    if not retrying:
        return
    happenings = []
    published: list[dict[str, Any]] = []
    for debit, result in retrying:
        data = {"status": result.code, "reason": result.text, "debit": debit.id, "debit_on": debit.debit_on.isoformat()}
        happenings.append(Happening(debit.invoice_id, "autogiro_retrying", actor, data))
        published.append({"type": "autogiro.retrying", "invoice_id": debit.invoice_id, "data": data})
    record(session, tenant.id, happenings)
    events.publish(session, tenant.id, published)


# --- refunds of debits (TK77) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refund:
    """A TK77 of a payment specification: a debit made earlier that was paid back to the payer."""

    payer_number: str
    amount: int
    on: date  # the day of the debit paid back
    refunded_on: date | None
    code: str
    text: str


def apply_refunds(
    session: Session, tenant: Tenant, refunds: list[Refund], *, today: date, actor: str
) -> dict[str, int]:
    """Each refund takes the money of its debit back: the bank (1930) is credited, the invoice's
    receivable (1510) owed again, the invoice open again (``payment_reversed`` on its timeline;
    due dates past, it is overdue and reminders see it), the debit ``refunded``, and
    ``autogiro.refunded`` published. No new debit is planned for it (the payer took the money
    back): it is paid another way. A refund applied before changes nothing."""
    counts = {"refunded": 0, "applied_before": 0, "unknown": 0}
    for refund in refunds:
        debit = _refunded_debit(session, tenant, refund)
        if debit is None:
            counts["unknown"] += 1
        elif debit.status == "refunded":
            counts["applied_before"] += 1
        else:
            _reverse(session, tenant, debit, refund, today=today, actor=actor)
            counts["refunded"] += 1
    session.flush()
    return counts


def _refunded_debit(session: Session, tenant: Tenant, refund: Refund) -> Debit | None:
    query = select(Debit).where(
        Debit.tenant_id == tenant.id,
        Debit.payer_number == refund.payer_number,
        Debit.amount == refund.amount,
        Debit.status.in_(("debited", "refunded")),
    )
    candidates = list(session.scalars(query.where(Debit.debit_on == refund.on).order_by(Debit.id)))
    if not candidates:  # taken later than ordered (a renewed attempt): the latest ordered before
        earlier = query.where(Debit.debit_on <= refund.on)
        candidates = list(session.scalars(earlier.order_by(Debit.debit_on.desc(), Debit.id)))
    open_ = [d for d in candidates if d.status == "debited"]
    chosen = open_ or candidates
    return chosen[0] if chosen else None


def _reverse(session: Session, tenant: Tenant, debit: Debit, refund: Refund, *, today: date, actor: str) -> None:
    invoice = invoices.get(session, tenant, debit.invoice_id)
    on = min(refund.refunded_on or today, today)
    chart = ledger.chart_for(tenant)
    entry = EntryDraft(on, "refund", f"Autogiro återbetald till betalaren, faktura {invoice.number}", invoice.id)
    entry.add(chart[RECEIVABLES], debit.amount, customer_id=invoice.customer_id, invoice_id=invoice.id)
    entry.add(chart[BANK], -debit.amount)
    ledger.post(session, tenant.id, [entry])
    # The payment's own record of where its money went: back out to the payer, from this invoice.
    session.add(
        Allocation(
            tenant_id=tenant.id,
            payment_id=debit.payment_id,
            kind="refund",
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            amount=debit.amount,
            actor=actor[:100],
        )
    )
    data = {"debit": debit.id, "payment": debit.payment_id, "code": refund.code, "reason": refund.text}
    _reopen(session, tenant, invoice, debit.amount, today=today, actor=actor, data=data)
    debit.status, debit.result_code, debit.result_text = "refunded", refund.code, refund.text
    events.publish(
        session,
        tenant.id,
        [{"type": "autogiro.refunded", "invoice_id": debit.invoice_id, "data": {**data, "amount": debit.amount}}],
    )


def _reopen(
    session: Session, tenant: Tenant, invoice: Invoice, amount: int, *, today: date, actor: str, data: dict[str, Any]
) -> None:
    """The invoice side of a debit paid back: ``amount`` öre are owed again and the invoice is open
    (unpaid, partly paid or overdue, so reminders and event chains see it); ``payment_reversed``
    on its timeline. A credited or written-off invoice keeps its state: the customer owes the
    money on their account (the receivable posted above) and a person settles it."""
    taken = min(amount, invoice.paid)
    if invoice.state not in (states.CREDITED, states.WRITTEN_OFF) and taken > 0:
        invoice.paid -= taken
        invoice.remaining += taken
        overdue = invoice.due_date is not None and invoice.due_date < today
        start = states.UNPAID if invoice.state == states.PAID else invoice.state
        invoice.state = states.open_state_after_change(
            start, paid=invoice.paid, remaining=invoice.remaining, overdue=overdue
        )
    session.flush()
    happened = {**data, "amount": amount, "remaining": invoice.remaining, "state": invoice.state}
    record(session, tenant.id, [Happening(invoice.id, "payment_reversed", actor, happened)])


def _failure_code(result: Result) -> str:
    if result.code.isdigit() and len(result.code) == 1:
        return FAILURE_CODES.get(int(result.code), "failed")
    return "rejected"  # a comment code of a rejected payment order


def list_page(
    session: Session,
    tenant: Tenant,
    *,
    limit: int,
    starting_after: int | None,
    invoice_id: int | None = None,
    status: str | None = None,
) -> Page[Debit]:
    return paginate(
        session,
        select(Debit).where(Debit.tenant_id == tenant.id),
        Debit.id,
        limit=limit,
        starting_after=starting_after,
        equal={Debit.invoice_id: invoice_id, Debit.status: status},
    )
