"""model versions with predictions, one row each

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_model_versions_project_id_projects", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "model", "model_version", name="pk_model_versions"),
    )
    op.create_index("ix_model_versions_project_id_last_at", "model_versions", ["project_id", "last_at"])
    # The versions already imported: one grouped pass over the predictions, once.
    op.execute(
        "INSERT INTO model_versions (project_id, model, model_version, last_at) "
        "SELECT project_id, model, model_version, MAX(created_at) FROM predictions "
        "GROUP BY project_id, model, model_version"
    )


def downgrade() -> None:
    op.drop_index("ix_model_versions_project_id_last_at", table_name="model_versions")
    op.drop_table("model_versions")
