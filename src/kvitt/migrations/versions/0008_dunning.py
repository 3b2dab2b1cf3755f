"""dunning: policies, reminders, reference rates, pauses, extensions, instalment plans, collection

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kvitt.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RIKSBANK = "Riksbanken, riksbank.se/sv/statistik/rantor-och-valutakurser/referensranta (table read 2026-11-25)"
DERIVED = (
    "not read from Riksbanken: the policy rate at the end of the previous half-year ({} %) rounded up "
    "to the nearest half percentage point (Räntelagen 9 §); check it against riksbank.se"
)
# Riksbanken's reference rate per half-year, in hundredths of a percent (Räntelagen 9 §).
REFERENCE_RATES = [
    ("2019-01-01", -50, RIKSBANK),
    ("2019-07-01", 0, RIKSBANK),
    ("2020-01-01", 0, RIKSBANK),
    ("2020-07-01", 0, RIKSBANK),
    ("2021-01-01", 0, RIKSBANK),
    ("2021-07-01", 0, RIKSBANK),
    ("2022-01-01", 0, RIKSBANK),
    ("2022-07-01", 50, RIKSBANK),
    ("2023-01-01", 250, RIKSBANK),
    ("2023-07-01", 350, RIKSBANK),
    ("2024-01-01", 400, RIKSBANK),
    ("2024-07-01", 400, RIKSBANK),
    ("2025-01-01", 250, DERIVED.format("2,50")),
    ("2025-07-01", 200, DERIVED.format("2,00")),
    ("2026-01-01", 200, DERIVED.format("1,75")),
]


def upgrade() -> None:
    op.create_table(
        "reference_rates",
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("valid_from", name=op.f("pk_reference_rates")),
    )
    op.create_table(
        "dunning_policies",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "rules", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "steps", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_dunning_policies_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_policies")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_dunning_policies_tenant_id_name")),
    )
    op.create_index(op.f("ix_dunning_policies_tenant_id"), "dunning_policies", ["tenant_id"], unique=False)
    op.create_table(
        "dunning_settings",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("extension_auto_days", sa.Integer(), nullable=False),
        sa.Column("extension_max_days", sa.Integer(), nullable=False),
        sa.Column("agency_url", sa.String(length=500), nullable=True),
        sa.Column("agency_api_key", sa.String(length=200), nullable=True),
        sa.Column("agency_cursor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_dunning_settings_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_dunning_settings")),
    )
    op.create_table(
        "dunning_pauses",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_dunning_pauses_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_dunning_pauses_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_dunning_pauses_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_pauses")),
    )
    op.create_index("ix_dunning_pauses_tenant_customer", "dunning_pauses", ["tenant_id", "customer_id"], unique=False)
    op.create_index("ix_dunning_pauses_tenant_invoice", "dunning_pauses", ["tenant_id", "invoice_id"], unique=False)
    op.create_table(
        "dunning_reminders",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("policy_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("fee_kind", sa.String(length=24), nullable=True),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("interest_from", sa.Date(), nullable=True),
        sa.Column("interest_to", sa.Date(), nullable=True),
        sa.Column(
            "interest_rates_bp",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("charge_invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_invoice_id"], ["invoices.id"], name=op.f("fk_dunning_reminders_charge_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_dunning_reminders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_dunning_reminders_invoice_id_invoices")),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["dunning_policies.id"],
            name=op.f("fk_dunning_reminders_policy_id_dunning_policies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_dunning_reminders_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_reminders")),
        sa.UniqueConstraint("invoice_id", "level", name=op.f("uq_dunning_reminders_invoice_id_level")),
    )
    op.create_index("ix_dunning_reminders_charge_invoice", "dunning_reminders", ["charge_invoice_id"], unique=False)
    op.create_index(
        "ix_dunning_reminders_tenant_invoice", "dunning_reminders", ["tenant_id", "invoice_id"], unique=False
    )
    op.create_table(
        "instalment_plans",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_before", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("charge_invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column(
            "parts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_invoice_id"], ["invoices.id"], name=op.f("fk_instalment_plans_charge_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_instalment_plans_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_instalment_plans_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment_plans")),
    )
    op.create_index("ix_instalment_plans_tenant_invoice", "instalment_plans", ["tenant_id", "invoice_id"], unique=False)
    op.create_index("ix_instalment_plans_charge_invoice", "instalment_plans", ["charge_invoice_id"], unique=False)
    op.create_table(
        "payment_extensions",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_extensions_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_payment_extensions_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_extensions")),
    )
    op.create_index(
        "ix_payment_extensions_tenant_invoice", "payment_extensions", ["tenant_id", "invoice_id"], unique=False
    )
    op.create_table(
        "collection_cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("reminder_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("handed_over_on", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("charges", sa.BigInteger(), nullable=False),
        sa.Column("fee_kind", sa.String(length=24), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("collected", sa.BigInteger(), nullable=False),
        sa.Column("closed_reason", sa.String(length=40), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_collection_cases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_collection_cases_invoice_id_invoices")),
        sa.ForeignKeyConstraint(
            ["reminder_id"], ["dunning_reminders.id"], name=op.f("fk_collection_cases_reminder_id_dunning_reminders")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_collection_cases_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_cases")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_collection_cases_invoice_id")),
    )
    op.create_index("ix_collection_cases_tenant_state", "collection_cases", ["tenant_id", "state"], unique=False)
    op.create_table(
        "collection_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["collection_cases.id"], name=op.f("fk_collection_events_case_id_collection_cases")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_collection_events_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_events")),
        sa.UniqueConstraint("tenant_id", "external_id", name=op.f("uq_collection_events_tenant_id_external_id")),
    )

    rates = sa.table(
        "reference_rates",
        sa.column("valid_from", sa.Date()),
        sa.column("rate_bp", sa.Integer()),
        sa.column("source", sa.String()),
        sa.column("updated_at", kvitt.core.db.UtcDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        rates,
        [
            {"valid_from": date.fromisoformat(day), "rate_bp": rate, "source": source, "updated_at": now}
            for day, rate, source in REFERENCE_RATES
        ],
    )


def downgrade() -> None:
    op.drop_table("collection_events")
    op.drop_index("ix_collection_cases_tenant_state", table_name="collection_cases")
    op.drop_table("collection_cases")
    op.drop_index("ix_payment_extensions_tenant_invoice", table_name="payment_extensions")
    op.drop_table("payment_extensions")
    op.drop_index("ix_instalment_plans_charge_invoice", table_name="instalment_plans")
    op.drop_index("ix_instalment_plans_tenant_invoice", table_name="instalment_plans")
    op.drop_table("instalment_plans")
    op.drop_index("ix_dunning_reminders_tenant_invoice", table_name="dunning_reminders")
    op.drop_index("ix_dunning_reminders_charge_invoice", table_name="dunning_reminders")
    op.drop_table("dunning_reminders")
    op.drop_index("ix_dunning_pauses_tenant_invoice", table_name="dunning_pauses")
    op.drop_index("ix_dunning_pauses_tenant_customer", table_name="dunning_pauses")
    op.drop_table("dunning_pauses")
    op.drop_table("dunning_settings")
    op.drop_index(op.f("ix_dunning_policies_tenant_id"), table_name="dunning_policies")
    op.drop_table("dunning_policies")
    op.drop_table("reference_rates")
