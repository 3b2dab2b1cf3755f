"""``/api/v1/invoices/{id}/payment-requests``, ``/payment-requests/{id}`` (and its refunds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from kvitt.checkout import refunds, service
from kvitt.checkout.models import PaymentRequest, Refund
from kvitt.checkout.schemas import PaymentRequestIn, PaymentRequestOut, RefundIn, RefundOut
from kvitt.core.api import PathId, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.config import web_base_url
from kvitt.core.schemas import ListResponse
from kvitt.formats import swish_commerce
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["checkout"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
ACTOR = "api"


def refund_out(refund: Refund) -> RefundOut:
    return RefundOut(
        id=refund.id,
        payment_request=refund.request_id,
        method=refund.method,
        amount=refund.amount,
        state=refund.state,
        provider_reference=refund.provider_reference,
        error_code=refund.error_code,
        error_message=refund.error_message,
        reason=refund.reason,
        created_at=refund.created_at,
        ended_at=refund.ended_at,
    )


def explained(request: PaymentRequest, locale: str = "en") -> str | None:
    """Why a request did not go through, in plain words (Swish's codes; a card's own message)."""
    if request.state in ("created", "paid"):
        return None
    if request.error_code == service.SETTLED_ANOTHER_WAY:
        return request.error_message  # Kvitt cancelled it: says why (paid another way, credited ...)
    if request.method == "swish" or request.error_code in swish_commerce.ERRORS:
        return swish_commerce.explain(request.error_code, locale)
    return request.error_message or ("The card payment did not go through." if locale == "en" else None)


def request_out(session: Session, tenant: Tenant, request: PaymentRequest) -> PaymentRequestOut:
    return PaymentRequestOut(
        id=request.id,
        invoice=request.invoice_id,
        method=request.method,
        flow=request.flow,
        amount=request.amount,
        currency=request.currency,
        state=request.state,
        provider_reference=request.provider_reference,
        token=request.provider_token,
        payer_alias=request.payer_alias,
        error_code=request.error_code,
        error_message=explained(request),
        payment=request.payment_id,
        paid_amount=request.paid_amount,
        refunded=request.refunded,
        refunds=[refund_out(r) for r in refunds.of_request(session, tenant, request.id)],
        created_at=request.created_at,
        ended_at=request.ended_at,
    )


@router.post("/invoices/{invoice_id}/payment-requests", response_model=PaymentRequestOut, status_code=201)
def create_payment_request(
    invoice_id: PathId, body: PaymentRequestIn, request: Request, session: SessionDep, tenant: TenantDep
) -> PaymentRequestOut:
    """Ask the payer to pay what is left on the invoice by Swish (``payer_alias``: the payer's
    phone; without it a token for the Swish app or a QR code) or by card. The amount is the
    invoice's remaining amount; a paid, credited or written-off invoice is refused (409)."""
    asked = service.Asked(body.method, body.payer_alias)
    callback_base = web_base_url(request.app.state.settings)
    made = service.create_request(session, tenant, invoice_id, asked, callback_base=callback_base, actor=ACTOR)
    return request_out(session, tenant, made)


@router.get("/invoices/{invoice_id}/payment-requests", response_model=ListResponse[PaymentRequestOut])
def list_payment_requests(
    invoice_id: PathId, session: SessionDep, tenant: TenantDep
) -> ListResponse[PaymentRequestOut]:
    found = service.for_invoice(session, tenant, invoice_id)
    return ListResponse[PaymentRequestOut](data=[request_out(session, tenant, r) for r in found], has_more=False)


@router.get("/payment-requests/{request_id}", response_model=PaymentRequestOut)
@point_read
def get_payment_request(request_id: PathId, session: SessionDep, tenant: TenantDep) -> PaymentRequestOut:
    return request_out(session, tenant, service.get(session, tenant, request_id))


@router.post("/payment-requests/{request_id}/refunds", response_model=RefundOut, status_code=201)
def create_refund(request_id: PathId, body: RefundIn, session: SessionDep, tenant: TenantDep) -> RefundOut:
    """Pay back, through the provider that took it, money the payment still holds (paid twice or
    too much; not money that paid an invoice). Booked when the provider says it is paid."""
    made = refunds.create_refund(session, tenant, request_id, body.amount, reason=body.reason, actor=ACTOR)
    return refund_out(made)
