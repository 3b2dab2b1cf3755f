"""``/api/v1/automation-rules`` (being written)."""

from __future__ import annotations

from fastapi import APIRouter

from kvitt.core.api import TenantRoute

router = APIRouter(tags=["automation"], route_class=TenantRoute)
