"""outbox: a job's priority (higher first), claimed by (state, priority DESC, run_at, id);
checkout: payment requests cancelled at Swish, refunds of money that paid a credited invoice

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.drop_column("priority")
