"""``kvitt dunning run | export-collection | rates | rates set`` (mounted by kvitt.cli)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kvitt.core import clock
from kvitt.core.commandline import TenantOption, err
from kvitt.core.commandline import transaction as _transaction
from kvitt.dunning import collection, service
from kvitt.dunning.law import LATE_INTEREST_MARGIN_BP
from kvitt.tenants import service as tenants

dunning_app = typer.Typer(help="Dunning: the daily tick, collection export, reference rates.", no_args_is_help=True)
rates_app = typer.Typer(help="Riksbanken's reference rates (Räntelagen 9 §).", invoke_without_command=True)
dunning_app.add_typer(rates_app, name="rates")
console = Console()


def _day(text: str | None) -> date:
    if text is None:
        return clock.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[red]error:[/red] --date {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


@dunning_app.command("run")
def run(
    on: Annotated[str | None, typer.Option("--date", help="The business date (YYYY-MM-DD); default today.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Take every dunning step due on the date. Running it again the same day sends nothing twice."""
    today = _day(on)
    with _transaction() as session:
        result = service.run(session, tenants.resolve(session, tenant), today=today, actor="cli")
    console.print(
        f"{today.isoformat()}: {result.reminders} reminders, {result.collections} handed to collection, "
        f"fees {result.fees} öre, interest {result.interest} öre"
    )


@dunning_app.command("export-collection")
def export_collection(
    out: Annotated[Path, typer.Argument(help="Where to write the CSV file.")],
    on: Annotated[str | None, typer.Option("--date", help="Only cases handed over on this date.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Write the collection cases as a CSV file for the agency."""
    from kvitt.startup import output_file

    output_file(out)
    with _transaction() as session:
        body = collection.export_csv(session, tenants.resolve(session, tenant), handed_over_on=_day(on) if on else None)
    out.write_text(body, encoding="utf-8")
    console.print(f"{body.count(chr(10)) - 1} cases written to {out}")


@rates_app.callback()
def rates(ctx: typer.Context) -> None:
    """List the reference rates Kvitt knows."""
    if ctx.invoked_subcommand is not None:
        return
    with _transaction() as session:
        rows = service.reference_rates(session)
        table = Table("from", "reference rate", "late interest", "source")
        for row in rows:
            table.add_row(
                row.valid_from.isoformat(),
                f"{Decimal(row.rate_bp) / 100:.2f} %",
                f"{Decimal(row.rate_bp + LATE_INTEREST_MARGIN_BP) / 100:.2f} %",
                row.source,
            )
    console.print(table)


@rates_app.command("set")
def rates_set(
    valid_from: Annotated[str, typer.Argument(help="1 January or 1 July, YYYY-MM-DD.")],
    percent: Annotated[str, typer.Argument(help="The rate in percent, e.g. 1.75 or -0.25.")],
    source: Annotated[str, typer.Option(help="Where the rate comes from.")] = "Riksbanken",
) -> None:
    """Record Riksbanken's reference rate for a half-year."""
    try:
        value = Decimal(percent.replace(",", "."))
    except InvalidOperation:
        err.print(f"[red]error:[/red] {percent!r} is not a percentage")
        raise typer.Exit(2) from None
    if value != value.quantize(Decimal("0.01")):
        err.print("[red]error:[/red] the reference rate has at most two decimals")
        raise typer.Exit(2)
    with _transaction() as session:
        row = service.set_reference_rate(session, _day(valid_from), int(value * 100), source)
    console.print(f"reference rate from {row.valid_from.isoformat()}: {value:.2f} %")
