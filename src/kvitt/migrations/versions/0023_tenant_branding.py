"""tenants: the brand colour and the logo (its SHA-256 on the tenant, its bytes in tenant_logos)

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_color", sa.String(7), nullable=True))
        batch_op.add_column(sa.Column("logo_sha256", sa.String(64), nullable=True))
    op.create_table(
        "tenant_logos",
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_logos")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("logo_sha256")
        batch_op.drop_column("brand_color")
