"""``/api/v1/tenant`` (the caller's own settings) and ``/api/v1/api-keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from kvitt.core.api import PathId, TenantRoute, request_session, request_tenant
from kvitt.core.schemas import ListResponse
from kvitt.tenants import service
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import ApiKeyCreate, ApiKeyOut, TenantOut, TenantSettings

router = APIRouter(tags=["tenant"], route_class=TenantRoute)
SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]


@router.get("/tenant", response_model=TenantOut)
def get_tenant(tenant: TenantDep) -> TenantOut:
    return TenantOut.model_validate(tenant)


@router.patch("/tenant", response_model=TenantOut)
def update_tenant(body: TenantSettings, session: SessionDep, tenant: TenantDep) -> TenantOut:
    return TenantOut.model_validate(service.update_settings(session, tenant, body))


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_api_key(body: ApiKeyCreate, session: SessionDep, tenant: TenantDep) -> ApiKeyOut:
    key, secret = service.create_api_key(session, tenant, body.name)
    out = ApiKeyOut.model_validate(key)
    out.secret = secret
    return out


@router.get("/api-keys", response_model=ListResponse[ApiKeyOut])
def list_api_keys(session: SessionDep, tenant: TenantDep) -> ListResponse[ApiKeyOut]:
    keys = service.list_api_keys(session, tenant)
    return ListResponse[ApiKeyOut](data=[ApiKeyOut.model_validate(k) for k in keys], has_more=False)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: PathId, session: SessionDep, tenant: TenantDep) -> ApiKeyOut:
    return ApiKeyOut.model_validate(service.revoke_api_key(session, tenant, key_id))
