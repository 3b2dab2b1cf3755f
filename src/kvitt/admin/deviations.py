"""*Avvikelser*: the queue of payments the bank files could not settle by themselves (no or an
unknown reference, an invoice already settled, an overpayment, a deduction), oldest first, with
the suggested matches of ``payments.service.suggestions``; each resolved in one click through
``payments.service.resolve`` (the API's ``POST /deviations/{id}/resolve``): allocate to a
suggested invoice, refund, keep as the customer's credit, or assign to a customer by number.

Besides the one-click answers, two the API's ``resolve`` takes with amounts, in plain forms (no
JavaScript): a **split** of the payment over several invoices (``action=match`` with up to
``SPLIT_ROWS`` rows of invoice number and amount in kronor: the API's ``allocations``) and a
**partial refund** (``action=refund`` with ``refund_amount`` in kronor: the API's ``amount``;
empty pays back what the service's default is). What the service refuses (more than the payment
holds, more than an invoice has left, an invoice not open, an invoice number the tenant does not
have) rolls everything back and is shown on the page, at the deviation, with what was typed (422).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import FINANCE_ACTORS, StaffMember, require_staff
from kvitt.admin.common import (
    PAGE_SIZE,
    act,
    actor,
    amount_ore,
    read,
    whole_number,
)
from kvitt.admin.nav import roles_of
from kvitt.core import clock
from kvitt.core.errors import KvittError, NotFound, ValidationFailed
from kvitt.customers import service as customers
from kvitt.invoices.models import Invoice
from kvitt.payments import service as payments
from kvitt.payments.models import Deviation, Payment
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("deviations"))
ACTIONS = ("match", "refund", "keep", "assign")
SPLIT_ROWS = 4  # invoice rows of the split form


def queue(session: Session, tenant: Tenant, state: str) -> list[dict[str, Any]]:
    query = (
        select(Deviation, Payment)
        .join(Payment, Payment.id == Deviation.payment_id)
        .where(Deviation.tenant_id == tenant.id, Payment.tenant_id == tenant.id, Deviation.state == state)
        .order_by(Deviation.id if state == "open" else Deviation.id.desc())
        .limit(PAGE_SIZE)
    )
    rows = []
    for deviation, payment in session.execute(query).all():
        suggested = payments.suggestions(session, tenant, deviation, payment) if state == "open" else []
        for suggestion in suggested:
            suggestion["allocate"] = min(payment.unallocated, suggestion["remaining"])
        rows.append({"deviation": deviation, "payment": payment, "suggestions": suggested})
    return rows


@router.get("/admin/avvikelser")
def deviation_queue(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    state = "resolved" if request.query_params.get("state") == "resolved" else "open"
    return _queue_page(request, staff, state)


def _queue_page(
    request: Request,
    staff: StaffMember,
    state: str,
    *,
    refused: tuple[int, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The queue; after a refusal, the service's message at its deviation with the form as typed."""
    rows = read(request, staff, lambda session, tenant: queue(session, tenant, state))
    context = {
        "rows": rows,
        "state": state,
        "done": None if refused else request.query_params.get("done"),
        "split_rows": range(1, SPLIT_ROWS + 1),
        "refused": refused,
        "typed": typed or {},
    }
    status = 422 if refused else 200
    return render.page(request, staff, "admin/deviations.html", context, nav="deviations", status_code=status)


def _split(session: Session, tenant: Tenant, form: dict[str, str]) -> list[tuple[int, int]]:
    """The split form's rows (invoice number, kronor) as the API's allocations (invoice id, öre);
    empty rows are skipped. A number the tenant has no invoice with is refused naming its row."""
    allocations = []
    for row in range(1, SPLIT_ROWS + 1):
        number, amount = form.get(f"number_{row}", "").strip(), form.get(f"amount_{row}", "").strip()
        if not number and not amount:
            continue
        if not number.isdigit() or len(number) > 18:
            raise ValidationFailed(f"row {row}: the invoice number, e.g. 1042", param=f"number_{row}")
        invoice_id = session.scalar(
            select(Invoice.id).where(Invoice.tenant_id == tenant.id, Invoice.number == int(number))
        )
        if invoice_id is None:
            raise NotFound(f"row {row}: no invoice number {number}", param=f"number_{row}")
        allocations.append((invoice_id, amount_ore(amount, f"row {row}: amount")))
    if not allocations:
        raise ValidationFailed("write at least one invoice number and amount", param="number_1")
    return allocations


@router.post("/admin/avvikelser/{deviation_id}/losning")
async def resolve(deviation_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """One answer to the deviation through ``payments.service.resolve`` (the API's): ``match``
    (one suggested invoice by id and öre, or the split form's rows), ``refund`` (all, or
    ``refund_amount`` kronor), ``keep``, ``assign`` (by customer number)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        action = form.get("action", "")
        if action not in ACTIONS:
            raise ValidationFailed("choose how to resolve the deviation", param="action")
        deviation = payments.get_deviation(session, tenant, deviation_id)
        allocations: list[tuple[int, int]] = []
        customer_id = None
        amount = None
        if action == "match" and form.get("split") == "1":
            allocations = _split(session, tenant, form)
        elif action == "match":
            allocations = [
                (whole_number(form.get("invoice", ""), "invoice"), whole_number(form.get("amount", ""), "amount"))
            ]
        if action == "refund" and form.get("refund_amount", "").strip():
            amount = amount_ore(form["refund_amount"], "refund_amount")
        if action == "assign":
            found = customers.find_by_number(session, tenant, form.get("customer_no", "").strip())
            if found is None:
                raise NotFound("no customer with that customer number", param="customer_no")
            customer_id = found.id
        before = {"state": deviation.state, "kind": deviation.kind, "amount": deviation.amount}
        payments.resolve(
            session,
            tenant,
            deviation,
            action=action,
            allocations=allocations,
            customer_id=customer_id,
            amount=amount,
            note=form.get("note") or None,
            today=clock.today(),
            actor=actor(staff),
        )
        audit(
            session,
            staff,
            "deviation.resolve",
            before,
            {"state": deviation.state, **(deviation.resolution or {})},
            target=f"deviation:{deviation.id}",
        )
        return "/admin/avvikelser?done=resolved"

    def refused(error: KvittError, form: dict[str, str]) -> Response | None:
        if isinstance(error, NotFound) and error.param == "deviation":  # none of this tenant's: 404
            return None
        return _queue_page(request, staff, "open", refused=(deviation_id, error.message), typed=form)

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/avvikelser", refused=refused)
