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


CLAIM_ORDER = ["state", sa.text("priority DESC"), "run_at", "id"]


def upgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0"))
    # The claim reads (state, priority DESC, run_at, id); the old (state, run_at) index is a
    # prefix of nothing it reads any more, and every job insert paid for it.
    op.create_index("ix_outbox_jobs_claim", "outbox_jobs", CLAIM_ORDER)
    op.drop_index("ix_outbox_jobs_state_run_at", table_name="outbox_jobs")


def downgrade() -> None:
    op.create_index("ix_outbox_jobs_state_run_at", "outbox_jobs", ["state", "run_at"])
    op.drop_index("ix_outbox_jobs_claim", table_name="outbox_jobs")
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.drop_column("priority")
