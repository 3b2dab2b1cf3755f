"""*Fakturering*: billing runs with their progress and results and imported billing files, read
from the features' tables, and the two ways to start billing from here — through the very
services the API and the command line use:

- a billing run for a date: ``billing.service.start_run`` (as ``POST /api/v1/billing-runs`` and
  ``kvitt bill``); its partitions go to the workers, and the runs table shows the parts done,
  invoices, amount and errors as they come: while a run is not done, the table is a fragment
  (``/admin/fakturering/korningar``, the same roles and tenant as the page) that htmx fetches
  again every 2 seconds and that stops asking once every run shown is done; without JavaScript
  the page shows the state when it was loaded, with a link to load it again;
- a billing file: ``billing_files.service.import_billing_file`` (as ``POST /api/v1/billing-files``
  and ``kvitt import``), which checks the whole file before it writes anything: a bad file is
  refused whole, every error listed with its line and field. The same file again is recognised and
  changes nothing. A file through this form is read whole before it is checked, so it is capped at
  ``MAX_FILE_BYTES``; larger files go through the API or the command line (streamed to disk).

Finance and admins start them; read-only staff see the page without the forms.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import FINANCE_ACTORS, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, actor, read
from kvitt.admin.forms import staff_upload
from kvitt.admin.nav import roles_of
from kvitt.billing import service as billing
from kvitt.billing.jobs import POSTGRESQL_PARTITIONS
from kvitt.billing.models import DONE, BillingRun
from kvitt.billing_files import mappings
from kvitt.billing_files import service as billing_files
from kvitt.billing_files.models import BillingFile
from kvitt.core import clock
from kvitt.core.db import is_postgresql
from kvitt.core.errors import ValidationFailed
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("billing"))
MAX_FILE_BYTES = 20 * 1024 * 1024
FORM_LIMIT = MAX_FILE_BYTES + 64 * 1024  # the file and the form's other fields
BACK = "/admin/fakturering"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]


def _money(lang: str) -> Callable[[int | None], str]:
    return lambda ore: render.money(ore, lang)


def runs_table(session: Session, tenant: Tenant, lang: str) -> tuple[Table, bool]:
    """The tenant's latest billing runs, and whether one of them is still running."""
    money = _money(lang)
    runs = session.scalars(
        select(BillingRun).where(BillingRun.tenant_id == tenant.id).order_by(BillingRun.id.desc()).limit(PAGE_SIZE)
    ).all()
    table = Table(
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
    )
    return table, any(r.state != DONE for r in runs)


def billing_tables(session: Session, tenant: Tenant, lang: str) -> dict[str, Any]:
    money = _money(lang)
    runs, running = runs_table(session, tenant, lang)
    files = session.scalars(
        select(BillingFile).where(BillingFile.tenant_id == tenant.id).order_by(BillingFile.id.desc()).limit(PAGE_SIZE)
    ).all()
    files_table = Table(
        "Faktureringsfiler",
        ["Fil", "Status", "Rader", "Fakturor", "Hoppade över", "Belopp", "Fel"],
        [[f.filename or f.id, f.state, f.rows, f.invoices, f.skipped, money(f.total), len(f.errors)] for f in files],
    )
    return {"runs": runs, "running": running, "tables": [files_table]}


@router.get("/admin/fakturering")
def billing_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    lang = render.language_of(request, staff)
    tables = read(request, staff, lambda session, tenant: billing_tables(session, tenant, lang))
    context = {
        **tables,
        "today": clock.today().isoformat(),
        "mappings": ("canonical", "jsonl"),
        "max_file_mb": MAX_FILE_BYTES // (1024 * 1024),
        "done": request.query_params.get("done"),
    }
    return render.page(request, staff, "admin/billing.html", context, nav="billing")


@router.get("/admin/fakturering/korningar")
def billing_runs_fragment(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The runs table alone, for htmx to swap in every 2 s while a run is running: the same
    roles and tenant as the page. Once every run shown is done, the fragment carries no trigger
    and the polling stops."""
    lang = render.language_of(request, staff)
    runs, running = read(request, staff, lambda session, tenant: runs_table(session, tenant, lang))
    context = {"runs": runs, "running": running}
    return render.page(request, staff, "admin/_billing_runs.html", context, nav="billing")


@router.post("/admin/fakturering/korning")
async def start_run(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A billing run for ``date`` (the business date, ISO)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        run_date = _date(form.get("date", ""))
        partitions = POSTGRESQL_PARTITIONS if is_postgresql(session) else 1  # as the API's default
        run = billing.start_run(session, tenant, run_date, actor=actor(staff), partitions=partitions)
        after = {"date": run_date.isoformat(), "subscriptions_due": run.subscriptions_due}
        audit(session, staff, "billing.run_start", None, after, target=f"billing_run:{run.id}")
        return f"{BACK}?done=run_started"

    return await act(request, staff, FINANCE_ACTORS, work, BACK)


@router.post("/admin/fakturering/fil")
async def import_file(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """A billing file (``file``) with ``mapping``, ``issue`` and ``upsert_customers``."""
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}

    async def reader(request: Request, staff: StaffMember) -> dict[str, str]:
        upload = await staff_upload(request, staff, FORM_LIMIT)
        files.update(upload.files)
        names.update(upload.filenames)
        return upload.fields

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        data = files.get("file", b"")
        if not data:
            raise ValidationFailed("file: choose a billing file", param="file")
        if len(data) > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // (1024 * 1024)
            raise ValidationFailed(f"file: at most {limit} MB here; send larger files with the API", param="file")
        options = billing_files.Options(issue=form.get("issue") == "1", upsert_customers=form.get("upsert") == "1")
        with tempfile.TemporaryDirectory(prefix="kvitt-admin-billing-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(data)
            outcome = billing_files.import_billing_file(
                session,
                tenant,
                path,
                mapping=mappings.by_name(form.get("mapping") or None),
                options=options,
                filename=names.get("file") or None,
                source="admin",
                today=clock.today(),
                actor=actor(staff),
            )
        if outcome.already_imported:
            return f"{BACK}?done=already_imported"
        file = outcome.file
        after = {"rows": file.rows, "invoices": file.invoices, "total": file.total, "issue": options.issue}
        audit(session, staff, "billing.file_import", None, after, target=f"billing_file:{file.id}")
        return f"{BACK}?done=file_imported"

    return await act(request, staff, FINANCE_ACTORS, work, BACK, reader=reader)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed("date: a date such as 2027-01-31", param="date") from None
