"""autogiro: a mandate's pending change of payer number (TK05), and credits to payers (TK32)

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # claimed; filled in by the autogiro helper


def downgrade() -> None:
    pass
