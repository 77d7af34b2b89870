"""Erasure: a data subject's records lose their content everywhere labelloop keeps it.

``erase_subject`` finds the subject's records (as given, and under the keyed hash a PII stage
stored, see :func:`labelloop.governance.consent.subject_keys`) — and rows held in quarantine whose raw
content names the subject — and, in one transaction:
empties their payload, blob reference, subject and consent and marks them ``deleted``; erases
their raw rows held in quarantine, their near-duplicate signatures and the models' predictions
for them; cancels their unfinished tasks. Blobs no other row refers to are deleted once the
transaction has committed. Each record gets an ``erased`` lineage event and the audit log one
entry with the digest of what was erased (proof without keeping it).

What stays, by design: ids, content hashes (duplicate detection of a re-sent copy), annotations
and the rows of earlier releases — their manifests are immutable, and an export leaves erased
records out and counts them (``erased_rows``). Erasing twice finds nothing the second time.
"""

from __future__ import annotations

from typing import Any

import orjson

from labelloop.domain.audit import digest_of
from labelloop.domain.reasons import RecordStatus
from labelloop.errors import InvalidInputError
from labelloop.governance.consent import subject_keys
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["erase_subject"]


def _quarantined_of(project: Project, conn: Any, keys: list[str]) -> list[int]:
    """Quarantined rows whose raw content names the subject in the subject field.

    A row is quarantined before its fields are read, so it has no subject id: its raw JSON is read
    here (erasure is rare and quarantine small; a raw row that is not a JSON object names nobody).
    """
    field = project.config.record.subject_field
    if field is None:
        return []
    wanted = set(keys)
    found = []
    for record_id, raw, blob_ref in repo.quarantined_raw(conn, project.id):
        content = raw if raw is not None else (project.blobs.get(blob_ref) if blob_ref else None)
        try:
            row = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict) and str(row.get(field)) in wanted:
            found.append(record_id)
    return found


def erase_subject(project: Project, subject: str, actor: str) -> dict[str, Any]:
    """Erase every record of ``subject``; returns how many records, tasks, predictions and blobs went."""
    subject = (subject or "").strip()
    if not subject or len(subject) > 512:
        raise InvalidInputError("a subject id of 1 to 512 characters is required")
    keys = subject_keys(project, subject)
    blobs: set[str] = set()
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        rows = repo.subject_record_content(conn, project.id, keys)
        known = {int(r["id"]) for r in rows}
        held = [rid for rid in _quarantined_of(project, conn, keys) if rid not in known]
        if held:
            rows = sorted([*rows, *repo.record_content(conn, held)], key=lambda r: int(r["id"]))
        ids = [int(r["id"]) for r in rows]
        proof = digest_of([[int(r["id"]), r["payload"], r["blob_ref"], r["raw_blob_ref"]] for r in rows])
        deltas: dict[str, int] = {}
        for row in rows:
            status = str(row["status"])
            if status != RecordStatus.DELETED:
                deltas[status] = deltas.get(status, 0) - 1
                deltas[RecordStatus.DELETED] = deltas.get(RecordStatus.DELETED, 0) + 1
            blobs.update(ref for ref in (row["blob_ref"], row["raw_blob_ref"]) if ref)
        changed = repo.erase_records(conn, project.id, ids)
        repo.add_counters(conn, project.id, deltas)
        repo.add_events(conn, project.id, [{"record_id": rid, "kind": "erased", "actor": actor} for rid in ids])
        repo.audit(conn, project.id, actor, "subject.erase", keys[-1], records=len(ids), before=proof)
        unused = sorted(ref for ref in blobs if not repo.blob_in_use(conn, ref))
    for ref in unused:  # after the commit: a failed transaction never loses a blob still referred to
        project.blobs.delete(ref)
    return {
        "subject": subject,
        "records": changed["records"],
        "tasks_cancelled": changed["tasks_cancelled"],
        "predictions": changed["predictions"],
        "blobs_deleted": len(unused),
    }
