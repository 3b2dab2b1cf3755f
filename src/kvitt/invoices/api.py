"""``/api/v1/invoices``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import PathId, QueryId, QueryText, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.config import web_base_url
from kvitt.core.money import format_percent_bp, format_quantity
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.invoices import reads, service, states
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.invoices.schemas import (
    CreditIn,
    EventOut,
    InvoiceCreate,
    InvoiceOut,
    InvoiceUpdate,
    LineOut,
    VatGroupOut,
    WriteOffIn,
)
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/invoices", tags=["invoices"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
ACTOR = "api"


async def public_url(request: Request) -> str:
    return web_base_url(request.app.state.settings)


PublicUrl = Annotated[str, Depends(public_url)]


def to_out(invoice: Invoice, base_url: str, events: list[InvoiceEvent] | None = None) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        kind=invoice.kind,  # type: ignore[arg-type]
        number=invoice.number,
        ocr=invoice.ocr,
        state=invoice.state,
        currency=invoice.currency,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        customer=invoice.customer_id,
        buyer=invoice.buyer,
        lines=[
            LineOut(
                id=line.id,
                kind=line.kind,
                item=line.item_id,
                article_no=line.article_no,
                description=line.description,
                quantity=format_quantity(line.quantity_milli),
                unit=line.unit,
                unit_price=line.unit_price,
                discount_percent=format_percent_bp(line.discount_bp) if line.discount_bp else None,
                vat_rate=line.vat_rate,
                account=line.account,
                net=line.net,
            )
            for line in invoice.lines
        ],
        vat_summary=[VatGroupOut(**group) for group in invoice.vat_summary],
        net=invoice.net,
        vat=invoice.vat,
        rounding=invoice.rounding,
        total=invoice.total,
        paid=invoice.paid,
        credited=invoice.credited,
        written_off=invoice.written_off,
        remaining=invoice.remaining,
        url=f"{base_url}/i/{invoice.token}",
        credited_invoice=invoice.credited_invoice_id,
        notes=invoice.notes,
        info=invoice.info,
        metadata=invoice.metadata_,
        available_actions=states.available_actions(invoice.kind, invoice.state),
        events=None
        if events is None
        else [EventOut(id=e.id, type=e.type, at=e.at, actor=e.actor, data=e.data) for e in events],
        created_at=invoice.created_at,
        issued_at=invoice.issued_at,
    )


def with_events(session: Session, tenant: Tenant, invoice: Invoice, base_url: str) -> InvoiceOut:
    return to_out(invoice, base_url, service.events_of(session, tenant, [invoice.id])[invoice.id])


@router.post("", status_code=201, response_model=InvoiceOut)
def create_invoice(body: InvoiceCreate, session: SessionDep, tenant: TenantDep, base_url: PublicUrl) -> InvoiceOut:
    (invoice,) = service.create_drafts(session, tenant, [body], actor=ACTOR)
    return with_events(session, tenant, invoice, base_url)


@router.get("", response_model=ListResponse[InvoiceOut])
def list_invoices(
    session: SessionDep,
    tenant: TenantDep,
    base_url: PublicUrl,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    state: Literal[states.STATES] | None = None,  # type: ignore[valid-type]
    customer: QueryId = None,
    kind: Literal["invoice", "credit_note"] | None = None,
    invoice_date_from: date | None = None,
    invoice_date_to: date | None = None,
    due_date_from: date | None = None,
    due_date_to: date | None = None,
    number: QueryId = None,
    ocr: QueryText = None,
) -> ListResponse[InvoiceOut]:
    page = service.list_page(
        session,
        tenant,
        limit=limit,
        starting_after=starting_after,
        state=state,
        customer=customer,
        kind=kind,
        invoice_date_from=invoice_date_from,
        invoice_date_to=invoice_date_to,
        due_date_from=due_date_from,
        due_date_to=due_date_to,
        number=number,
        ocr=ocr,
    )
    return ListResponse[InvoiceOut](data=[to_out(inv, base_url) for inv in page.items], has_more=page.has_more)


@router.get("/{invoice_id}", response_model=InvoiceOut)
@point_read
def get_invoice(invoice_id: PathId, session: SessionDep, tenant: TenantDep, base_url: PublicUrl) -> Response:
    # Rows, not ORM objects, serialized once (invoices/reads.py): InvoiceOut's JSON, the
    # response model only documents it.
    return Response(reads.invoice_json(session, tenant.id, invoice_id, base_url), media_type="application/json")


@router.patch("/{invoice_id}", response_model=InvoiceOut)
def update_invoice(
    invoice_id: PathId, body: InvoiceUpdate, session: SessionDep, tenant: TenantDep, base_url: PublicUrl
) -> InvoiceOut:
    invoice = service.get(session, tenant, invoice_id, for_update=True)
    return with_events(session, tenant, service.update_draft(session, tenant, invoice, body, actor=ACTOR), base_url)


@router.delete("/{invoice_id}")
def delete_invoice(invoice_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete_draft(session, service.get(session, tenant, invoice_id, for_update=True))
    return {"id": invoice_id, "object": "invoice", "deleted": True}


@router.post("/{invoice_id}/issue", response_model=InvoiceOut)
def issue_invoice(invoice_id: PathId, session: SessionDep, tenant: TenantDep, base_url: PublicUrl) -> InvoiceOut:
    invoice = service.get(session, tenant, invoice_id, for_update=True)
    service.issue(session, tenant, [invoice], today=clock.today(), actor=ACTOR)
    return with_events(session, tenant, invoice, base_url)


@router.post("/{invoice_id}/credit", response_model=InvoiceOut, status_code=201)
def credit_invoice(
    invoice_id: PathId, session: SessionDep, tenant: TenantDep, base_url: PublicUrl, body: CreditIn | None = None
) -> InvoiceOut:
    """Issue a credit note; the response is the credit note (its ``credited_invoice`` names the invoice)."""
    invoice = service.get(session, tenant, invoice_id, for_update=True)
    note = service.credit(session, tenant, invoice, body or CreditIn(), today=clock.today(), actor=ACTOR)
    return with_events(session, tenant, note, base_url)


@router.post("/{invoice_id}/write-off", response_model=InvoiceOut)
def write_off_invoice(
    invoice_id: PathId, session: SessionDep, tenant: TenantDep, base_url: PublicUrl, body: WriteOffIn | None = None
) -> InvoiceOut:
    invoice = service.get(session, tenant, invoice_id, for_update=True)
    service.write_off(session, tenant, invoice, today=clock.today(), reason=(body or WriteOffIn()).reason, actor=ACTOR)
    return with_events(session, tenant, invoice, base_url)


@router.get("/{invoice_id}/events", response_model=ListResponse[EventOut])
def invoice_events(invoice_id: PathId, session: SessionDep, tenant: TenantDep) -> ListResponse[EventOut]:
    invoice = service.get(session, tenant, invoice_id)
    events = service.events_of(session, tenant, [invoice.id])[invoice.id]
    return ListResponse[EventOut](
        data=[EventOut(id=e.id, type=e.type, at=e.at, actor=e.actor, data=e.data) for e in events], has_more=False
    )
