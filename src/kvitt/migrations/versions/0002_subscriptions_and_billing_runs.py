"""subscriptions and billing runs

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("partitions_done", sa.Integer(), nullable=False),
        sa.Column("subscriptions_due", sa.Integer(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("periods_without_charge", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("vat", sa.BigInteger(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", kvitt.core.db.JsonType, nullable=False),
        sa.Column("started_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_billing_runs_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
    )
    op.create_index(op.f("ix_billing_runs_tenant_id"), "billing_runs", ["tenant_id"], unique=False)
    op.create_table(
        "test_clocks",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("current_date", sa.Date(), nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_test_clocks_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_test_clocks")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("anchor_date", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("binding_until", sa.Date(), nullable=True),
        sa.Column("next_period_start", sa.Date(), nullable=True),
        sa.Column("payment_terms_days", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(length=4000), nullable=True),
        sa.Column("metadata", kvitt.core.db.JsonType, nullable=False),
        sa.Column("canceled_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_subscriptions_customer_id_customers")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_subscriptions_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_customer_id"), "subscriptions", ["customer_id"], unique=False)
    op.create_index("ix_subscriptions_due", "subscriptions", ["tenant_id", "next_period_start", "id"], unique=False)
    op.create_table(
        "billing_periods",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("billing_run_id", ID, nullable=True),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["billing_run_id"], ["billing_runs.id"], name=op.f("fk_billing_periods_billing_run_id_billing_runs")
        ),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_billing_periods_invoice_id_invoices")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_billing_periods_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_billing_periods_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_periods")),
        # Exactly once per subscription and period, whatever the code does.
        sa.UniqueConstraint(
            "subscription_id", "period_start", name=op.f("uq_billing_periods_subscription_id_period_start")
        ),
    )
    op.create_index(op.f("ix_billing_periods_billing_run_id"), "billing_periods", ["billing_run_id"], unique=False)
    op.create_index(op.f("ix_billing_periods_invoice_id"), "billing_periods", ["invoice_id"], unique=False)
    op.create_table(
        "subscription_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=4), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_subscription_lines_item_id_items")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_subscription_lines_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_subscription_lines_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_lines")),
    )
    op.create_index(
        op.f("ix_subscription_lines_subscription_id"), "subscription_lines", ["subscription_id"], unique=False
    )
    op.create_table(
        "subscription_pauses",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_subscription_pauses_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_subscription_pauses_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_pauses")),
    )
    op.create_index(
        op.f("ix_subscription_pauses_subscription_id"), "subscription_pauses", ["subscription_id"], unique=False
    )
    op.create_table(
        "subscription_period_info",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("blocks", kvitt.core.db.JsonType, nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_period_info_subscription_id_subscriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_subscription_period_info_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_period_info")),
        sa.UniqueConstraint(
            "subscription_id", "period_start", name=op.f("uq_subscription_period_info_subscription_id_period_start")
        ),
    )


def downgrade() -> None:
    for table in (
        "subscription_period_info",
        "subscription_pauses",
        "subscription_lines",
        "billing_periods",
        "subscriptions",
        "test_clocks",
        "billing_runs",
    ):
        op.drop_table(table)
