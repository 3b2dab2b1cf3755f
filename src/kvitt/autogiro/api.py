"""``/api/v1/autogiro``: mandates (create, list, get, cancel) and the tenant's autogiro settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.autogiro import credits, debits, service
from kvitt.autogiro.models import Credit, Debit, Mandate
from kvitt.autogiro.schemas import (
    CreditCreate,
    CreditOut,
    DebitOut,
    MandateCreate,
    MandateOut,
    PayerNumberChange,
    SettingsOut,
    SettingsUpdate,
)
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/autogiro", tags=["autogiro"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


def mandate_out(mandate: Mandate) -> MandateOut:
    return MandateOut(
        id=mandate.id,
        customer=mandate.customer_id,
        payer_number=mandate.payer_number,
        clearing=mandate.clearing,
        account=mandate.account,
        status=mandate.status,
        source=mandate.source,
        signed_with_bankid=mandate.source == "bankid",
        new_payer_number=mandate.new_payer_number,
        comment_code=mandate.comment_code,
        comment_text=mandate.comment_text,
        created_at=mandate.created_at,
        sent_at=mandate.sent_at,
        activated_at=mandate.activated_at,
        cancelled_at=mandate.cancelled_at,
    )


@router.post("/mandates", status_code=201, response_model=MandateOut)
def create_mandate(body: MandateCreate, session: SessionDep, tenant: TenantDep) -> MandateOut:
    """A mandate the issuer already holds; ``pending`` until the next mandate file carries it."""
    mandate = service.create_mandate(
        session,
        tenant,
        body.customer,
        clearing=body.clearing,
        account=body.account,
        payer_number=body.payer_number,
        personal_number=body.personal_number,
    )
    return mandate_out(mandate)


@router.get("/mandates", response_model=ListResponse[MandateOut])
def list_mandates(
    session: SessionDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    customer: QueryId = None,
    status: Annotated[str | None, Query(pattern=r"^(pending|sent|active|rejected|cancelled)$")] = None,
) -> ListResponse[MandateOut]:
    page = service.list_page(
        session, tenant, limit=limit, starting_after=starting_after, customer_id=customer, status=status
    )
    return ListResponse[MandateOut](data=[mandate_out(m) for m in page.items], has_more=page.has_more)


@router.get("/mandates/{mandate_id}", response_model=MandateOut)
def get_mandate(mandate_id: PathId, session: SessionDep, tenant: TenantDep) -> MandateOut:
    return mandate_out(service.get(session, tenant, mandate_id))


@router.post("/mandates/{mandate_id}/payer_number", response_model=MandateOut)
def change_payer_number(
    mandate_id: PathId, body: PayerNumberChange, session: SessionDep, tenant: TenantDep
) -> MandateOut:
    """Move an active mandate to another payer number: a TK05 in the next file; the mandate keeps
    its number (``new_payer_number`` shows the change) until Bankgirot's advice confirms it."""
    return mandate_out(service.change_payer_number(session, tenant, mandate_id, body.payer_number))


@router.delete("/mandates/{mandate_id}", response_model=MandateOut)
def cancel_mandate(mandate_id: PathId, session: SessionDep, tenant: TenantDep) -> MandateOut:
    """Cancel: a mandate Bankgirot knows of is cancelled there by a TK03 in the next file."""
    return mandate_out(service.cancel(session, tenant, mandate_id))


def _settings_out(session: Session, tenant: Tenant) -> SettingsOut:
    row = service.settings_of(session, tenant)
    return SettingsOut(
        bgc_customer_number=row.bgc_customer_number,
        banking_days_before=row.banking_days_before,
        bankgiro=tenant.bankgiro,
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(session: SessionDep, tenant: TenantDep) -> SettingsOut:
    return _settings_out(session, tenant)


@router.patch("/settings", response_model=SettingsOut)
def update_settings(body: SettingsUpdate, session: SessionDep, tenant: TenantDep) -> SettingsOut:
    service.update_settings(
        session,
        tenant,
        bgc_customer_number=body.bgc_customer_number,
        banking_days_before=body.banking_days_before,
    )
    return _settings_out(session, tenant)


def debit_out(debit: Debit) -> DebitOut:
    return DebitOut(
        id=debit.id,
        invoice=debit.invoice_id,
        mandate=debit.mandate_id,
        amount=debit.amount,
        debit_on=debit.debit_on,
        order_on=debit.order_on,
        status=debit.status,
        result_code=debit.result_code,
        result_text=debit.result_text,
    )


@router.get("/debits", response_model=ListResponse[DebitOut])
def list_debits(
    session: SessionDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    invoice: QueryId = None,
    status: Annotated[str | None, Query(pattern=r"^(pending|sent|debited|failed|cancelled|refunded)$")] = None,
) -> ListResponse[DebitOut]:
    """The invoices autogiro debits (planned when an order file is written): pending, sent, then
    debited or failed (with Bankgirot's code and text), or cancelled; a debited one the payer's
    bank paid back (TK77) is refunded. A sent one with result code 9 is being tried again by
    Bankgirot (a later specification answers it)."""
    page = debits.list_page(
        session, tenant, limit=limit, starting_after=starting_after, invoice_id=invoice, status=status
    )
    return ListResponse[DebitOut](data=[debit_out(d) for d in page.items], has_more=page.has_more)


def credit_out(credit: Credit) -> CreditOut:
    return CreditOut(
        id=credit.id,
        customer=credit.customer_id,
        mandate=credit.mandate_id,
        payer_number=credit.payer_number,
        amount=credit.amount,
        reference=credit.reference,
        reason=credit.reason,
        pay_on=credit.pay_on,
        status=credit.status,
        result_code=credit.result_code,
        result_text=credit.result_text,
        created_at=credit.created_at,
        sent_at=credit.sent_at,
    )


@router.post("/credits", status_code=201, response_model=CreditOut)
def create_credit(body: CreditCreate, session: SessionDep, tenant: TenantDep) -> CreditOut:
    """Pay back (part of) the customer's credit balance to the account of their active mandate:
    ``pending`` until the next order file carries it as a TK32; booked when Bankgirot's
    specification says it was paid."""
    credit = credits.create(
        session, tenant, body.customer, body.amount, reference=body.reference, reason=body.reason, actor="api"
    )
    return credit_out(credit)


@router.get("/credits", response_model=ListResponse[CreditOut])
def list_credits(
    session: SessionDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    customer: QueryId = None,
    status: Annotated[str | None, Query(pattern=r"^(pending|sent|paid|failed|cancelled)$")] = None,
) -> ListResponse[CreditOut]:
    page = credits.list_page(
        session, tenant, limit=limit, starting_after=starting_after, customer_id=customer, status=status
    )
    return ListResponse[CreditOut](data=[credit_out(c) for c in page.items], has_more=page.has_more)


@router.get("/credits/{credit_id}", response_model=CreditOut)
def get_credit(credit_id: PathId, session: SessionDep, tenant: TenantDep) -> CreditOut:
    return credit_out(credits.get(session, tenant, credit_id))


@router.delete("/credits/{credit_id}", response_model=CreditOut)
def cancel_credit(credit_id: PathId, session: SessionDep, tenant: TenantDep) -> CreditOut:
    """Drop a credit not yet sent."""
    return credit_out(credits.cancel(session, tenant, credit_id))
