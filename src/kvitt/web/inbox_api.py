"""``GET /api/v1/messages``: every customer message of the tenant, for integrations (a CRM, a
ticket system); the same messages the back office's *Meddelanden* shows."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from kvitt.core.api import QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant
from kvitt.web import inbox, messages
from kvitt.web.api import MessageOut

router = APIRouter(tags=["web invoice"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/messages", response_model=ListResponse[MessageOut])
def list_messages(
    session: SessionDep,
    tenant: TenantDep,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: QueryId = None,
    author: Annotated[
        Literal["recipient", "staff", "system"] | None, Query(description="only the customer's, or ours")
    ] = None,
    unanswered: Annotated[
        bool | None, Query(description="true: customer messages with no answer after them; false: all others")
    ] = None,
) -> ListResponse[MessageOut]:
    """Messages of every invoice, newest first (cursor pagination as everywhere)."""
    page = inbox.messages_page(
        session, tenant.id, limit=limit, starting_after=starting_after, author=author, unanswered=unanswered
    )
    data = [MessageOut(**messages.message_out(event)) for event in page.items]
    return ListResponse[MessageOut](data=data, has_more=page.has_more)
