"""``/api/v1/invoices/{id}/messages`` (staff read and answer the recipient) and
``/api/v1/invoices/{id}/web`` (the web invoice's address, first and last opened)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, TenantRoute, request_session, request_tenant
from kvitt.core.config import web_base_url
from kvitt.core.schemas import ListResponse, NoNul
from kvitt.invoices import service as invoices
from kvitt.tenants.models import Tenant
from kvitt.web import messages, visits

router = APIRouter(prefix="/invoices", tags=["web invoice"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


class MessageIn(NoNul):
    text: str = Field(min_length=1, max_length=messages.MAX_LENGTH)


class MessageOut(BaseModel):
    id: int
    object: Literal["message"] = "message"
    invoice: int
    author: Literal["recipient", "staff", "system"]
    text: str
    created_at: datetime


class WebInvoiceOut(BaseModel):
    object: Literal["web_invoice"] = "web_invoice"
    invoice: int
    url: str
    first_opened_at: datetime | None
    # Kept to the minute (a busy page is not written on every view).
    last_opened_at: datetime | None


@router.get("/{invoice_id}/messages", response_model=ListResponse[MessageOut])
def list_messages(invoice_id: PathId, session: SessionDep, tenant: TenantDep) -> ListResponse[MessageOut]:
    invoices.get(session, tenant, invoice_id)
    data = [MessageOut(**messages.message_out(e)) for e in messages.messages_of(session, tenant.id, invoice_id)]
    return ListResponse[MessageOut](data=data, has_more=False)


@router.post("/{invoice_id}/messages", response_model=MessageOut, status_code=201)
def answer(invoice_id: PathId, body: MessageIn, session: SessionDep, tenant: TenantDep) -> MessageOut:
    """Staff write to the recipient; the answer shows on the web invoice's Meddelanden tab."""
    invoices.get(session, tenant, invoice_id)
    return MessageOut(**messages.post_message(session, tenant.id, invoice_id, author="staff", text=body.text))


@router.get("/{invoice_id}/web", response_model=WebInvoiceOut)
def web_invoice(invoice_id: PathId, request: Request, session: SessionDep, tenant: TenantDep) -> WebInvoiceOut:
    invoice = invoices.get(session, tenant, invoice_id)
    visit = visits.visit_of(session, tenant.id, invoice_id)
    return WebInvoiceOut(
        invoice=invoice.id,
        url=f"{web_base_url(request.app.state.settings)}/i/{invoice.token}",
        first_opened_at=visit.first_opened_at if visit else None,
        last_opened_at=visit.last_opened_at if visit else None,
    )
