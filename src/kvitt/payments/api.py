"""``/api/v1/payment-files``, ``/payments``, ``/deviations``, ``/invoices/{id}/payments``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.errors import ValidationFailed
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.invoices import service as invoices
from kvitt.invoices.api import PublicUrl, with_events
from kvitt.invoices.schemas import InvoiceOut, PaymentIn
from kvitt.payments import service
from kvitt.payments.imports import import_bgmax
from kvitt.payments.models import Deviation, Payment, PaymentFile
from kvitt.payments.schemas import (
    AllocationOut,
    DeviationOut,
    PaymentCreate,
    PaymentFileOut,
    PaymentOut,
    ResolveIn,
)
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["payments"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
ACTOR = "api"
MAX_FILE_BYTES = 512 * 1024 * 1024


def payment_out(session: Session, tenant: Tenant, payments: list[Payment]) -> list[PaymentOut]:
    allocations = service.allocations_of(session, tenant, [p.id for p in payments])
    return [
        PaymentOut(
            id=p.id,
            source=p.source,
            file=p.file_id,
            amount=p.amount,
            date=p.date,
            reference=p.reference,
            reference_code=p.reference_code,
            payer_name=p.payer_name,
            payer_account=p.payer_account,
            bank_serial=p.bank_serial,
            customer=p.customer_id,
            unallocated=p.unallocated,
            details=p.details,
            allocations=[
                AllocationOut(
                    id=a.id,
                    kind=a.kind,
                    invoice=a.invoice_id,
                    customer=a.customer_id,
                    amount=a.amount,
                    actor=a.actor,
                    created_at=a.created_at,
                )
                for a in allocations[p.id]
            ],
            created_at=p.created_at,
        )
        for p in payments
    ]


def file_out(file: PaymentFile, *, already_imported: bool = False) -> PaymentFileOut:
    return PaymentFileOut.model_validate(
        {
            **{c: getattr(file, c) for c in PaymentFileOut.model_fields if hasattr(file, c)},
            "already_imported": already_imported,
        }
    )


def deviation_out(session: Session, tenant: Tenant, deviation: Deviation, *, with_suggestions: bool) -> DeviationOut:
    payment = service.get(session, tenant, deviation.payment_id)
    return DeviationOut(
        id=deviation.id,
        kind=deviation.kind,
        state=deviation.state,
        amount=deviation.amount,
        payment=payment_out(session, tenant, [payment])[0],
        invoice=deviation.invoice_id,
        customer=deviation.customer_id,
        suggestions=service.suggestions(session, tenant, deviation, payment)
        if with_suggestions and deviation.state == "open"
        else [],
        resolution=deviation.resolution,
        created_at=deviation.created_at,
        resolved_at=deviation.resolved_at,
    )


@router.post(
    "/payment-files",
    response_model=PaymentFileOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_payment_file(
    request: Request,
    x_filename: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """A BGMax file from Bankgirot, as the body. Importing the same file again changes nothing
    (200 with ``already_imported``); a malformed file is refused whole with its line and field."""
    data = await request.body()
    if not data:
        raise ValidationFailed("send the BGMax file as the request body", param="body")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed("the file is larger than 512 MB", param="body")
    session: Session = request.state.session
    tenant: Tenant = request.state.tenant
    outcome = await run_in_threadpool(
        import_bgmax, session, tenant, data, filename=x_filename, source="api", today=clock.today(), actor=ACTOR
    )
    body = file_out(outcome.file, already_imported=outcome.already_imported)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if outcome.already_imported else 201)


@router.get("/payment-files", response_model=ListResponse[PaymentFileOut])
def list_payment_files(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[PaymentFileOut]:
    page = service.list_files(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[PaymentFileOut](data=[file_out(f) for f in page.items], has_more=page.has_more)


@router.get("/payment-files/{file_id}", response_model=PaymentFileOut)
def get_payment_file(file_id: PathId, session: SessionDep, tenant: TenantDep) -> PaymentFileOut:
    return file_out(service.get_file(session, tenant, file_id))


@router.post("/payments", response_model=PaymentOut, status_code=201)
def create_payment(body: PaymentCreate, session: SessionDep, tenant: TenantDep) -> PaymentOut:
    """Money a person allocates: matched by its reference if any, else held for ``customer``,
    else unidentified (a deviation to resolve)."""
    today = clock.today()
    incoming = service.Incoming(
        body.amount,
        body.date or today,
        "api",
        reference=body.reference,
        payer_name=body.payer_name,
        customer_id=body.customer,
    )
    payment = service.register(session, tenant, incoming, today=today, actor=ACTOR)
    return payment_out(session, tenant, [payment])[0]


@router.get("/payments", response_model=ListResponse[PaymentOut])
def list_payments(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    customer: QueryId = None,
    file: QueryId = None,
) -> ListResponse[PaymentOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after, customer=customer, file=file)
    return ListResponse[PaymentOut](data=payment_out(session, tenant, page.items), has_more=page.has_more)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: PathId, session: SessionDep, tenant: TenantDep) -> PaymentOut:
    return payment_out(session, tenant, [service.get(session, tenant, payment_id)])[0]


@router.post("/invoices/{invoice_id}/payments", response_model=InvoiceOut)
def pay_invoice(
    invoice_id: PathId, body: PaymentIn, session: SessionDep, tenant: TenantDep, base_url: PublicUrl
) -> InvoiceOut:
    """A payment for this invoice; more than is left pays the customer's other open invoices,
    then becomes their credit balance."""
    invoice = invoices.get(session, tenant, invoice_id, for_update=True)
    today = clock.today()
    service.pay_invoice(
        session, tenant, invoice, body.amount, on=body.date or today, today=today, reference=body.reference, actor=ACTOR
    )
    return with_events(session, tenant, invoice, base_url)


@router.get("/deviations", response_model=ListResponse[DeviationOut])
def list_deviations(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    state: Literal["open", "resolved"] | None = None,
    kind: Literal["no_reference", "unknown_reference", "already_settled", "overpayment", "deduction", "refund_due"]
    | None = None,
) -> ListResponse[DeviationOut]:
    page = service.list_deviations(session, tenant, limit=limit, starting_after=starting_after, state=state, kind=kind)
    return ListResponse[DeviationOut](
        data=[deviation_out(session, tenant, d, with_suggestions=True) for d in page.items], has_more=page.has_more
    )


@router.get("/deviations/{deviation_id}", response_model=DeviationOut)
def get_deviation(deviation_id: PathId, session: SessionDep, tenant: TenantDep) -> DeviationOut:
    deviation = service.get_deviation(session, tenant, deviation_id)
    return deviation_out(session, tenant, deviation, with_suggestions=True)


@router.post("/deviations/{deviation_id}/resolve", response_model=DeviationOut)
def resolve_deviation(deviation_id: PathId, body: ResolveIn, session: SessionDep, tenant: TenantDep) -> DeviationOut:
    """``match`` to one or more invoices (a split), ``refund``, ``assign`` to a customer, or ``keep``."""
    deviation = service.get_deviation(session, tenant, deviation_id)
    service.resolve(
        session,
        tenant,
        deviation,
        action=body.action,
        allocations=[(a.invoice, a.amount) for a in body.allocations],
        customer_id=body.customer,
        amount=body.amount,
        note=body.note,
        today=clock.today(),
        actor=ACTOR,
    )
    return deviation_out(session, tenant, deviation, with_suggestions=False)


@router.get("/reports/deviations")
def deviations_report(
    session: SessionDep, tenant: TenantDep, day: Annotated[date | None, Query(alias="date")] = None
) -> dict[str, object]:
    """The day's deviations (by payment date): unmatched, overpaid, paid twice, deductions."""
    return service.deviations_report(session, tenant, day or clock.today())
