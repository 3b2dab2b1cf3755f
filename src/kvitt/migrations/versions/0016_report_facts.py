"""reports: daily KPI facts per tenant, receivable flows, and the days waiting for a refresh

Existing data is not computed here: every day that has an issued invoice, a journal entry or a
payment is marked dirty, and the first refresh (the worker's job or the first KPI request)
computes it.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_daily_facts",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=30), nullable=False),
        sa.Column("dim", sa.String(length=30), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "day", "measure", "dim"),
    )
    op.create_table(
        "report_receivable_flows",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "day", "due_date"),
    )
    op.create_table(
        "report_dirty_days",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "day"),
    )
    # A day's facts are recomputed from the invoices of that invoice date (no index served it).
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_tenant_invoice_date", ["tenant_id", "invoice_date"], unique=False)
    op.execute(
        "INSERT INTO report_dirty_days (tenant_id, day) "
        "SELECT tenant_id, invoice_date FROM invoices WHERE invoice_date IS NOT NULL AND state <> 'draft' "
        "UNION SELECT tenant_id, date FROM journal_entries "
        "UNION SELECT tenant_id, date FROM payments"
    )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_tenant_invoice_date")
    op.drop_table("report_dirty_days")
    op.drop_table("report_receivable_flows")
    op.drop_table("report_daily_facts")
