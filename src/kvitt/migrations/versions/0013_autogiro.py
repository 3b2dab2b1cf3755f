"""autogiro: settings, mandates, debits (payment orders) and the files exchanged with Bankgirot

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kvitt.core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
LIVE = "status IN ('pending', 'sent', 'active')"


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kvitt.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "autogiro_settings",
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("bgc_customer_number", sa.String(6), nullable=True),
        sa.Column("banking_days_before", sa.Integer(), nullable=False),
        _at("updated_at"),
    )
    op.create_table(
        "autogiro_mandates",
        sa.Column("id", ID, primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("payer_number", sa.String(16), nullable=False),
        sa.Column("clearing", sa.String(4), nullable=False),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("personal_number", sa.String(12), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("outgoing", sa.String(10), nullable=True),
        sa.Column("comment_code", sa.String(2), nullable=True),
        sa.Column("comment_text", sa.String(120), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("sent_at", True),
        _at("activated_at", True),
        _at("cancelled_at", True),
    )
    op.create_index(
        "ux_autogiro_mandates_live_payer",
        "autogiro_mandates",
        ["tenant_id", "payer_number"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index("ix_autogiro_mandates_tenant_customer", "autogiro_mandates", ["tenant_id", "customer_id"])
    op.create_table(
        "autogiro_debits",
        sa.Column("id", ID, primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("mandate_id", sa.BigInteger(), sa.ForeignKey("autogiro_mandates.id"), nullable=False),
        sa.Column("payer_number", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("debit_on", sa.Date(), nullable=False),
        sa.Column("order_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("result_code", sa.String(2), nullable=True),
        sa.Column("result_text", sa.String(120), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), sa.ForeignKey("payments.id"), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("sent_at", True),
        sa.UniqueConstraint("tenant_id", "invoice_id"),
    )
    op.create_index("ix_autogiro_debits_tenant_status_order", "autogiro_debits", ["tenant_id", "status", "order_on"])
    op.create_table(
        "autogiro_files",
        sa.Column("id", ID, primary_key=True),
        sa.Column("tenant_id", sa.BigInteger(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        _at("created_at"),
        sa.UniqueConstraint("tenant_id", "direction", "sha256"),
    )
    op.create_index("ix_autogiro_files_tenant_id", "autogiro_files", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("autogiro_files")
    op.drop_table("autogiro_debits")
    op.drop_table("autogiro_mandates")
    op.drop_table("autogiro_settings")
