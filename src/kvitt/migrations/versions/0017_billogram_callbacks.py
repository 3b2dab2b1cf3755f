"""webhooks: an endpoint's body format (``kvitt``, or ``billogram`` for Billogram v2 style
callbacks signed as Billogram signs them; docs/billogram-compat.md)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("format", sa.String(length=20), nullable=False, server_default="kvitt"))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("format")
