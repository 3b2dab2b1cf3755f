"""``/api/v1/billing-files``: upload a billing file (the body), list and read imported files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kvitt.billing_files import mappings, service
from kvitt.billing_files.models import BillingFile
from kvitt.billing_files.schemas import BillingFileOut
from kvitt.core import clock
from kvitt.core.api import PathId, QueryId, TenantRoute, request_session, request_tenant
from kvitt.core.errors import ValidationFailed
from kvitt.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from kvitt.core.schemas import ListResponse
from kvitt.tenants.models import Tenant

router = APIRouter(tags=["billing files"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
ACTOR = "api"
MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024  # 4 GB: the body goes to a temporary file, not memory


def file_out(file: BillingFile, *, already_imported: bool = False) -> BillingFileOut:
    out = BillingFileOut.model_validate(file)
    out.already_imported = already_imported
    return out


@router.post(
    "/billing-files",
    response_model=BillingFileOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload_billing_file(
    request: Request,
    issue: Annotated[bool, Query(description="true: issue the invoices; false (default): drafts.")] = False,
    mapping: Annotated[
        str | None,
        Query(max_length=100, description="canonical (default), jsonl, or a mapping in KVITT_BILLING_MAPPINGS_DIR."),
    ] = None,
    upsert_customers: Annotated[
        bool, Query(description="Create and update customers from the file (default); false: all must exist.")
    ] = True,
    x_filename: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """A billing file as the request body (streamed to disk). The whole file is checked first;
    a bad one is refused whole (422) with every error's line and field in ``error.errors``.
    The same file again changes nothing (200, ``already_imported``)."""
    chosen = mappings.by_name(mapping)
    session: Session = request.state.session
    tenant: Tenant = request.state.tenant
    with tempfile.TemporaryDirectory(prefix="kvitt-billing-") as folder:
        path = Path(folder) / "upload"
        size = await _save_body(request, path)
        if size == 0:
            raise ValidationFailed("send the billing file as the request body", param="body")
        outcome = await run_in_threadpool(
            service.import_billing_file,
            session,
            tenant,
            path,
            mapping=chosen,
            options=service.Options(issue=issue, upsert_customers=upsert_customers),
            filename=x_filename,
            source="api",
            today=clock.today(),
            actor=ACTOR,
        )
    body = file_out(outcome.file, already_imported=outcome.already_imported)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if outcome.already_imported else 201)


async def _save_body(request: Request, path: Path) -> int:
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise ValidationFailed("the file is larger than 4 GB", param="body")
            out.write(chunk)
    return size


@router.get("/billing-files", response_model=ListResponse[BillingFileOut])
def list_billing_files(
    session: SessionDep, tenant: TenantDep, limit: Limit = DEFAULT_LIMIT, starting_after: QueryId = None
) -> ListResponse[BillingFileOut]:
    page = service.list_files(session, tenant, limit=limit, starting_after=starting_after)
    return ListResponse[BillingFileOut](data=[file_out(f) for f in page.items], has_more=page.has_more)


@router.get("/billing-files/{file_id}", response_model=BillingFileOut)
def get_billing_file(file_id: PathId, session: SessionDep, tenant: TenantDep) -> BillingFileOut:
    return file_out(service.get_file(session, tenant, file_id))
