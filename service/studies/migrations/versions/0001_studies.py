"""Studies and their rows.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("axes", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("detail", sa.Text),
        sa.Column("runner", sa.String(64)),
        sa.Column("heartbeat", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_studies_status", "studies", ["status"])
    op.create_index("ix_studies_created", "studies", ["created"])
    op.create_table(
        "study_rows",
        sa.Column(
            "study_id",
            sa.String(32),
            sa.ForeignKey("studies.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("index", sa.Integer, primary_key=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("verdict", sa.String(20)),
        sa.Column("error", sa.Float),
        sa.Column("accuracy", sa.Float),
        sa.Column("stopped_by", sa.String(20)),
        sa.Column("steps", sa.BigInteger),
        sa.Column("log_rate_norm", sa.Float),
        sa.Column("apparent_convergence", sa.Boolean),
        sa.Column("weights", sa.Text),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("failure", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("study_rows")
    op.drop_table("studies")
