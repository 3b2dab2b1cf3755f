"""``/api/billogram/v2``: the Billogram v2 compatible API (docs/billogram-compat.md)."""

from __future__ import annotations

from fastapi import APIRouter

from kvitt.billogram import billograms, customers, items
from kvitt.billogram.route import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
for part in (items.router, customers.router, billograms.router):
    router.include_router(part)

__all__ = ["PREFIX", "router"]
