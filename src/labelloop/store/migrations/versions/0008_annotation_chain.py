"""annotations hash-chained per task

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.domain.audit import GENESIS, annotation_hash

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers_digest", sa.String(length=64), nullable=True))
    # Chain the annotations written before this version, per task in id order.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, task_id, user_id, value, schema_version, created_at, supersedes FROM annotations "
            "ORDER BY task_id, id"
        )
    ).mappings()
    heads: dict[int, str] = {}
    updates = []
    for row in rows:
        prev = heads.get(int(row["task_id"]), GENESIS)
        digest = annotation_hash(prev, dict(row))
        updates.append({"id": row["id"], "prev": prev, "digest": digest})
        heads[int(row["task_id"])] = digest
    if updates:
        bind.execute(sa.text("UPDATE annotations SET prev_digest = :prev, digest = :digest WHERE id = :id"), updates)
        bind.execute(
            sa.text("UPDATE tasks SET answers_digest = :head WHERE id = :task"),
            [{"task": task, "head": head} for task, head in heads.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("answers_digest")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("digest")
        batch_op.drop_column("prev_digest")
