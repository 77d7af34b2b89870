"""gold checks and paused annotators

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
    op.create_table(
        "gold_checks",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_checks")),
    )
    with op.batch_alter_table("gold_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gold_checks_project_id_user_id"), ["project_id", "user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("gold_checks")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("paused_at")
