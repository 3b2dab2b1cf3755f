"""``/api/v1/invoices/{id}/send``, ``/invoices/{id}/deliveries``, ``/delivery/settings``,
``/delivery/bounces``; and the public ``/callbacks/sms/{token}`` for 46elks' delivery reports."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, TenantRoute, request_session, request_tenant
from kvitt.core.schemas import ListResponse
from kvitt.delivery import service
from kvitt.delivery.models import Delivery
from kvitt.delivery.schemas import BounceIn, DeliveryOut, DeliverySettingsIn, DeliverySettingsOut, SendIn
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["delivery"], route_class=TenantRoute)
callbacks = APIRouter(include_in_schema=False)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
ACTOR = "api"


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        invoice=delivery.invoice_id,
        document=delivery.document,
        reminder=delivery.reminder_id,
        chain=delivery.chain,
        channel=delivery.channel,  # type: ignore[arg-type]
        first_channel=delivery.first_channel,  # type: ignore[arg-type]
        reason=delivery.reason,
        state=delivery.state,
        recipient=delivery.recipient,
        provider_ref=delivery.provider_ref,
        batch=delivery.batch,
        error=delivery.error,
        actor=delivery.actor,
        created_at=delivery.created_at,
        sent_at=delivery.sent_at,
    )


@router.post("/invoices/{invoice_id}/send", response_model=DeliveryOut, status_code=202)
def send_invoice(invoice_id: PathId, body: SendIn, session: SessionDep, tenant: TenantDep) -> DeliveryOut:
    """Send the invoice again, on ``method`` or (empty) the customer's preference with fallback.

    Each call is a new, explicit delivery (use an Idempotency-Key to make a retried request
    safe); the automatic delivery on issue happens once whatever happens.
    """
    delivery = service.start_delivery(
        session, tenant.id, invoice_id, channel=body.method, reason=service.RESEND, actor=ACTOR
    )
    assert delivery is not None  # a resend opens a new chain: it always inserts
    return delivery_out(delivery)


@router.get("/invoices/{invoice_id}/deliveries", response_model=ListResponse[DeliveryOut])
def list_deliveries(invoice_id: PathId, session: SessionDep, tenant: TenantDep) -> ListResponse[DeliveryOut]:
    """Every delivery attempt of the invoice and its reminders, oldest first."""
    found = service.deliveries_of(session, tenant, invoice_id)
    return ListResponse(data=[delivery_out(d) for d in found], has_more=False)


@router.get("/delivery/settings", response_model=DeliverySettingsOut)
def get_settings_(session: SessionDep, tenant: TenantDep) -> DeliverySettingsOut:
    prefs = service.preferences(session, tenant.id)
    return DeliverySettingsOut(fallback=prefs.fallback, attach_pdf=prefs.attach_pdf)  # type: ignore[arg-type]


@router.patch("/delivery/settings", response_model=DeliverySettingsOut)
def update_settings(body: DeliverySettingsIn, session: SessionDep, tenant: TenantDep) -> DeliverySettingsOut:
    """The fallback chains (default: email → letter; sms → email → letter; einvoice → email →
    letter) and whether emails carry the PDF."""
    fallback = {k: list(v) for k, v in body.fallback.items()} if body.fallback is not None else None
    prefs = service.update_preferences(session, tenant, fallback=fallback, attach_pdf=body.attach_pdf)
    return DeliverySettingsOut(fallback=prefs.fallback, attach_pdf=prefs.attach_pdf)  # type: ignore[arg-type]


@router.post("/delivery/bounces", response_model=DeliveryOut)
def report_bounce(body: BounceIn, session: SessionDep, tenant: TenantDep) -> DeliveryOut:
    """An email did not arrive (the tenant's mail system reports it): ``delivery_failed``, and
    the next channel of the fallback chain is started. Reporting it again changes nothing."""
    delivery = service.report_bounce(
        session, tenant, message_id=body.message_id, invoice_id=body.invoice, reason=body.reason
    )
    return delivery_out(delivery)


@callbacks.post("/callbacks/sms/{token}")
async def sms_delivery_report(token: str, request: Request) -> PlainTextResponse:
    """46elks' delivery report (form fields ``id``, ``status``, ``delivered``).

    46elks cannot send an API key, so the URL carries an unguessable token per SMS.
    """
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if len(token) > 64 or not form.get("id") or not form.get("status"):
        return PlainTextResponse("not found", status_code=404)

    def apply() -> bool:
        with request.app.state.db.transaction() as session:
            return service.report_sms_status(session, token, form["id"], form["status"])

    found = await run_in_threadpool(apply)
    return PlainTextResponse("OK" if found else "not found", status_code=200 if found else 404)
