"""The worker's autogiro job: each banking day, the order file into ``KVITT_AUTOGIRO_OUTBOX_DIR``."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from kvitt.autogiro import bankdays, files, service
from kvitt.core.clock import daily_job
from kvitt.core.config import get_settings
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant

EXPORT_JOB = "autogiro.export"
daily_job(EXPORT_JOB, order=15)  # after the billing run (10): the day's new invoices are planned too
log = structlog.get_logger("kvitt.autogiro")


def free_path(folder: Path, tenant: Tenant, day: date) -> Path:
    """``autogiro-<tenant>-<YYYYMMDD>.txt``, numbered when a file of that day is still there."""
    stem = f"autogiro-{tenant.id}-{day.strftime('%Y%m%d')}"
    target, n = folder / f"{stem}.txt", 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}.txt"
    return target


@handles(EXPORT_JOB)
def run_export(session: Session, job: OutboxJob) -> None:
    folder = get_settings().autogiro_outbox_dir
    tenant = session.get(Tenant, job.tenant_id)
    day = date.fromisoformat(job.payload["date"])
    if not folder or tenant is None or not bankdays.is_banking_day(day):
        return
    if not service.settings_of(session, tenant).bgc_customer_number or not tenant.bankgiro:
        return  # the tenant has no autogiro agreement
    target = free_path(Path(folder), tenant, day)
    exported = files.export_orders(session, tenant, day=day, name=target.name)
    if exported.data is None:
        return
    # Written under a temporary name and renamed: whoever collects the folder never sees half a
    # file. Written before the job's transaction commits: a failed write marks nothing sent.
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(exported.data)
    os.replace(partial, target)
    log.info("autogiro order file written", file=str(target), debits=exported.debits, mandates=exported.new_mandates)
