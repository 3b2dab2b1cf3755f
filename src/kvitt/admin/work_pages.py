"""*Fakturering*: billing runs with their progress and results, and imported billing files, read
from the features' tables as tables on one page (runs and files are started with the API and the
command line; each table says which endpoint).

*Påminnelser och inkasso* is ``dunning_page``, *Händelsekedjor* ``automation_page`` and
*Inställningar* ``settings_page``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, read
from kvitt.admin.nav import roles_of
from kvitt.billing.models import BillingRun
from kvitt.billing_files.models import BillingFile
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    api: str = ""  # the API endpoint for changes
    links: list[str | None] | None = None  # per row: where the first cell leads


def _page(request: Request, staff: StaffMember, nav: str, title: str, build: Callable[..., list[Table]]) -> Response:
    lang = render.language_of(request, staff)
    tables = read(request, staff, lambda session, tenant: build(session, tenant, lang))
    return render.page(request, staff, "admin/tables.html", {"title": title, "tables": tables}, nav=nav)


def _money(lang: str) -> Callable[[int | None], str]:
    return lambda ore: render.money(ore, lang)


def billing_tables(session: Session, tenant: Tenant, lang: str) -> list[Table]:
    money = _money(lang)
    runs = session.scalars(
        select(BillingRun).where(BillingRun.tenant_id == tenant.id).order_by(BillingRun.id.desc()).limit(PAGE_SIZE)
    ).all()
    files = session.scalars(
        select(BillingFile).where(BillingFile.tenant_id == tenant.id).order_by(BillingFile.id.desc()).limit(PAGE_SIZE)
    ).all()
    return [
        Table(
            "Faktureringskörningar",
            ["Dag", "Status", "Delar klara", "Abonnemang", "Fakturor", "Belopp", "Fel"],
            [
                [
                    r.run_date,
                    r.state,
                    f"{r.partitions_done}/{r.partitions}",
                    r.subscriptions_due,
                    r.invoices,
                    money(r.total),
                    r.error_count,
                ]
                for r in runs
            ],
            api="/api/v1/billing-runs",
        ),
        Table(
            "Faktureringsfiler",
            ["Fil", "Status", "Rader", "Fakturor", "Hoppade över", "Belopp", "Fel"],
            [
                [f.filename or f.id, f.state, f.rows, f.invoices, f.skipped, money(f.total), len(f.errors)]
                for f in files
            ],
            api="/api/v1/billing-files",
        ),
    ]


@router.get("/admin/fakturering")
def billing_page(request: Request, staff: StaffMember = Depends(require_staff(*roles_of("billing")))) -> Response:
    return _page(request, staff, "billing", "Fakturering", billing_tables)
