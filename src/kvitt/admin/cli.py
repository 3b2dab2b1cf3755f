"""``kvitt users``: staff users of the back office."""

from __future__ import annotations

from typing import Annotated

import typer

from kvitt.admin import users
from kvitt.admin.models import ROLES
from kvitt.core.commandline import transaction as _transaction
from kvitt.tenants import service as tenants

users_app = typer.Typer(help="Staff users of the back office (/admin).", no_args_is_help=True)


@users_app.command("create")
def create(
    email: Annotated[str, typer.Option("--email", help="The login name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant id or organisation number (may be left out with one tenant).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="At least 10 characters; left out: a one-time password is printed."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The person's name.")] = "",
) -> None:
    """Create a staff user; without --password, print a one-time password (changed at first login)."""
    with _transaction() as session:
        found = tenants.resolve(session, tenant)
        created = users.create_user(session, found.id, email, role, password=password, name=name)
        user_id, user_email = created.user.id, created.user.email
    typer.echo(f"staff user {user_id} created: {user_email} ({role}) for tenant {found.id}")
    if created.password is not None:
        typer.echo(f"one-time password (shown once, to be changed at first login): {created.password}")


@users_app.command("list")
def list_users(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant id or organisation number (may be left out with one tenant).")
    ] = None,
) -> None:
    """The tenant's staff users."""
    with _transaction() as session:
        found = tenants.resolve(session, tenant)
        for user in users.list_users(session, found.id):
            state = "active" if user.active else "inactive"
            typer.echo(f"{user.id}\t{user.email}\t{user.role}\t{state}")
