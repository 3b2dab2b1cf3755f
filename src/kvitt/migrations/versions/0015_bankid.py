"""bankid: sign orders of the web invoice's autogiro sign-up (BankID RP API v6)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kvitt.core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kvitt.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "bankid_sign_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=False),
        sa.Column("clearing", sa.String(5), nullable=False),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("visible_text", sa.Text(), nullable=False),
        sa.Column("signed_data", JSON, nullable=False),
        sa.Column("auto_start_token", sa.String(64), nullable=False),
        sa.Column("qr_start_token", sa.String(64), nullable=False),
        sa.Column("qr_start_secret", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("hint_code", sa.String(40), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("mandate_id", ID, nullable=True),
        _at("started_at"),
        _at("last_collect_at", nullable=True),
        _at("finished_at", nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_bankid_sign_orders_tenant_id_tenants")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_bankid_sign_orders_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_bankid_sign_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"], ["autogiro_mandates.id"], name=op.f("fk_bankid_sign_orders_mandate_id_autogiro_mandates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bankid_sign_orders")),
        sa.UniqueConstraint("tenant_id", "order_ref", name=op.f("uq_bankid_sign_orders_tenant_id_order_ref")),
    )
    op.create_index("ix_bankid_sign_orders_tenant_invoice", "bankid_sign_orders", ["tenant_id", "invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_bankid_sign_orders_tenant_invoice", table_name="bankid_sign_orders")
    op.drop_table("bankid_sign_orders")
