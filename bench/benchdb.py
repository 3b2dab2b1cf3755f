"""The PostgreSQL side the seeding benches share: their own fresh database, migrated, with the one
tenant they bill ("Bench AB"). Imported after a script has put Kvitt's ``src`` on the path."""

from __future__ import annotations

import psycopg

from kvitt.core.db import Database
from kvitt.dunning import policies
from kvitt.migrations import upgrade
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create the bench's database on the server; its URL."""
    with psycopg.connect(server_url + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")


def bench_tenant(url: str, *, default_policy: bool = False) -> int:
    """Migrate the database and make the bench's tenant (with its default dunning policy if
    asked); its id. The rows the bench measures are then seeded with SQL."""
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        tenant, _ = tenants.create(
            session, TenantCreate(name="Bench AB", org_number="556036-0793", bankgiro="5050-1055")
        )
        if default_policy:
            policies.ensure_default(session, tenant)
        tenant_id = tenant.id
    db.dispose()
    return tenant_id
