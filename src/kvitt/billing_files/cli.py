"""``kvitt import billing-file``: the work behind the command (kept here, out of the shared cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from kvitt.billing_files import mappings, service
from kvitt.core import clock
from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.core.errors import KvittError
from kvitt.core.money import format_amount
from kvitt.formats import billing_file as codec
from kvitt.tenants import service as tenants

console = Console()
err = Console(stderr=True)


def run(path: Path, *, mapping: str | None, issue: bool, upsert_customers: bool, tenant: str | None) -> None:
    chosen = _mapping(mapping)
    options = service.Options(issue=issue, upsert_customers=upsert_customers)
    db = Database(get_settings().database_url)
    size = path.stat().st_size
    try:
        with _progress() as bar, db.transaction() as session:
            # Both passes read the file: the bar runs over twice its size (check, then apply).
            task = bar.add_task(f"{path.name}", total=2 * size or 1)
            outcome = service.import_billing_file(
                session,
                tenants.resolve(session, tenant),
                path,
                mapping=chosen,
                options=options,
                filename=path.name,
                source="cli",
                today=clock.today(),
                actor="cli",
                progress=lambda done: bar.update(task, completed=done),
            )
            bar.update(task, completed=2 * size or 1, description=f"{path.name}: committing")
    except KvittError as exc:
        _print_refusal(exc)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    file = outcome.file
    if outcome.already_imported:
        console.print(f"{path.name} was imported before (billing file {file.id}): nothing changed")
        return
    done = "issued" if issue else "created as drafts"
    console.print(
        f"{path.name}: {file.invoices} invoices {done} ({file.rows} lines), {format_amount(file.total)}; "
        f"customers: {file.customers_created} new, {file.customers_updated} updated; "
        f"{file.skipped} invoice refs invoiced before, skipped (billing file {file.id})"
    )
    if file.skipped_refs:
        console.print(
            "skipped: " + ", ".join(file.skipped_refs) + (" …" if file.skipped > len(file.skipped_refs) else "")
        )


def _mapping(name: str | None) -> codec.Mapping:
    try:
        if name and (name.endswith(".toml") or "/" in name):
            path = Path(name)
            if not path.is_file():
                raise typer.BadParameter(f"no mapping file {name}", param_hint="--mapping")
            return mappings.from_file(path)
        return mappings.by_name(name)
    except KvittError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _print_refusal(exc: KvittError) -> None:
    errors = exc.extra.get("errors")
    if not errors:
        where = f" ({exc.param})" if exc.param else ""
        err.print(f"[red]error:[/red] {exc.message}{where}")
        return
    err.print(f"[red]error:[/red] the file was not imported, nothing of it was applied ({len(errors)} errors):")
    for error in errors:
        err.print(f"  line {error['line']}, {error['field']}: {error['message']}")
