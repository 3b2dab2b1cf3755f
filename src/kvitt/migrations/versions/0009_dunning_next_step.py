"""dunning: each invoice's next possible step date, and the configuration a tick trusted it under

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: not known yet (the tick looks at the invoice once it is past due and writes it).
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dunning_next_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_invoices_tenant_dunning_next_on", ["tenant_id", "dunning_next_on"], unique=False)
    op.create_table(
        "dunning_tick_marks",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=500), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("dunning_tick_marks")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_tenant_dunning_next_on")
        batch_op.drop_column("dunning_next_on")
