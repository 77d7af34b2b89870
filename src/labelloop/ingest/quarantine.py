"""Reading records and deciding on quarantined rows.

A person releases a quarantined row (it is re-validated against the current
``labelloop.yaml`` and ingested in place, keeping its id) or drops it (its raw
content is erased, the decision kept). Both are audited and recorded in lineage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from labelloop.domain.reasons import Reason, RecordStatus
from labelloop.errors import ConflictError, InvalidInputError
from labelloop.ingest.sources import RawRow, Row, parse_json_line
from labelloop.project import Project, record_shape
from labelloop.stages.normalize import NormalizeStage
from labelloop.store import repo

__all__ = ["drop_quarantined", "list_records", "release_quarantined"]


def _public(row: dict[str, Any], names: dict[int, str], with_payload: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": int(row["id"]),
        "source": names.get(int(row["source_id"]), str(row["source_id"])),
        "source_key": row["source_key"],
        "external_id": row["external_id"],
        "status": row["status"],
        "duplicate_of": row["duplicate_of"],
        "reasons": orjson.loads(row["reasons"]) if row["reasons"] else [],
        "ingested_at": row["ingested_at"],
        "content_hash": bytes(row["content_hash"]).hex() if row["content_hash"] is not None else None,
    }
    if with_payload:
        out["payload"] = orjson.loads(row["payload"]) if row["payload"] else None
        out["blob_ref"] = row["blob_ref"]
    return out


def list_records(
    project: Project, *, status: str | None = None, cursor: int = 0, limit: int = 100, with_payload: bool = False
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of records after ``cursor`` (an id); returns the page and the next cursor (None at the end)."""
    if status is not None and status not in {s.value for s in RecordStatus}:
        allowed = ", ".join(s.value for s in RecordStatus)
        raise InvalidInputError(f"unknown status '{status}' (one of: {allowed})")
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit must be between 1 and 10000")
    with project.store.read() as conn:
        rows = repo.list_records(conn, project.id, status=status, after=cursor, limit=limit)
        names = repo.source_names(conn, project.id)
    items = [_public(r, names, with_payload) for r in rows]
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return items, next_cursor


def _raw_of(project: Project, entry: dict[str, Any]) -> bytes | None:
    if entry["raw_blob_ref"]:
        return project.blobs.get(entry["raw_blob_ref"])
    return None if entry["raw"] is None else bytes(entry["raw"])


def release_quarantined(project: Project, record_id: int, actor: str = "cli") -> dict[str, Any]:
    """Re-validate a quarantined row against the current schema and ingest it in place.

    The record keeps its id; its raw row and the decision stay in the audit trail.
    A row that is still invalid stays in quarantine (:class:`ConflictError`).
    """
    with project.store.read() as conn:
        rec = repo.get_record(conn, record_id)
        entry = repo.get_quarantine(conn, record_id)
        rec["source_name"] = repo.source_names(conn, project.id).get(int(rec["source_id"]))
    if rec["project_id"] != project.id:
        raise ConflictError(f"record {record_id} belongs to another project")
    if entry["decision"] is not None or rec["status"] != RecordStatus.QUARANTINED:
        raise ConflictError(f"record {record_id} was already decided: {entry['decision'] or rec['status']}")
    raw = _raw_of(project, entry)
    if raw is None:
        raise ConflictError(f"record {record_id} has no raw row left to release")
    parsed = _reparse(project, rec, raw, parse_json_line, int(entry["line_no"] or 1))
    normalized = NormalizeStage(record_shape(project.config)).process_rows([parsed])
    if normalized.rejected.num_rows:
        message = normalized.rejected["message"][0].as_py()
        raise ConflictError(
            f"record {record_id} is still invalid: {message}", reason=normalized.rejected["reason"][0].as_py()
        )
    kept = normalized.kept
    digest = kept["content_hash"][0].as_py()
    payload = kept["payload"][0].as_py()
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        index = repo.StoreContentIndex(conn, project.id, int(rec["source_id"]))
        first = index.first_ids([digest]).get(digest)
        # Another live copy exists (older or newer): this one is its duplicate, so
        # each content keeps exactly one original.
        status = RecordStatus.ACCEPTED if first is None or first == record_id else RecordStatus.DUPLICATE
        external_id = kept["external_id"][0].as_py()
        source_key = external_id if external_id is not None else str(rec["source_key"])
        repo.set_record(
            conn,
            record_id,
            status=status,
            content_hash=digest,
            payload=payload,
            external_id=external_id,
            source_key=source_key,
            subject_id=kept["subject_id"][0].as_py(),
            consent=kept["consent"][0].as_py(),
            event_time=kept["event_time"][0].as_py(),
            duplicate_of=first if status == RecordStatus.DUPLICATE else None,
        )
        repo.index_stored(
            conn,
            pa.table(
                {
                    "id": pa.array([record_id], pa.int64()),
                    "content_hash": pa.array([digest], pa.binary(16)),
                    "status": [str(status)],
                    "source_key": [source_key],
                }
            ),
            project_id=project.id,
            source_id=int(rec["source_id"]),
        )
        repo.decide_quarantine(conn, record_id, "released", actor, drop_raw=False)
        repo.add_events(
            conn,
            project.id,
            [{"record_id": record_id, "kind": "released", "actor": actor, "details": {"status": str(status)}}],
        )
        repo.add_counters(conn, project.id, {"quarantined": -1, str(status): 1})
        repo.audit(conn, project.id, actor, "quarantine.release", str(record_id), status=str(status))
    return {"id": record_id, "status": str(status), "duplicate_of": first if status == RecordStatus.DUPLICATE else None}


def _reparse(project: Project, rec: dict[str, Any], raw: bytes, parse_line: Callable[..., Row], line: int) -> Row:
    """Turn a quarantined raw row back into a row, with the source's declared encoding."""
    key = str(rec["source_key"])
    spec = next((s for s in project.config.sources if s.name == rec.get("source_name")), None)
    encoding = spec.encoding if spec is not None and spec.encoding != "auto" else "utf-8"
    if spec is not None and spec.kind == "directory":
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            return RawRow(key, 0, 1, None, raw, Reason.INVALID_ENCODING, f"still not valid {encoding}: {exc}")
        data: dict[str, Any] = {project.config.record.text_field or "text": text}
        if spec.label_field:
            parent = Path(key).parent.as_posix()
            data[spec.label_field] = None if parent == "." else parent
        return RawRow(key, 0, 1, data, None, None, None)
    if spec is not None and spec.kind == "csv":
        import csv
        import io

        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            return RawRow(key, 0, 1, None, raw, Reason.INVALID_ENCODING, f"still not valid {encoding}: {exc}")
        return RawRow(
            key,
            0,
            1,
            None,
            raw,
            Reason.RAGGED_ROW,
            "a CSV row is released by fixing the file and "
            f"ingesting again: {next(csv.reader(io.StringIO(text)), [])!r}",
        )
    if encoding != "utf-8":
        try:
            raw = raw.decode(encoding).encode("utf-8")
        except UnicodeDecodeError as exc:
            return RawRow(key, 0, 1, None, raw, Reason.INVALID_ENCODING, f"still not valid {encoding}: {exc}")
    return parse_line(key, 0, line, raw)


def drop_quarantined(project: Project, record_id: int, actor: str = "cli") -> dict[str, Any]:
    """A person drops a quarantined row: its raw content is erased, the decision kept."""
    with project.store.write() as conn:
        rec = repo.get_record(conn, record_id)
        entry = repo.get_quarantine(conn, record_id)
        if rec["project_id"] != project.id:
            raise ConflictError(f"record {record_id} belongs to another project")
        if entry["decision"] is not None or rec["status"] != RecordStatus.QUARANTINED:
            raise ConflictError(f"record {record_id} was already decided: {entry['decision'] or rec['status']}")
        if entry["raw_blob_ref"]:
            project.blobs.delete(entry["raw_blob_ref"])
        repo.decide_quarantine(conn, record_id, "dropped", actor, drop_raw=True)
        repo.set_record(conn, record_id, status=RecordStatus.DELETED)
        repo.add_events(conn, project.id, [{"record_id": record_id, "kind": "dropped", "actor": actor}])
        repo.add_counters(conn, project.id, {"quarantined": -1, "deleted": 1})
        repo.audit(conn, project.id, actor, "quarantine.drop", str(record_id))
    return {"id": record_id, "status": str(RecordStatus.DELETED)}
