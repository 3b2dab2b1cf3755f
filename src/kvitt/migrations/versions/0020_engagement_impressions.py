"""engagement: one impression per invoice, placement and channel for what is sent (email, SMS,
PDF/letter): a unique index over those rows; recipient links record the channel they went by
(email or sms) and are counted per customer for the rate limit

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SENT = "kind = 'impression' AND channel <> 'web'"


def upgrade() -> None:
    # Impressions of a resent email counted twice before this: keep the first of each.
    op.execute(
        "DELETE FROM engagement_events WHERE kind = 'impression' AND channel <> 'web' AND id NOT IN ("
        " SELECT MIN(id) FROM engagement_events WHERE kind = 'impression' AND channel <> 'web'"
        " GROUP BY tenant_id, invoice_id, placement_id, channel)"
    )
    op.create_index(
        "uq_engagement_events_sent",
        "engagement_events",
        ["tenant_id", "invoice_id", "placement_id", "channel"],
        unique=True,
        sqlite_where=sa.text(SENT),
        postgresql_where=sa.text(SENT),
    )
    with op.batch_alter_table("recipient_links") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=10), nullable=False, server_default="email"))
    op.create_index("ix_recipient_links_tenant_customer", "recipient_links", ["tenant_id", "customer_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_recipient_links_tenant_customer", table_name="recipient_links")
    with op.batch_alter_table("recipient_links") as batch:
        batch.drop_column("channel")
    op.drop_index("uq_engagement_events_sent", table_name="engagement_events")
