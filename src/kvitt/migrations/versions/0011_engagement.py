"""engagement: segments, placements, impressions and clicks, survey answers, recipient links

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kvitt.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, kvitt.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("match", sa.String(length=3), nullable=False),
        sa.Column("conditions", kvitt.core.db.JsonType, nullable=False),
        sa.Column("customer_count", sa.BigInteger(), nullable=False),
        _when("counted_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_segments_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_segments_tenant_id_name")),
    )
    op.create_table(
        "placements",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.Column("cta", sa.String(length=80), nullable=True),
        sa.Column("cta_en", sa.String(length=80), nullable=True),
        sa.Column("survey", kvitt.core.db.JsonType, nullable=False),
        sa.Column("segments", kvitt.core.db.JsonType, nullable=False),
        sa.Column("channels", kvitt.core.db.JsonType, nullable=False),
        _when("starts_at", nullable=True),
        _when("ends_at", nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("cap_per_customer", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_placements_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placements_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "engagement_events",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("placement_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        _when("at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_engagement_events_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_events")),
    )
    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_engagement_events_tenant_placement_at", ["tenant_id", "placement_id", "at"], unique=False
        )
        batch_op.create_index("ix_engagement_events_tenant_invoice", ["tenant_id", "invoice_id"], unique=False)
    op.create_table(
        "survey_answers",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("placement_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=200), nullable=True),
        sa.Column("text", sa.String(length=2000), nullable=True),
        _when("at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_survey_answers_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint(
            "tenant_id", "placement_id", "invoice_id", name=op.f("uq_survey_answers_tenant_id_placement_id_invoice_id")
        ),
    )
    op.create_table(
        "recipient_links",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_recipient_links_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_links")),
        sa.UniqueConstraint("tenant_id", "token_hash", name=op.f("uq_recipient_links_tenant_id_token_hash")),
    )
    with op.batch_alter_table("recipient_links", schema=None) as batch_op:
        batch_op.create_index("ix_recipient_links_token_hash", ["token_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recipient_links", schema=None) as batch_op:
        batch_op.drop_index("ix_recipient_links_token_hash")
    op.drop_table("recipient_links")
    op.drop_table("survey_answers")
    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_events_tenant_invoice")
        batch_op.drop_index("ix_engagement_events_tenant_placement_at")
    op.drop_table("engagement_events")
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_placements_tenant_id"))
    op.drop_table("placements")
    op.drop_table("segments")
