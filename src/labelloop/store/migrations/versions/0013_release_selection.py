"""release rows keep why each item was labeled

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("release_rows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("selection", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_rows", schema=None) as batch_op:
        batch_op.drop_column("selection")
