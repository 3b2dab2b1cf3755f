"""``/api/v1/subscriptions``: create, read, list, change from a date, pause, resume, cancel, period info."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.money import format_quantity
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.subscriptions import service
from kvitt.subscriptions.models import Subscription
from kvitt.subscriptions.schemas import (
    CancelIn,
    PauseIn,
    PauseOut,
    PeriodInfoIn,
    PeriodInfoOut,
    ResumeIn,
    SubscriptionCreate,
    SubscriptionLineOut,
    SubscriptionOut,
    SubscriptionUpdate,
)
from kvitt.tenants.models import Tenant
from kvitt.testclock.service import today_for

router = APIRouter(tags=["subscriptions"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def subscriptions_out(session: Session, tenant: Tenant, subscriptions: list[Subscription]) -> list[SubscriptionOut]:
    ids = [s.id for s in subscriptions]
    lines = service.lines_of(session, tenant, ids)
    pauses = service.pauses_of(session, tenant, ids)
    today = today_for(session, tenant)
    return [
        SubscriptionOut(
            id=s.id,
            customer=s.customer_id,
            status=service.status(s, pauses[s.id], today),
            interval=s.interval,
            anchor_date=s.anchor_date,
            start_date=s.start_date,
            end_date=s.end_date,
            binding_until=s.binding_until,
            next_period_start=s.next_period_start,
            lines=[
                SubscriptionLineOut(
                    id=line.id,
                    position=line.position,
                    item=line.item_id,
                    description=line.description,
                    quantity=format_quantity(line.quantity_milli),
                    unit=line.unit,
                    unit_price=line.unit_price,
                    vat_rate=line.vat_rate,
                    account=line.account,
                    valid_from=line.valid_from,
                    valid_to=line.valid_to,
                )
                for line in lines[s.id]
            ],
            pauses=[PauseOut(start=p.start, end=p.end) for p in pauses[s.id]],
            payment_terms_days=s.payment_terms_days,
            notes=s.notes,
            metadata=s.metadata_,
            canceled_at=s.canceled_at,
            created_at=s.created_at,
        )
        for s in subscriptions
    ]


def one_out(session: Session, tenant: Tenant, subscription: Subscription) -> SubscriptionOut:
    return subscriptions_out(session, tenant, [subscription])[0]


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201)
def create_subscription(body: SubscriptionCreate, session: SessionDep, tenant: TenantDep) -> SubscriptionOut:
    subscription = service.create(session, tenant, body, today=today_for(session, tenant))
    return one_out(session, tenant, subscription)


@router.get("/subscriptions", response_model=ListResponse[SubscriptionOut])
def list_subscriptions(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    customer: QueryId = None,
) -> ListResponse[SubscriptionOut]:
    page = service.list_page(session, tenant, limit=limit, starting_after=starting_after, customer=customer)
    return ListResponse[SubscriptionOut](data=subscriptions_out(session, tenant, page.items), has_more=page.has_more)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: PathId, session: SessionDep, tenant: TenantDep) -> SubscriptionOut:
    return one_out(session, tenant, service.get(session, tenant, subscription_id))


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(
    subscription_id: PathId, body: SubscriptionUpdate, session: SessionDep, tenant: TenantDep
) -> SubscriptionOut:
    """New lines or prices from ``effective_date`` (a period not yet invoiced), notes, metadata."""
    subscription = service.get(session, tenant, subscription_id, for_update=True)
    return one_out(session, tenant, service.update(session, tenant, subscription, body))


@router.post("/subscriptions/{subscription_id}/pause", response_model=SubscriptionOut)
def pause_subscription(
    subscription_id: PathId, body: PauseIn, session: SessionDep, tenant: TenantDep
) -> SubscriptionOut:
    subscription = service.get(session, tenant, subscription_id, for_update=True)
    return one_out(session, tenant, service.pause(session, tenant, subscription, body))


@router.post("/subscriptions/{subscription_id}/resume", response_model=SubscriptionOut)
def resume_subscription(
    subscription_id: PathId, body: ResumeIn, session: SessionDep, tenant: TenantDep
) -> SubscriptionOut:
    subscription = service.get(session, tenant, subscription_id, for_update=True)
    return one_out(session, tenant, service.resume(session, tenant, subscription, body))


@router.post("/subscriptions/{subscription_id}/cancel", response_model=SubscriptionOut)
def cancel_subscription(
    subscription_id: PathId, body: CancelIn, session: SessionDep, tenant: TenantDep
) -> SubscriptionOut:
    subscription = service.get(session, tenant, subscription_id, for_update=True)
    return one_out(session, tenant, service.cancel(session, tenant, subscription, body))


@router.post("/subscriptions/{subscription_id}/period-info", response_model=PeriodInfoOut)
def set_period_info(
    subscription_id: PathId, body: PeriodInfoIn, session: SessionDep, tenant: TenantDep
) -> PeriodInfoOut:
    """Info blocks (consumption, data used ...) for one period's invoice; again for a period replaces them."""
    subscription = service.get(session, tenant, subscription_id, for_update=True)
    info = service.set_period_info(session, tenant, subscription, body)
    return PeriodInfoOut.model_validate(
        {"subscription": subscription.id, "period_start": info.period_start, "blocks": info.blocks}
    )
