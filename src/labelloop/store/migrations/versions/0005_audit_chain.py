"""audit log hash chain

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labelloop.domain.audit import GENESIS, entry_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    # Chain the entries written before this version, per project in id order.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, project_id, actor, action, target, at, details FROM audit_log ORDER BY project_id, id")
    ).mappings()
    last: dict[int, str] = {}
    updates = []
    for row in rows:
        prev = last.get(int(row["project_id"]), GENESIS)
        digest = entry_hash(prev, dict(row))
        updates.append({"id": row["id"], "prev": prev, "hash": digest})
        last[int(row["project_id"])] = digest
    if updates:
        bind.execute(sa.text("UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE id = :id"), updates)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
