"""``/api/v1/webhook-endpoints`` (with the delivery log and replay) and ``/api/v1/event-types``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant
from kvitt.webhooks import catalogue, service
from kvitt.webhooks.models import WebhookDelivery, WebhookEndpoint
from kvitt.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecretOut,
    EventTypeOut,
    RotateIn,
)

router = APIRouter(tags=["webhooks"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
BASE = "/webhook-endpoints"


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=endpoint.events,
        enabled=endpoint.enabled,
        max_batch_size=endpoint.max_batch_size,
        previous_secret_valid_until=service.previous_secret_valid_until(endpoint),
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecretOut:
    return EndpointWithSecretOut(**endpoint_out(endpoint).model_dump(), secret=endpoint.secret)


def deliveries_out(session: Session, tenant: Tenant, deliveries: list[WebhookDelivery]) -> list[DeliveryOut]:
    ids = [d.id for d in deliveries]
    attempts = service.attempts_of(session, tenant, ids)
    events = service.events_of(session, tenant, [d.event_id for d in deliveries])
    return [
        DeliveryOut(
            id=d.id,
            endpoint=d.endpoint_id,
            event=events[d.event_id].public_id,
            event_type=events[d.event_id].type,
            state=d.state,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts[d.id]],
            created_at=d.created_at,
        )
        for d in deliveries
    ]


@router.post(BASE, status_code=201, response_model=EndpointWithSecretOut)
def create_endpoint(body: EndpointCreate, session: SessionDep, tenant: TenantDep) -> EndpointWithSecretOut:
    """The response holds the signing ``secret``; it is not shown again (rotate to get a new one)."""
    return with_secret(service.create_endpoint(session, tenant, body))


@router.get(BASE, response_model=ListResponse[EndpointOut])
def list_endpoints(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[EndpointOut]:
    page = service.list_endpoints(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse(data=[endpoint_out(e) for e in page.items], has_more=page.has_more)


@router.get(BASE + "/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: PathId, session: SessionDep, tenant: TenantDep) -> EndpointOut:
    return endpoint_out(service.get_endpoint(session, tenant, endpoint_id))


@router.patch(BASE + "/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(endpoint_id: PathId, body: EndpointUpdate, session: SessionDep, tenant: TenantDep) -> EndpointOut:
    return endpoint_out(service.update_endpoint(session, tenant, endpoint_id, body))


@router.delete(BASE + "/{endpoint_id}")
def delete_endpoint(endpoint_id: PathId, session: SessionDep, tenant: TenantDep) -> dict[str, object]:
    service.delete_endpoint(session, tenant, endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


@router.post(BASE + "/{endpoint_id}/rotate-secret", response_model=EndpointWithSecretOut)
def rotate_secret(
    endpoint_id: PathId, session: SessionDep, tenant: TenantDep, body: RotateIn | None = None
) -> EndpointWithSecretOut:
    """A new secret, shown once; the old one keeps signing too for ``expires_in_hours`` (24 by default)."""
    hours = (body or RotateIn()).expires_in_hours
    return with_secret(service.rotate_secret(session, tenant, endpoint_id, expires_in_hours=hours))


@router.get(BASE + "/{endpoint_id}/deliveries", response_model=ListResponse[DeliveryOut])
def list_deliveries(
    endpoint_id: PathId,
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
) -> ListResponse[DeliveryOut]:
    page = service.list_deliveries(session, tenant, endpoint_id, limit=limit, starting_after=starting_after)
    return ListResponse(data=deliveries_out(session, tenant, page.items), has_more=page.has_more)


@router.post(BASE + "/{endpoint_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(endpoint_id: PathId, delivery_id: PathId, session: SessionDep, tenant: TenantDep) -> DeliveryOut:
    """Send the event again (same id and body, a fresh signature), once, whatever its state."""
    delivery = service.replay(session, tenant, endpoint_id, delivery_id)
    return deliveries_out(session, tenant, [delivery])[0]


@router.get("/event-types", response_model=ListResponse[EventTypeOut])
def event_types(tenant: TenantDep) -> ListResponse[EventTypeOut]:
    """The catalogue of event types for webhook subscriptions and event-chain triggers."""
    aliases: dict[str, list[str]] = {}
    for alias, name in catalogue.ALIASES.items():
        aliases.setdefault(name, []).append(alias)
    data = [
        EventTypeOut(type=e.name, subject=e.subject, description=e.description, aliases=sorted(aliases.get(e.name, [])))
        for e in catalogue.CATALOGUE.values()
    ]
    return ListResponse(data=data, has_more=False)
