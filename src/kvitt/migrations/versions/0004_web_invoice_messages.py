"""web invoice: visits (first/last opened, one opened event a day) and the form key

Messages are invoice events, so they need no table.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_invoice_visits",
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=False),
        sa.Column("first_opened_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_opened_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_event_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_web_invoice_visits_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_web_invoice_visits_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_web_invoice_visits")),
    )
    with op.batch_alter_table("web_invoice_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_invoice_visits_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_invoice_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_invoice_visits_tenant_id"))
    op.drop_table("web_invoice_visits")
