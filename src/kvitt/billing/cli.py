"""``kvitt bill`` and ``kvitt clock``: the CLI glue for billing runs and the test clock."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kvitt.core import outbox
from kvitt.core.commandline import TenantOption
from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.core.errors import KvittError
from kvitt.core.money import format_amount
from kvitt.tenants import service as tenants

clock_app = typer.Typer(help="The test clock of a test tenant: simulate days, months, a year.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DateOption = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])]


def _tenant_id(db: Database, ref: str | None) -> int:
    with db.transaction() as session:
        return tenants.resolve(session, ref).id


def _fail(exc: KvittError) -> typer.Exit:
    where = f" ({exc.param})" if exc.param else ""
    err.print(f"[red]error:[/red] {exc.message}{where}")
    return typer.Exit(1)


def bill(
    on: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The billing date, YYYY-MM-DD.")],
    tenant: TenantOption = None,
    partitions: Annotated[int, typer.Option(min=1, max=64, help="Split by customer (for workers).")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=20000)] = 1000,
) -> None:
    """Create and issue the invoices of every subscription due on a date.

    Safe to rerun: a run that was killed is resumed, and no period is ever billed twice."""
    from kvitt.billing import service
    from kvitt.billing.models import BillingRun

    db = Database(get_settings().database_url)
    try:
        tenant_id = _tenant_id(db, tenant)
        columns = (TextColumn("billing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("billing", total=None)

            def progress(done: int, due: int) -> None:
                bar.update(task, completed=done, total=max(due, done))

            run_id = service.run_in_process(
                db,
                tenant_id,
                on.date(),
                actor="cli",
                partitions=partitions,
                batch_size=batch_size,
                progress=progress,
            )
        with db.transaction() as session:
            run = session.get(BillingRun, run_id)
            assert run is not None
            console.print(
                f"billing run {run.id} for {run.run_date}: {run.invoices} invoices, {format_amount(run.total)}, "
                f"{run.periods_without_charge} periods without charge, {run.error_count} errors "
                f"({service.duration_seconds(run):.1f} s)"
            )
            for error in run.errors[:20]:
                console.print(f"  subscription {error['subscription']}: {error['message']}")
            failed = run.error_count
    except KvittError as exc:
        raise _fail(exc) from None
    finally:
        db.dispose()
    if failed:
        raise typer.Exit(1)


@clock_app.command("advance")
def clock_advance(
    to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Move the clock to this date.")],
    tenant: TenantOption = None,
    start: Annotated[
        datetime | None,
        typer.Option("--start", formats=["%Y-%m-%d"], help="Where a tenant without a clock begins (default today)."),
    ] = None,
) -> None:
    """Move a test tenant's date forward, running every day's jobs (billing, overdue, dunning ...)."""
    from kvitt.testclock import service as testclock

    db = Database(get_settings().database_url)
    try:
        tenant_id = _tenant_id(db, tenant)
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("advancing", total=None)

            def progress(day: date) -> None:
                bar.update(task, description=f"at {day}", advance=1)

            reached = testclock.advance(
                db,
                tenant_id,
                to.date(),
                run_jobs=outbox.runner_for(db),
                start=start.date() if start else None,
                progress=progress,
            )
        console.print(f"the clock of tenant {tenant_id} stands at {reached}")
    except KvittError as exc:
        raise _fail(exc) from None
    finally:
        db.dispose()


@clock_app.command("show")
def clock_show(tenant: TenantOption = None) -> None:
    """Show a tenant's business date (its test clock's, or today)."""
    from kvitt.tenants.models import Tenant
    from kvitt.testclock import service as testclock

    db = Database(get_settings().database_url)
    try:
        with db.transaction() as session:
            found = tenants.resolve(session, tenant)
            assert isinstance(found, Tenant)
            on_clock = testclock.get(session, found) is not None
            console.print(f"{testclock.today_for(session, found)}" + ("" if on_clock else " (no test clock: today)"))
    except KvittError as exc:
        raise _fail(exc) from None
    finally:
        db.dispose()
