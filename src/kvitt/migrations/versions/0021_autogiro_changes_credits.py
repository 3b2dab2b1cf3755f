"""autogiro: a mandate's pending change of payer number (TK05), and credits to payers (TK32)

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kvitt.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("autogiro_mandates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("new_payer_number", sa.String(16), nullable=True))
    op.create_table(
        "autogiro_credits",
        sa.Column("id", ID, primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("mandate_id", sa.BigInteger(), sa.ForeignKey("autogiro_mandates.id"), nullable=False),
        sa.Column("payer_number", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("pay_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("result_code", sa.String(2), nullable=True),
        sa.Column("result_text", sa.String(120), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("sent_at", True),
    )
    op.create_index("ix_autogiro_credits_tenant_status", "autogiro_credits", ["tenant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_autogiro_credits_tenant_status", table_name="autogiro_credits")
    op.drop_table("autogiro_credits")
    with op.batch_alter_table("autogiro_mandates", schema=None) as batch_op:
        batch_op.drop_column("new_payer_number")
