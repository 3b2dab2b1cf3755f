"""``/api/billogram/v2``: the Billogram v2 compatible API (docs/billogram-compat.md)."""

from __future__ import annotations

from fastapi import APIRouter

from kvitt.billogram import account, billograms, customers, items
from kvitt.billogram.route import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PARTS = (items.router, customers.router, billograms.router, account.router)
for part in PARTS:
    router.include_router(part)

__all__ = ["PARTS", "PREFIX", "router"]
