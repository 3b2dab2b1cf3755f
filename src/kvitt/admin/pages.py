"""The routers of the back office's pages, in the order of the navigation."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

PAGE_MODULES: tuple[str, ...] = (
    "customers",
    "invoices",
    "invoice_preview",
    "deviations",
    "messages",
    "staff_pages",
    "integrations",
    "billing_page",
    "dunning_page",
    "dunning_policies",
    "automation_page",
    "engagement_page",
    "settings_page",
    "totp",
)


def routers() -> list[APIRouter]:
    return [importlib.import_module(f"kvitt.admin.{name}").router for name in PAGE_MODULES]
