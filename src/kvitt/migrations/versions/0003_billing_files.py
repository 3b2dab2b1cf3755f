"""billing files

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_files",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("mapping", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("issue", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("customers_created", sa.Integer(), nullable=False),
        sa.Column("customers_updated", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("errors", kvitt.core.db.JsonType, nullable=False),
        sa.Column("skipped_refs", kvitt.core.db.JsonType, nullable=False),
        sa.Column("imported_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_billing_files_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_files")),
        sa.UniqueConstraint("tenant_id", "content_hash", name=op.f("uq_billing_files_tenant_id_content_hash")),
    )
    op.create_table(
        "billing_file_invoice_refs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("invoice_ref", sa.String(length=100), nullable=False),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("created_at", kvitt.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_billing_file_invoice_refs_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["billing_files.id"], name=op.f("fk_billing_file_invoice_refs_file_id_billing_files")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_billing_file_invoice_refs_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_file_invoice_refs")),
        sa.UniqueConstraint(
            "tenant_id", "invoice_ref", name=op.f("uq_billing_file_invoice_refs_tenant_id_invoice_ref")
        ),
    )
    with op.batch_alter_table("billing_file_invoice_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_file_invoice_refs_file_id"), ["file_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_billing_file_invoice_refs_invoice_id"), ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_table("billing_file_invoice_refs")
    op.drop_table("billing_files")
