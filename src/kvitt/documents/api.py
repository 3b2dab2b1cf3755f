"""``GET /api/v1/invoices/{id}/pdf`` and ``GET /api/v1/invoices/{id}/ubl``: an issued invoice's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, TenantRoute, request_session, request_tenant
from kvitt.core.config import web_base_url
from kvitt.documents.data import load
from kvitt.documents.pdf import render
from kvitt.documents.ubl import MEDIA_TYPE as UBL_MEDIA_TYPE
from kvitt.documents.ubl import invoice_ubl
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/invoices", tags=["invoices"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
PDF_MEDIA_TYPE = "application/pdf"


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The invoice or credit note as an A4 PDF with a payment QR code (UsingQR) and a QR "
            "code to the web invoice.",
            "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def invoice_pdf(
    invoice_id: PathId,
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
    letter: Annotated[bool, Query(description="the print version for a C5 window envelope")] = False,
) -> Response:
    """An issued invoice as a PDF; a draft gets 409 ``invalid_state``."""
    document = load(session, tenant.id, invoice_id, base_url=web_base_url(request.app.state.settings))
    name = ("kreditfaktura" if document.invoice.kind == "credit_note" else "faktura") + f"-{document.invoice.number}"
    return Response(
        content=render(document, letter=letter),
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.get(
    "/{invoice_id}/ubl",
    response_class=Response,
    responses={
        200: {
            "description": "The invoice as a Peppol BIS Billing 3.0 UBL 2.1 Invoice (a credit note: CreditNote).",
            "content": {UBL_MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
def invoice_ubl_document(invoice_id: PathId, session: SessionDep, tenant: TenantDep) -> Response:
    """An issued invoice as a Peppol e-invoice; a draft gets 409, a buyer without a Peppol address 422."""
    return Response(
        content=invoice_ubl(session, tenant.id, invoice_id),
        media_type=UBL_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="invoice-{invoice_id}.xml"'},
    )
