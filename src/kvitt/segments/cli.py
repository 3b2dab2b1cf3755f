"""``kvitt segments rebuild-behaviour`` (mounted by kvitt.cli)."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from sqlalchemy import func, select

from kvitt.core.commandline import TenantOption
from kvitt.core.commandline import transaction as _transaction
from kvitt.segments import service
from kvitt.segments.models import CustomerBehaviour
from kvitt.tenants import service as tenants

segments_app = typer.Typer(help="Segments: the customers' behaviour facts.", no_args_is_help=True)
console = Console()


@segments_app.command("rebuild-behaviour")
def rebuild_behaviour(tenant: TenantOption = None) -> None:
    """Compute every customer's behaviour facts (customer_behaviour) for the tenant's business day,
    in one set-based statement: the backfill after migration 0022, and what the daily job does."""
    started = time.perf_counter()
    with _transaction() as session:
        found = tenants.resolve(session, tenant)
        day = service.rebuild_behaviour(session, found)
        rows = session.scalar(
            select(func.count()).select_from(CustomerBehaviour).where(CustomerBehaviour.tenant_id == found.id)
        )
    console.print(f"{day.isoformat()}: behaviour of {rows:,} customers in {time.perf_counter() - started:.1f} s")
