"""Verifying a project's audit log: ``labelloop audit verify``."""

from __future__ import annotations

from typing import Any

from labelloop.domain.audit import verify_chain
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["verify_audit"]


def verify_audit(project: Project) -> dict[str, Any]:
    """Walk the project's audit chain: ``{ok, entries, first_bad, problem}`` (an edit, deletion or move shows)."""
    with project.store.read() as conn:
        return verify_chain(repo.audit_entries(conn, project.id))
