"""Verifying a project's audit log: ``labelloop audit verify``."""

from __future__ import annotations

from typing import Any

from labelloop.domain.audit import verify_annotation_chains, verify_chain
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["verify_audit"]


def verify_audit(project: Project) -> dict[str, Any]:
    """Walk the project's audit chain and every task's annotation chain.

    Returns ``{ok, entries, first_bad, problem, annotations, first_bad_annotation}``:
    an edited, deleted or moved audit entry or annotation shows.
    """
    with project.store.read() as conn:
        result = verify_chain(repo.audit_entries(conn, project.id))
        heads, rows = repo.annotation_chain_rows(conn, project.id)
        answers = verify_annotation_chains(heads, rows)
    ok = result["ok"] and answers["ok"]
    return {
        **result,
        "ok": ok,
        "problem": result["problem"] or answers["problem"],
        "annotations": answers["annotations"],
        "first_bad_annotation": answers["first_bad_annotation"],
    }
