"""The command line: ``kvitt init | migrate | serve | worker | demo | run | jobs | keys | overdue``."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.admin.cli import users_app
from kvitt.autogiro.cli import autogiro_app
from kvitt.billing.cli import bill, clock_app
from kvitt.billogram.auth import user_name as billogram_user
from kvitt.core import clock
from kvitt.core.commandline import TenantOption, err
from kvitt.core.commandline import database as _database
from kvitt.core.commandline import transaction as _transaction
from kvitt.core.config import get_settings, web_base_url
from kvitt.core.money import format_amount
from kvitt.core.outbox import OutboxJob
from kvitt.dunning.cli import dunning_app
from kvitt.reports.cli import export_facts
from kvitt.segments.cli import segments_app
from kvitt.simulators.cli import simulate_app
from kvitt.startup import KvittGroup, output_file, warn
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantCreate
from kvitt.worker import Worker, retry_dead  # also provides the job runner the test clock uses

# KvittGroup checks the configuration before every command and turns a down or unmigrated
# database and unwritable paths into one line (kvitt.startup).
app = typer.Typer(
    cls=KvittGroup, help="Kvitt: recurring invoicing, payments and accounts receivable.", no_args_is_help=True
)
jobs_app = typer.Typer(help="The job queue (outbox): list, retry dead jobs.", invoke_without_command=True)
keys_app = typer.Typer(help="API keys of a tenant.", no_args_is_help=True)
import_app = typer.Typer(help="Import files: bank payment files (BGMax), billing files.", no_args_is_help=True)
inbox_app = typer.Typer(help="The watched inbox of bank files (KVITT_INBOX_DIR).", no_args_is_help=True)
export_app = typer.Typer(
    help="Files for other programs: SIE 4 for the bookkeeping, facts for a data warehouse.", no_args_is_help=True
)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(inbox_app, name="inbox")
app.add_typer(jobs_app, name="jobs")
app.add_typer(keys_app, name="keys")
app.add_typer(clock_app, name="clock")
app.add_typer(dunning_app, name="dunning")
app.add_typer(autogiro_app, name="autogiro")
app.add_typer(simulate_app, name="simulate")
app.add_typer(users_app, name="users")
app.add_typer(segments_app, name="segments")
app.command("bill")(bill)
export_app.command("facts")(export_facts)
console = Console()


def _tenant(session: Session, ref: str | None) -> Tenant:
    return tenants.resolve(session, ref)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from kvitt.migrations import upgrade

    upgrade(get_settings().database_url)
    console.print("database is up to date")


@app.command()
def check() -> None:
    """Print the effective configuration and test the database, SMTP, inbox and providers (exit 1 on a problem)."""
    from kvitt.check import FAIL, report, run_checks

    settings = get_settings()
    findings = run_checks(settings)
    for line in report(settings, findings):
        typer.echo(line)
    if any(f.state == FAIL for f in findings):
        raise typer.Exit(1)


@app.command()
def init(
    name: Annotated[str, typer.Option(help="The issuer's legal name.")],
    org_number: Annotated[str, typer.Option("--org-number", help="Organisationsnummer, e.g. 556036-0793.")],
    bankgiro: Annotated[str | None, typer.Option(help="Bankgiro number payments go to.")] = None,
    plusgiro: Annotated[str | None, typer.Option(help="Plusgiro number.")] = None,
    vat_number: Annotated[str | None, typer.Option("--vat-number")] = None,
    swish_number: Annotated[str | None, typer.Option("--swish-number")] = None,
    payment_terms_days: Annotated[int | None, typer.Option("--payment-terms")] = None,
    test_tenant: Annotated[bool, typer.Option("--test", help="A test tenant (may use the test clock).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {tenant_id, api_key} as JSON.")] = False,
) -> None:
    """Create a tenant (the issuer) and print its first API key (shown once)."""
    fields: dict[str, Any] = {"name": name, "org_number": org_number, "is_test": test_tenant}
    for key, value in (
        ("bankgiro", bankgiro),
        ("plusgiro", plusgiro),
        ("vat_number", vat_number),
        ("swish_number", swish_number),
        ("payment_terms_days", payment_terms_days),
    ):
        if value is not None:
            fields[key] = value
    try:
        data = TenantCreate(**fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "input"
            err.print(f"[red]error:[/red] {where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise typer.Exit(2) from None
    with _transaction() as session:
        tenant, key = tenants.create(session, data)
        tenant_id = tenant.id
    if as_json:
        # billogram_user: the Basic user of /api/billogram/v2 (the password is the API key).
        user = billogram_user(tenant_id, data.org_number)
        typer.echo(json.dumps({"tenant_id": tenant_id, "api_key": key, "billogram_user": user}))
    else:
        console.print(f"tenant {tenant_id} created: {name} ({data.org_number})")
        console.print(f"API key (shown once, keep it): [bold]{key}[/bold]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    worker: Annotated[bool | None, typer.Option("--worker/--no-worker", help="Run the job worker inside.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes on the one port. With more than one, the job worker (unless --no-worker) "
            "runs once, in a process of its own beside them: never duplicated.",
        ),
    ] = 1,
) -> None:
    """Serve the API (and, by default, the worker inside the same process)."""
    import uvicorn

    from kvitt.app import create_app
    from kvitt.serving import run_processes, settle

    settings = get_settings()
    _warn_unless_ready(settings.database_url)
    # The app builds web-invoice links from host and port when KVITT_PUBLIC_URL is unset.
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # uvicorn's records go through Kvitt's log format (JSON with KVITT_LOG_JSON); the app
        # writes its own access line with the request id (core.logging.RequestIdMiddleware).
        "log_config": None,
        "access_log": False,
    }
    if workers == 1:
        app = create_app(settings, embedded_worker=worker)
        settle()
        uvicorn.run(app, **common)
        return
    # Each API process builds its app from the environment (uvicorn starts them fresh): the
    # same host and port for the links, and no embedded worker in any of them.
    os.environ.update({"KVITT_HOST": settings.host, "KVITT_PORT": str(settings.port), "KVITT_EMBEDDED_WORKER": "false"})
    job_worker = None
    if settings.embedded_worker if worker is None else worker:
        job_worker = multiprocessing.get_context("spawn").Process(target=_job_worker, name="kvitt-worker")
        job_worker.start()
    try:
        run_processes("kvitt.serving:settled_app", workers, **common)
    finally:
        if job_worker is not None and job_worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job_worker.pid, signal.SIGINT)  # finish the job in hand (its lease covers a kill)
            job_worker.join(timeout=30)
            if job_worker.is_alive():
                job_worker.terminate()
                job_worker.join()


def _job_worker() -> None:
    """``kvitt serve --workers N``'s one job worker, in its own process."""

    with contextlib.suppress(KeyboardInterrupt):
        Worker(_database()).run_forever()


def _warn_unless_ready(database_url: str) -> None:
    from kvitt.core.readiness import database_status

    status = database_status(database_url)
    if not status.ready:
        warn(f"{status.message} (/readyz answers 503 until then)")


@app.command("worker")
def run_worker() -> None:
    """Run the job worker (any number may run against PostgreSQL)."""

    Worker(_database()).run_forever()


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="How many customers.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed makes the same data).")] = 2026,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Seed a realistic demo tenant (a telecom) with customers, items and invoices in every state."""
    from kvitt.demo import seed_demo

    with _transaction() as session:
        result = seed_demo(session, customers=customers, seed=seed, today=clock.today())
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(
            f"demo tenant {result['tenant_id']} seeded: {result['customers']} customers, {result['invoices']} invoices"
        )
        console.print(f"API key (shown once): [bold]{result['api_key']}[/bold]")
        console.print(f"Back office /admin: {result['staff_email']}, password [bold]{result['staff_password']}[/bold]")


@app.command()
def run(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    sinks: Annotated[
        bool,
        typer.Option(
            "--sinks/--no-sinks",
            help="Deliver to local sinks started inside (email as .eml files, the SMS and Peppol "
            "simulators); --no-sinks: use the KVITT_SMTP_*, KVITT_SMS_* and KVITT_PEPPOL_* settings.",
        ),
    ] = True,
    mail_dir: Annotated[Path, typer.Option(help="Where the local SMTP server keeps the demo's email.")] = Path(
        "kvitt-mail"
    ),
) -> None:
    """Migrate, seed the demo tenant if the database is empty, and serve with the worker inside."""
    from kvitt.admin.users import DEMO_EMAIL, ensure_demo_user
    from kvitt.demo import DEMO_KEY_NAME, demo_invoice_token, seed_demo
    from kvitt.migrations import upgrade

    if host or port:  # the worker's links (web invoices, SMS reports) use these too
        os.environ.update({k: str(v) for k, v in (("KVITT_HOST", host), ("KVITT_PORT", port)) if v})
        get_settings.cache_clear()
    settings = get_settings()
    upgrade(settings.database_url)
    with _transaction() as session:
        if session.scalar(select(func.count(Tenant.id))) == 0:
            console.print("empty database: seeding the demo tenant (about 1,000 customers) ...")
            seed_demo(session, customers=1000, seed=2026, today=clock.today())
        tenant = tenants.all_tenants(session)[0]
        # Keys are stored hashed and cannot be shown again, so each start mints a fresh demo key.
        for old in tenants.list_api_keys(session, tenant):
            if old.name == DEMO_KEY_NAME and old.revoked_at is None:
                tenants.revoke_api_key(session, tenant, old.id)
        _, key = tenants.create_api_key(session, tenant, DEMO_KEY_NAME)
        token = demo_invoice_token(session, tenant)
        staff_password = ensure_demo_user(session, tenant.id)  # hashed: a fresh one each start
    if host or port:
        settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    base = f"http://{settings.host}:{settings.port}"
    console.rule("Kvitt")
    # Plain prints: a key or link broken over two lines cannot be copied.
    typer.echo(f"API docs:            {base}/api/docs")
    typer.echo(f"API key ({tenant.name}): {key}")
    typer.echo(f"Try it:              curl -H 'Authorization: Bearer {key}' '{base}/api/v1/invoices?limit=3'")
    if token:
        typer.echo(f"A demo web invoice:  {web_base_url(settings)}/i/{token}")
    typer.echo(f"Back office:         {base}/admin  ({DEMO_EMAIL}, password {staff_password})")
    demo_sinks = None
    if sinks:
        from kvitt.simulators import demo_sinks as local_sinks

        demo_sinks = local_sinks.start(mail_dir)
        for line in demo_sinks.banner():
            typer.echo(line)
    console.rule()
    try:
        serve(host=host, port=port, worker=True)
    finally:
        if demo_sinks is not None:
            demo_sinks.stop()


@app.command()
def overdue(
    on: Annotated[str | None, typer.Option("--date", help="The business date (YYYY-MM-DD); default today.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Move open invoices past their due date to 'overdue' (the worker does this daily)."""
    from kvitt.invoices import service as invoices

    today = date.fromisoformat(on) if on else clock.today()
    with _transaction() as session:
        moved = invoices.mark_overdue(session, _tenant(session, tenant), today=today, actor="cli")
    console.print(f"{moved} invoices are now overdue")


@import_app.command("bgmax")
def import_bgmax_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The BGMax file.")],
    tenant: TenantOption = None,
) -> None:
    """Import a BGMax payments file: match every payment, queue what cannot be matched.

    The whole file is checked first; a bad file is refused with its line and field and nothing
    of it is applied. Importing the same file again changes nothing."""
    from kvitt.payments.imports import import_bgmax

    # The open file, not its bytes: the import reads it line by line, twice (memory stays flat).
    with path.open("rb") as data, _transaction() as session:
        outcome = import_bgmax(
            session, _tenant(session, tenant), data, filename=path.name, source="cli", today=clock.today(), actor="cli"
        )
        file = outcome.file
    if outcome.already_imported:
        console.print(
            f"{path.name} was imported before (file {file.id}, {file.imported_at:%Y-%m-%d %H:%M}): nothing changed"
        )
        return
    console.print(
        f"{path.name}: {file.payments} payments in {file.deposits} deposits, "
        f"{format_amount(file.amount)}; {file.matched} matched, {file.deviations} deviations, "
        f"{file.duplicates} already received (file {file.id})"
    )


@import_app.command("billing-file")
def import_billing_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The billing file.")],
    mapping: Annotated[
        str | None, typer.Option(help="canonical (default), jsonl, a name in KVITT_BILLING_MAPPINGS_DIR, a .toml file.")
    ] = None,
    issue: Annotated[bool, typer.Option("--issue", help="Issue the invoices (default: drafts).")] = False,
    upsert: Annotated[bool, typer.Option("--upsert/--no-upsert", help="Create/update customers from the file.")] = True,
    tenant: TenantOption = None,
) -> None:
    """Import a billing file (docs/billing-files.md): customers upserted, one invoice per invoice_ref.

    The whole file is checked first; a bad file is refused with every error's line and field and
    nothing of it is applied. Importing the same file again changes nothing."""
    from kvitt.billing_files.cli import run

    run(path, mapping=mapping, issue=issue, upsert_customers=upsert, tenant=tenant)


@export_app.command("sie")
def export_sie(
    file: Annotated[Path, typer.Argument(help="The file to write, e.g. kvitt-20260101-20261231.se.", dir_okay=False)],
    date_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, included.")],
    date_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")],
    tenant: TenantOption = None,
) -> None:
    """Write the journal entries of a period as a SIE 4 file for the tenant's bookkeeping program."""
    from kvitt.ledger.export import write_sie_file

    output_file(file)
    with _transaction() as session:
        size = write_sie_file(session, _tenant(session, tenant), date_from.date(), date_to.date(), file)
    console.print(f"wrote {file} ({size} bytes)")


@inbox_app.command("read")
def inbox_read(
    directory: Annotated[Path | None, typer.Option("--dir", help="Default: KVITT_INBOX_DIR.")] = None,
) -> None:
    """Read the inbox now (the worker does it at KVITT_INBOX_TIMES)."""
    from kvitt.payments.inbox import read_inbox

    folder = directory or (Path(get_settings().inbox_dir) if get_settings().inbox_dir else None)
    if folder is None or not folder.is_dir():
        err.print("[red]error:[/red] no inbox folder: set KVITT_INBOX_DIR or pass --dir")
        raise typer.Exit(2)
    with _transaction() as session:
        results = read_inbox(session, folder, today=clock.today(), actor="cli")
    for result in results:
        console.print(f"{result.path}: {result.outcome} {result.detail}".rstrip())
    console.print(f"{len(results)} new files read")


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="pending, running, done or dead; default: all but done.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """List jobs in the queue."""
    if ctx.invoked_subcommand is not None:
        return
    with _transaction() as session:
        query = select(OutboxJob).order_by(OutboxJob.id.desc()).limit(limit)
        query = query.where(OutboxJob.state == state) if state else query.where(OutboxJob.state != "done")
        rows = list(session.scalars(query))
        counts = dict(session.execute(select(OutboxJob.state, func.count()).group_by(OutboxJob.state)).all())
    table = Table("id", "kind", "state", "attempts", "run at", "last error")
    for job in rows:
        table.add_row(
            str(job.id),
            job.kind,
            job.state,
            str(job.attempts),
            job.run_at.isoformat(timespec="seconds"),
            (job.last_error or "")[:80],
        )
    console.print(table)
    console.print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no jobs")


@jobs_app.command("retry")
def jobs_retry(
    job_ids: Annotated[list[int] | None, typer.Argument(help="Dead jobs to retry; none: every dead job.")] = None,
) -> None:
    """Put dead jobs back in the queue."""

    db = _database()
    try:
        count = retry_dead(db, job_ids or None)
    finally:
        db.dispose()
    console.print(f"{count} dead jobs queued again")


@jobs_app.command("run")
def jobs_run() -> None:
    """Run every due job now, then stop (what the worker does, once)."""

    db = _database()
    try:
        ran = Worker(db).run_until_idle()
    finally:
        db.dispose()
    console.print(f"{ran} jobs run")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option()] = "cli",
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, api_key, billogram_user} as JSON.")] = False,
) -> None:
    """Create an API key (shown once)."""
    with _transaction() as session:
        owner = _tenant(session, tenant)
        key, secret = tenants.create_api_key(session, owner, name)
        key_id, owner_id, user = key.id, owner.id, billogram_user(owner.id, owner.org_number)
    if as_json:
        typer.echo(json.dumps({"id": key_id, "tenant_id": owner_id, "api_key": secret, "billogram_user": user}))
        return
    console.print(f"API key {key_id} ({name}): [bold]{secret}[/bold] (Billogram API user: {user})")


@keys_app.command("list")
def keys_list(tenant: TenantOption = None) -> None:
    """List API keys (their prefixes; keys themselves are stored hashed)."""
    with _transaction() as session:
        keys = tenants.list_api_keys(session, _tenant(session, tenant))
    table = Table("id", "name", "prefix", "created", "revoked")
    for key in keys:
        table.add_row(
            str(key.id),
            key.name,
            key.key_prefix + "…",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int, tenant: TenantOption = None) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with _transaction() as session:
        tenants.revoke_api_key(session, _tenant(session, tenant), key_id)
    console.print(f"API key {key_id} revoked")


if __name__ == "__main__":
    app()
