"""segments: customer_behaviour (each customer's behaviour facts as of a business day) and
customer_behaviour_builds (the day a tenant's whole table was computed for)

Existing data is not computed here: until a tenant's table is built (the daily segments job, or
``kvitt segments rebuild-behaviour``, one set-based INSERT ... SELECT), rules on behaviour group
the invoices as before, so nothing answers from an empty table.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_behaviour",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("open_balance", sa.BigInteger(), nullable=False),
        sa.Column("last_invoice_total", sa.BigInteger(), nullable=True),
        sa.Column("late_mask", sa.BigInteger(), nullable=False),
        sa.Column("late_days_sum", sa.BigInteger(), nullable=False),
        sa.Column("late_days_count", sa.BigInteger(), nullable=False),
        sa.Column("reminders_last_year", sa.BigInteger(), nullable=False),
        sa.Column("payment_method", sa.String(length=20), nullable=True),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id"),
    )
    op.create_table(
        "customer_behaviour_builds",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("built_on", sa.Date(), nullable=False),
        sa.Column("built_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("customer_behaviour_builds")
    op.drop_table("customer_behaviour")
