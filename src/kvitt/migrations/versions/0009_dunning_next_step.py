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


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dunning_next_steps",
        sa.Column("invoice_id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("next_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    with op.batch_alter_table("dunning_next_steps", schema=None) as batch_op:
        batch_op.create_index("ix_dunning_next_steps_tenant_next_on", ["tenant_id", "next_on"], unique=False)
    op.create_table(
        "dunning_tick_marks",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("fingerprint", sa.String(length=500), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("dunning_tick_marks")
    op.drop_table("dunning_next_steps")
