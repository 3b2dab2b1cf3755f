"""*Avvikelser*: the queue of payments the bank files could not settle by themselves (no or an
unknown reference, an invoice already settled, an overpayment, a deduction), oldest first, with
the suggested matches of ``payments.service.suggestions``; each resolved in one click through
``payments.service.resolve`` (the API's ``POST /deviations/{id}/resolve``): allocate to a
suggested invoice, refund, keep as the customer's credit, or assign to a customer by number.
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
from kvitt.admin.common import PAGE_SIZE, act, actor, read, whole_number
from kvitt.admin.nav import roles_of
from kvitt.core import clock
from kvitt.core.errors import NotFound, ValidationFailed
from kvitt.customers import service as customers
from kvitt.payments import service as payments
from kvitt.payments.models import Deviation, Payment
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("deviations"))
ACTIONS = ("match", "refund", "keep", "assign")


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
    rows = read(request, staff, lambda session, tenant: queue(session, tenant, state))
    context = {"rows": rows, "state": state, "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/deviations.html", context, nav="deviations")


@router.post("/admin/avvikelser/{deviation_id}/losning")
async def resolve(deviation_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        action = form.get("action", "")
        if action not in ACTIONS:
            raise ValidationFailed("choose how to resolve the deviation", param="action")
        deviation = payments.get_deviation(session, tenant, deviation_id)
        allocations: list[tuple[int, int]] = []
        customer_id = None
        if action == "match":
            allocations = [
                (whole_number(form.get("invoice", ""), "invoice"), whole_number(form.get("amount", ""), "amount"))
            ]
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
            amount=None,
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

    return await act(request, staff, FINANCE_ACTORS, work, "/admin/avvikelser")
