"""quality: final labels, quality runs, drift alerts, label-error flags

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "final_labels",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("annotation_ids", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("computed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_final_labels"),
        sa.UniqueConstraint("task_id", "question", name="uq_final_labels_task_id_question"),
    )
    op.create_index("ix_final_labels_project_id_record_id", "final_labels", ["project_id", "record_id"])
    op.create_table(
        "quality_runs",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quality_runs"),
    )
    op.create_index("ix_quality_runs_project_id_kind_id", "quality_runs", ["project_id", "kind", "id"])
    op.create_table(
        "drift_alerts",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("feature", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slice", sa.String(length=256), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("enqueued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_alerts"),
    )
    op.create_index("ix_drift_alerts_project_id_run_id", "drift_alerts", ["project_id", "run_id"])
    op.create_table(
        "label_error_flags",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("given", sa.Text(), nullable=False),
        sa.Column("suggested", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_label_error_flags"),
    )
    op.create_index("ix_label_error_flags_project_id_status_id", "label_error_flags", ["project_id", "status", "id"])
    op.create_index("ix_label_error_flags_task_id", "label_error_flags", ["task_id"])


def downgrade() -> None:
    op.drop_table("label_error_flags")
    op.drop_table("drift_alerts")
    op.drop_table("quality_runs")
    op.drop_table("final_labels")
