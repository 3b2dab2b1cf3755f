"""``/api/v1/customers``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, QueryId, QueryText, TenantRoute, point_read, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.customers import service
from kvitt.customers.schemas import CustomerCreate, CustomerOut, CustomerUpdate
from kvitt.ledger import service as ledger
from kvitt.tenants.models import Tenant

router = APIRouter(prefix="/customers", tags=["customers"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


def _out(session: Session, tenant: Tenant, customer: object) -> CustomerOut:
    out = CustomerOut.model_validate(customer)
    out.balance = ledger.customer_balance(session, tenant, out.id)
    return out


@router.post("", status_code=201, response_model=CustomerOut)
def create_customer(body: CustomerCreate, session: SessionDep, tenant: TenantDep) -> CustomerOut:
    return _out(session, tenant, service.create(session, tenant, body))


@router.get("", response_model=ListResponse[CustomerOut])
def list_customers(
    session: SessionDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    customer_no: QueryText = None,
    email: QueryText = None,
) -> ListResponse[CustomerOut]:
    page = service.list_page(
        session, tenant, limit=limit, starting_after=starting_after, customer_no=customer_no, email=email
    )
    balances = ledger.customer_balances(session, tenant, [c.id for c in page.items])
    data = [CustomerOut.model_validate(c).model_copy(update={"balance": balances[c.id]}) for c in page.items]
    return ListResponse[CustomerOut](data=data, has_more=page.has_more)


@router.get("/{customer_id}", response_model=CustomerOut)
@point_read
def get_customer(customer_id: PathId, session: SessionDep, tenant: TenantDep) -> CustomerOut:
    return _out(session, tenant, service.get(session, tenant, customer_id))


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(customer_id: PathId, body: CustomerUpdate, session: SessionDep, tenant: TenantDep) -> CustomerOut:
    return _out(session, tenant, service.update(session, tenant, customer_id, body))


@router.delete("/{customer_id}", status_code=200)
def delete_customer(customer_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete(session, tenant, customer_id)
    return {"id": customer_id, "object": "customer", "deleted": True}
