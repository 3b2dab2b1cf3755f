"""``/api/v1/ledger/sie``: the journal as a SIE 4 file (the customer ledger is ``customers.ledger_api``)."""

from __future__ import annotations

from datetime import date
from datetime import date as Day  # CustomerLedgerEntry has a field named date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from kvitt.core.api import TenantRoute, request_session, request_tenant
from kvitt.core.errors import ValidationFailed
from kvitt.ledger.export import export_sie, file_name
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["ledger"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
SIE_MEDIA_TYPE = "application/octet-stream"


def check_period(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed(f"from ({date_from}) is after to ({date_to})", param="from")


@router.get(
    "/ledger/sie",
    response_class=Response,
    responses={
        200: {
            "description": "A SIE 4 file (code page 437, CR LF): one #VER per journal entry of the period.",
            "content": {SIE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def export_sie_file(
    session: SessionDep,
    tenant: TenantDep,
    date_from: Annotated[Day, Query(alias="from", description="first day (YYYY-MM-DD), included")],
    date_to: Annotated[Day, Query(alias="to", description="last day (YYYY-MM-DD), included")],
) -> Response:
    """The tenant's journal entries dated from..to as a SIE type 4 file for its bookkeeping program."""
    check_period(date_from, date_to)
    data = export_sie(session, tenant, date_from, date_to)
    return Response(
        content=data,
        media_type=SIE_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{file_name(date_from, date_to)}"'},
    )
