"""Avbetalningsplan: what is left of an invoice split into scheduled parts.

While a plan is kept, dunning leaves the invoice alone; the customer pays each part with the
invoice's own OCR. The plan breaks when a part's due date has passed and less has been paid
since the plan began than the parts due so far; dunning then resumes where it was. The fee for
setting up a plan is at most 170 kr (förordning 1981:1057 2 §) and is a charge invoice of its own.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.dunning import law
from kvitt.dunning.charges import Charge, issue_charges
from kvitt.dunning.models import InstalmentPlan
from kvitt.dunning.schemas import PlanCreate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.tenants.models import Tenant


def split(amount: int, parts: int) -> list[int]:
    """Equal parts in öre; the first ones carry the öre that do not divide evenly."""
    base, extra = divmod(amount, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def create(session: Session, tenant: Tenant, data: PlanCreate, *, today: date, actor: str) -> InstalmentPlan:
    try:
        law.check_instalment_fee(data.fee)
    except law.FeeAboveCap as exc:
        raise ValidationFailed(str(exc), param="fee", code="fee_above_legal_cap") from exc
    invoice = invoices.get(session, tenant, data.invoice, for_update=True)
    if invoice.kind != "invoice" or invoice.state not in (states.UNPAID, states.PARTLY_PAID, states.OVERDUE):
        raise Conflict(
            f"an invoice that is {invoice.state.replace('_', ' ')} cannot get an instalment plan", code="invalid_state"
        )
    if data.first_due_date < today:
        raise ValidationFailed("the first part cannot be due in the past", param="first_due_date")
    active = session.scalar(
        select(InstalmentPlan.id).where(
            InstalmentPlan.tenant_id == tenant.id,
            InstalmentPlan.invoice_id == invoice.id,
            InstalmentPlan.state == "active",
        )
    )
    if active is not None:
        raise Conflict("this invoice already has an active instalment plan", code="plan_exists")
    amounts = split(invoice.remaining, data.parts)
    parts = [
        {"due_date": (data.first_due_date + timedelta(days=data.interval_days * i)).isoformat(), "amount": amount}
        for i, amount in enumerate(amounts)
    ]
    (charge_id,) = issue_charges(
        session,
        tenant,
        [
            Charge(
                customer_id=invoice.customer_id,
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                on=today,
                due_date=data.first_due_date,
                fee=data.fee,
                fee_text=f"Avgift för avbetalningsplan ({law.INSTALMENT_FEE_LAW})",
                interest=0,
                interest_text="",
            )
        ],
        actor=actor,
    )
    plan = InstalmentPlan(
        tenant_id=tenant.id,
        invoice_id=invoice.id,
        amount=invoice.remaining,
        paid_before=invoice.paid + invoice.credited,
        fee=data.fee,
        charge_invoice_id=charge_id,
        parts=parts,
        state="active",
    )
    session.add(plan)
    session.flush()
    record(
        session,
        tenant.id,
        [Happening(invoice.id, "instalment_plan_created", actor, {"plan": plan.id, "parts": parts, "fee": data.fee})],
    )
    return plan


def break_missed_plans(session: Session, tenant: Tenant, *, today: date, actor: str) -> int:
    """End the active plans that were kept to the end, or broken; returns how many broke."""
    rows = session.execute(
        select(InstalmentPlan, Invoice)
        .join(Invoice, Invoice.id == InstalmentPlan.invoice_id)
        .where(InstalmentPlan.tenant_id == tenant.id, InstalmentPlan.state == "active")
    ).all()
    broken = 0
    happenings = []
    for plan, invoice in rows:
        if invoice.remaining == 0 or invoice.state not in states.OPEN_STATES:
            plan.state, plan.ended_on = "completed", today
            happenings.append(Happening(invoice.id, "instalment_plan_completed", actor, {"plan": plan.id}))
            continue
        paid_since = invoice.paid + invoice.credited - plan.paid_before
        owed_by_now = sum(p["amount"] for p in plan.parts if date.fromisoformat(p["due_date"]) < today)
        if paid_since < owed_by_now:
            plan.state, plan.ended_on = "broken", today
            broken += 1
            data = {"plan": plan.id, "paid": paid_since, "owed": owed_by_now}
            happenings.append(Happening(invoice.id, "instalment_plan_broken", actor, data))
    session.flush()
    record(session, tenant.id, happenings)
    return broken


def get(session: Session, tenant: Tenant, plan_id: int) -> InstalmentPlan:
    row = session.scalar(
        select(InstalmentPlan).where(InstalmentPlan.tenant_id == tenant.id, InstalmentPlan.id == plan_id)
    )
    if row is None:
        raise NotFound(f"no instalment plan {plan_id}", param="instalment_plan")
    return row


def list_page(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[InstalmentPlan]:
    query = select(InstalmentPlan).where(InstalmentPlan.tenant_id == tenant.id)
    return paginate(session, query, InstalmentPlan.id, limit=limit, starting_after=starting_after)
