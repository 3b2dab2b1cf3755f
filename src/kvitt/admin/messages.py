"""*Meddelanden*: every conversation with customers, the unanswered first; the answer is written
in place (``POST /admin/fakturor/{id}/meddelanden``, the same ``web.messages.post_message`` as the
API) and shows on the customer's web invoice."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, read
from kvitt.admin.nav import roles_of
from kvitt.invoices.models import InvoiceEvent
from kvitt.tenants.models import Tenant
from kvitt.web import inbox

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("messages"))


@router.get("/admin/meddelanden")
def message_inbox(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    only_waiting = request.query_params.get("visa") == "obesvarade"
    page_no = int(request.query_params.get("sida", "1")) if request.query_params.get("sida", "1").isdigit() else 1
    page_no = max(1, min(page_no, 1000))

    def load(session: Session, tenant: Tenant) -> tuple[list[inbox.Conversation], dict[int, list[InvoiceEvent]]]:
        found = inbox.conversations(
            session, tenant.id, unanswered_only=only_waiting, limit=PAGE_SIZE + 1, offset=(page_no - 1) * PAGE_SIZE
        )
        threads = inbox.thread(session, tenant.id, [c.invoice.id for c in found[:PAGE_SIZE]])
        return found, threads

    found, threads = read(request, staff, load)
    context = {
        "conversations": found[:PAGE_SIZE],
        "threads": threads,
        "more": len(found) > PAGE_SIZE,
        "page_no": page_no,
        "only_waiting": only_waiting,
        "done": request.query_params.get("done"),
    }
    return render.page(request, staff, "admin/messages.html", context, nav="messages")
