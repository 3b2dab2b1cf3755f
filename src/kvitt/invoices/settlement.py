"""What happens to an issued invoice's money: payments, credits, write-offs, falling overdue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kvitt.core.db import is_postgresql, utcnow
from kvitt.core.errors import ValidationFailed
from kvitt.core.tokens import new_web_token
from kvitt.invoices import states
from kvitt.invoices.issuing import take_numbers
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.invoices.postings import document_entry, revenue_account, write_off_entry
from kvitt.invoices.schemas import CreditIn
from kvitt.invoices.timeline import Happening, record
from kvitt.invoices.totals import VatGroup, allocate, credit_figures
from kvitt.ledger import service as ledger
from kvitt.tenants.models import Tenant


def apply_payments(
    session: Session,
    tenant: Tenant,
    applied: list[tuple[Invoice, int, date, str | None, int | None]],
    *,
    today: date,
    actor: str,
) -> None:
    """The invoice side of payments: amounts, state and timeline (the payments feature books the money).

    ``applied`` holds (invoice, amount, payment date, reference, payment id). On PostgreSQL the
    new amounts and states go out as one ``UPDATE ... FROM unnest(...)`` for the whole batch
    instead of the ORM's flush of each invoice (bench/bgmax_match.py: the flush was the
    largest step of a BGMax import).
    """
    happenings = []
    changed: dict[int, Invoice] = {}
    bulk = is_postgresql(session)
    for invoice, amount, on, reference, payment_id in applied:
        states.require_action(invoice.kind, invoice.state, "pay")
        if not 0 < amount <= invoice.remaining:
            raise ValidationFailed(
                f"{amount} öre cannot go to invoice {invoice.id} (number {invoice.number}): "
                f"{invoice.remaining} öre are left on it",
                param="amount",
                code="amount_too_large",
            )
        if bulk:
            # As committed values: the object is never marked modified, so the ORM's flush has
            # nothing to look at (a modified-and-reset object still costs it a history check).
            remaining = invoice.remaining - amount
            overdue = invoice.due_date is not None and invoice.due_date < today
            paid = invoice.paid + amount
            state = states.open_state_after_change(invoice.state, paid=paid, remaining=remaining, overdue=overdue)
            for name, value in (("paid", paid), ("remaining", remaining), ("state", state)):
                set_committed_value(invoice, name, value)
        else:
            invoice.paid += amount
            _settle(invoice, amount, today)
        changed[invoice.id] = invoice
        data = {
            "amount": amount,
            "date": on.isoformat(),
            "reference": reference,
            "payment": payment_id,
            "remaining": invoice.remaining,
        }
        happenings.append(Happening(invoice.id, "payment", actor, data))
        if invoice.state == states.PAID:
            happenings.append(Happening(invoice.id, "paid", actor, {"total": invoice.total}))
    _write_amounts(session, tenant, list(changed.values()))
    record(session, tenant.id, happenings)


def _write_amounts(session: Session, tenant: Tenant, changed: list[Invoice]) -> None:
    """Write paid, remaining and state of the invoices: one statement on PostgreSQL (the objects
    already hold the values as committed ones), the ORM's flush on SQLite."""
    if not changed or not is_postgresql(session):
        session.flush()
        return
    now = utcnow()
    _update_amounts(session, tenant, changed, now)
    for invoice in changed:
        set_committed_value(invoice, "updated_at", now)
    session.flush()


def _update_amounts(session: Session, tenant: Tenant, changed: list[Invoice], now: Any) -> None:
    session.execute(
        text(
            "UPDATE invoices SET paid = c.paid, remaining = c.remaining, state = c.state, updated_at = :now"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:paid AS bigint[]), CAST(:remaining AS bigint[]),"
            " CAST(:states AS varchar[])) AS c(id, paid, remaining, state)"
            " WHERE invoices.id = c.id AND invoices.tenant_id = :tenant"
        ),
        {
            "now": now,
            "tenant": tenant.id,
            "ids": [invoice.id for invoice in changed],
            "paid": [invoice.paid for invoice in changed],
            "remaining": [invoice.remaining for invoice in changed],
            "states": [invoice.state for invoice in changed],
        },
    )


# The payments feature frees money that paid an invoice when a credit takes back more than is
# left on it: ``release(session, tenant, invoice, amount, today=, actor=, refund=, reason=)``.
# It owns allocations and customers' credit balances, and provides this at its import, so that
# invoices imports nothing of it (arrows point down).
PaymentRelease = Callable[..., object]
_payment_release: list[PaymentRelease] = []


def provide_payment_release(release: PaymentRelease) -> None:
    _payment_release[:] = [release]


def creditable(invoice: Invoice) -> int:
    """What a credit may still take back: what is left on the invoice plus what paid it."""
    return invoice.remaining + invoice.paid


def credit(session: Session, tenant: Tenant, invoice: Invoice, data: CreditIn, *, today: date, actor: str) -> Invoice:
    """Issue a credit note for the whole invoice, what remains of it, or an amount.

    A credit first takes back what is left on the invoice; beyond that (a paid or partly paid
    invoice) it frees the money that paid it: the payments feature moves that much from the
    invoice's receivable to the customer's credit balance and, when ``data.refund``, starts
    paying it back by the way it came.
    """
    states.require_action(invoice.kind, invoice.state, "credit")
    untouched = invoice.credited == 0 and invoice.written_off == 0
    if data.mode == "full" and not untouched:
        raise ValidationFailed(
            "only an invoice with no earlier credits or write-off can be credited in full; use mode 'remaining'"
            " or 'amount'",
            param="mode",
        )
    amount = {"full": invoice.total, "remaining": invoice.remaining}.get(data.mode, data.amount or 0)
    if amount <= 0:
        raise ValidationFailed(
            "nothing is left to pay on this invoice; to take back money that paid it, use mode 'full' or 'amount'",
            param="mode",
            code="nothing_to_credit",
        )
    if amount > creditable(invoice):
        raise ValidationFailed(
            f"amount {amount} is more than the {creditable(invoice)} öre this invoice can still be credited"
            f" ({invoice.remaining} left to pay, {invoice.paid} paid)",
            param="amount",
            code="amount_too_large",
        )
    freed = max(amount - invoice.remaining, 0)
    if freed and not _payment_release:
        raise RuntimeError("no payment release: import kvitt.payments.service in the program's entry point")
    if untouched and amount == invoice.total:
        note = _mirror_credit_note(tenant, invoice)
    else:
        earlier = list(
            session.scalars(
                select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.credited_invoice_id == invoice.id)
            )
        )
        note = _partial_credit_note(tenant, invoice, amount, earlier)
    note.number = take_numbers(session, tenant.id, 1)[0]
    note.invoice_date = today
    note.due_date = today
    note.issued_at = utcnow()
    if data.reason:
        note.notes = data.reason
    session.add(note)
    session.flush()
    ledger.post(session, tenant.id, [document_entry(ledger.chart_for(tenant), note, receivable_of=invoice.id)])
    invoice.credited += amount
    if freed:
        # The note took ``freed`` more off the receivable than was left: the payments that
        # paid it give that much back to the receivable, as the customer's credit balance.
        _payment_release[0](
            session,
            tenant,
            invoice,
            freed,
            today=today,
            actor=actor,
            refund=data.refund,
            reason=f"Kreditering av faktura {invoice.number}, kreditfaktura {note.number}",
        )
        invoice.paid -= freed
    _settle(invoice, amount - freed, today)
    # Closed by the credit: credited. A paid invoice credited in part stays paid (what is still
    # paid may be credited later); one credited to the last öre it was paid is credited.
    if invoice.remaining == 0 and (freed == 0 or invoice.paid == 0):
        invoice.state = states.CREDITED
    session.flush()
    happened = {"amount": amount, "credit_note": note.id, "credit_note_number": note.number, "reason": data.reason}
    if freed:
        happened |= {"freed": freed, "refund": data.refund}
    record(
        session,
        tenant.id,
        [
            Happening(invoice.id, "credited", actor, happened),
            Happening(note.id, "issued", actor, {"number": note.number, "credits": invoice.id, "total": note.total}),
        ],
    )
    return note


def write_off(
    session: Session, tenant: Tenant, invoice: Invoice, *, today: date, reason: str | None, actor: str
) -> None:
    states.require_action(invoice.kind, invoice.state, "write_off")
    amount = invoice.remaining
    ledger.post(session, tenant.id, [write_off_entry(ledger.chart_for(tenant), invoice, amount, today)])
    invoice.written_off += amount
    invoice.remaining = 0
    invoice.state = states.WRITTEN_OFF
    session.flush()
    record(session, tenant.id, [Happening(invoice.id, "written_off", actor, {"amount": amount, "reason": reason})])


def mark_overdue(session: Session, tenant: Tenant, *, today: date, actor: str = "system") -> int:
    """Move open invoices whose due date has passed to ``overdue``; returns how many moved."""
    due = list(
        session.scalars(
            select(Invoice).where(
                Invoice.tenant_id == tenant.id,
                Invoice.state.in_((states.UNPAID, states.PARTLY_PAID)),
                Invoice.due_date < today,
            )
        )
    )
    for invoice in due:
        invoice.state = states.OVERDUE
    session.flush()
    record(
        session,
        tenant.id,
        [
            Happening(
                inv.id,
                "overdue",
                actor,
                {"due_date": inv.due_date.isoformat() if inv.due_date else None, "remaining": inv.remaining},
            )
            for inv in due
        ],
    )
    return len(due)


def hand_to_collection(
    session: Session, tenant: Tenant, invoice_ids: list[int], *, actor: str, data: dict[int, dict[str, Any]]
) -> list[int]:
    """Open invoices handed to a collection agency become ``in_collection`` (payments still land on them)."""
    handed = list(
        session.scalars(
            select(Invoice).where(
                Invoice.tenant_id == tenant.id,
                Invoice.id.in_(invoice_ids),
                Invoice.state.in_((states.UNPAID, states.PARTLY_PAID, states.OVERDUE)),
            )
        )
    )
    for invoice in handed:
        invoice.state = states.IN_COLLECTION
    session.flush()
    record(session, tenant.id, [Happening(inv.id, "in_collection", actor, data.get(inv.id, {})) for inv in handed])
    return [invoice.id for invoice in handed]


def return_from_collection(
    session: Session, tenant: Tenant, invoice: Invoice, *, today: date, actor: str, data: dict[str, Any]
) -> None:
    """The agency gave an invoice back unpaid: it is open again, overdue if past its due date."""
    if invoice.state != states.IN_COLLECTION:
        return
    overdue = invoice.due_date is not None and invoice.due_date < today
    invoice.state = states.OVERDUE if overdue else (states.PARTLY_PAID if invoice.paid else states.UNPAID)
    session.flush()
    record(session, tenant.id, [Happening(invoice.id, "collection_ended", actor, data)])


def _settle(invoice: Invoice, amount: int, today: date) -> None:
    invoice.remaining -= amount
    overdue = invoice.due_date is not None and invoice.due_date < today
    invoice.state = states.open_state_after_change(
        invoice.state, paid=invoice.paid, remaining=invoice.remaining, overdue=overdue
    )


def _new_credit_note(tenant: Tenant, invoice: Invoice) -> Invoice:
    return Invoice(
        tenant_id=tenant.id,
        customer_id=invoice.customer_id,
        kind="credit_note",
        state=states.PAID,  # applied in full to the invoice it credits at once
        token=new_web_token(),
        currency=invoice.currency,
        credited_invoice_id=invoice.id,
        buyer=invoice.buyer,
        info=[],
        metadata_={},
        paid=0,
        credited=0,
        written_off=0,
        remaining=0,
        with_invoice_fee=False,
    )


def _mirror_credit_note(tenant: Tenant, invoice: Invoice) -> Invoice:
    """The whole invoice taken back: its own lines with the prices negated."""
    note = _new_credit_note(tenant, invoice)
    note.lines = [_negated(line) for line in invoice.lines]
    _set_totals(note, [VatGroup(g["rate"], -g["net"], -g["vat"]) for g in invoice.vat_summary], -invoice.rounding)
    return note


def _partial_credit_note(tenant: Tenant, invoice: Invoice, amount: int, earlier: list[Invoice]) -> Invoice:
    """A credit of ``amount`` against what earlier credit notes left of each rate and account.

    One line per VAT rate and revenue account, so that the reversal lands on the accounts the
    invoice was booked on; the last credit that empties the invoice reverses exactly what is left.
    """
    chart = ledger.chart_for(tenant)
    open_net: dict[tuple[int, str], int] = defaultdict(int)
    open_vat: dict[int, int] = defaultdict(int)
    for document in [invoice, *earlier]:
        for line in document.lines:
            open_net[(line.vat_rate, revenue_account(chart, line))] += line.net
        for group in document.vat_summary:
            open_vat[group["rate"]] += group["vat"]
    open_groups = [
        VatGroup(rate, sum(net for (r, _), net in open_net.items() if r == rate), vat) for rate, vat in open_vat.items()
    ]
    open_rounding = invoice.rounding + sum(document.rounding for document in earlier)
    groups, rounding = credit_figures(amount, open_groups, open_rounding)

    note = _new_credit_note(tenant, invoice)
    lines = []
    for group in groups:
        accounts = [(account, net) for (rate, account), net in sorted(open_net.items()) if rate == group.rate and net]
        nets = allocate(group.net, [net for _, net in accounts]) if accounts else []
        for (account, _), net in zip(accounts, nets, strict=True):
            lines.append(
                InvoiceLine(
                    tenant_id=tenant.id,
                    position=len(lines) + 1,
                    kind="item",
                    description=f"Kreditering av faktura {invoice.number}, {group.rate} % moms",
                    quantity_milli=1000,
                    unit_price=-net,
                    discount_bp=0,
                    vat_rate=group.rate,
                    account=account,
                    net=-net,
                )
            )
    note.lines = lines
    _set_totals(note, [VatGroup(g.rate, -g.net, -g.vat) for g in groups], -rounding)
    if note.total != -amount:
        raise RuntimeError(f"credit note of {note.total} for a credit of {amount}")
    return note


def _set_totals(note: Invoice, groups: list[VatGroup], rounding: int) -> None:
    note.vat_summary = [g.as_dict() for g in groups]
    note.net = sum(g.net for g in groups)
    note.vat = sum(g.vat for g in groups)
    note.rounding = rounding
    note.total = note.net + note.vat + rounding


def _negated(line: InvoiceLine) -> InvoiceLine:
    return InvoiceLine(
        tenant_id=line.tenant_id,
        position=line.position,
        kind=line.kind,
        item_id=line.item_id,
        article_no=line.article_no,
        description=line.description,
        quantity_milli=line.quantity_milli,
        unit=line.unit,
        unit_price=-line.unit_price,
        discount_bp=line.discount_bp,
        vat_rate=line.vat_rate,
        account=line.account,
        net=-line.net,
    )
