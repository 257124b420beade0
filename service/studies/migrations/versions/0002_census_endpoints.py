"""A census run's endpoint on its row.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study_rows") as batch:
        batch.add_column(sa.Column("endpoint", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("study_rows") as batch:
        batch.drop_column("endpoint")
