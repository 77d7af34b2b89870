"""data health: flags, near-duplicate index, run statistics, consent withdrawals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("similarity", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_records_project_subject",
            ["project_id", "subject_id"],
            unique=False,
            sqlite_where=sa.text("subject_id IS NOT NULL"),
            postgresql_where=sa.text("subject_id IS NOT NULL"),
        )
    op.create_table(
        "near_dup_index",
        sa.Column("record_id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("params", sa.String(length=64), nullable=False),
        sa.Column("band_keys", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_near_dup_index")),
    )
    with op.batch_alter_table("near_dup_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_near_dup_index_project_id_params_record_id"),
            ["project_id", "params", "record_id"],
            unique=False,
        )
    op.create_table(
        "record_flags",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "flag", "record_id", name=op.f("pk_record_flags")),
    )
    op.create_table(
        "run_stats",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("anomalies", sa.Text(), nullable=True),
        sa.Column("held", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_run_stats_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_stats")),
    )
    with op.batch_alter_table("run_stats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_stats_source_id_id"), ["source_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_stats_project_id_run_id"), ["project_id", "run_id"], unique=False)
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
    )
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_withdrawals_project_id_subject_id"), ["project_id", "subject_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("consent_withdrawals")
    op.drop_table("run_stats")
    op.drop_table("record_flags")
    op.drop_table("near_dup_index")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_project_subject")
        batch_op.drop_column("similarity")
        batch_op.drop_column("flags")
