"""dunning_next_steps without the foreign key to invoices: a derived lower bound the tick rebuilds

The table holds, per invoice the dunning tick looked at, the first day a step can be due
(tick.py); the tick writes it from its own finding query's rows, each an open invoice of the
tenant it runs for. The foreign key to invoices checked every row written with a lookup and a
row lock of the wide invoice row: 0.68 s of the finding statement's 4.8 s on a first tick
(bench/dunning.py, 200,000 open invoices, 110,000 dates, EXPLAIN ANALYZE). A row can only name
an invoice the query just read, and a row left for an invoice that no longer exists is never
read (the tick and the back office read the dates through the tenant's open invoices). The key
to tenants stays (every table with tenant_id refers to its tenant: tests/test_tenant_keys.py),
though it costs as much (0.81 s there).

The table is made anew (SQLite cannot drop a foreign key in place) and the tick marks are
cleared, so each tenant's next tick looks at every open past-due invoice and writes the dates.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def _create(*, invoice_key: bool) -> None:
    keys = [sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"])] if invoice_key else []
    op.create_table(
        "dunning_next_steps",
        sa.Column("invoice_id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("next_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        *keys,
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_index("ix_dunning_next_steps_tenant_next_on", "dunning_next_steps", ["tenant_id", "next_on"])


def upgrade() -> None:
    op.drop_table("dunning_next_steps")
    _create(invoice_key=False)
    op.execute("DELETE FROM dunning_tick_marks")


def downgrade() -> None:
    op.drop_table("dunning_next_steps")
    _create(invoice_key=True)
    op.execute("DELETE FROM dunning_tick_marks")
