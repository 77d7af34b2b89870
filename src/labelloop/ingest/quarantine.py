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

from labelloop.domain.audit import digest_of
from labelloop.domain.reasons import Reason, RecordStatus
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError
from labelloop.ingest.near_dups import StoreNearDupState, forget_index
from labelloop.ingest.sources import RawRow, Row, parse_json_line
from labelloop.project import Project, record_shape
from labelloop.stages.base import set_columns
from labelloop.stages.chain import PreStoreChain
from labelloop.stages.near_dup import NearDupStage
from labelloop.stages.normalize import NormalizeStage
from labelloop.store import repo

__all__ = [
    "decide_held_run",
    "decide_quarantined",
    "drop_quarantined",
    "held_runs",
    "list_quarantine",
    "list_records",
    "quarantine_reasons",
    "release_quarantined",
]


def _public(row: dict[str, Any], names: dict[int, str], with_payload: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": int(row["id"]),
        "source": names.get(int(row["source_id"]), str(row["source_id"])),
        "source_key": row["source_key"],
        "external_id": row["external_id"],
        "status": row["status"],
        "duplicate_of": row["duplicate_of"],
        "reasons": orjson.loads(row["reasons"]) if row["reasons"] else [],
        "similarity": row["similarity"],
        "flags": orjson.loads(row["flags"]) if row["flags"] else [],
        "ingested_at": row["ingested_at"],
        "content_hash": bytes(row["content_hash"]).hex() if row["content_hash"] is not None else None,
    }
    if with_payload:
        out["payload"] = orjson.loads(row["payload"]) if row["payload"] else None
        out["blob_ref"] = row["blob_ref"]
    return out


def list_records(
    project: Project,
    *,
    status: str | None = None,
    cursor: int = 0,
    limit: int = 100,
    with_payload: bool = False,
    flag: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of records after ``cursor`` (an id); returns the page and the next cursor (None at the end).

    ``flag`` keeps records carrying that flag code (e.g. ``wrong_language``, ``pii:email``).
    """
    if status is not None and status not in {s.value for s in RecordStatus}:
        allowed = ", ".join(s.value for s in RecordStatus)
        raise InvalidInputError(f"unknown status '{status}' (one of: {allowed})")
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit must be between 1 and 10000")
    with project.store.read() as conn:
        rows = repo.list_records(conn, project.id, status=status, after=cursor, limit=limit, flag=flag)
        names = repo.source_names(conn, project.id)
    items = [_public(r, names, with_payload) for r in rows]
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return items, next_cursor


def _raw_of(project: Project, entry: dict[str, Any]) -> bytes | None:
    if entry["raw_blob_ref"]:
        return project.blobs.get(entry["raw_blob_ref"])
    return None if entry["raw"] is None else bytes(entry["raw"])


def release_quarantined(project: Project, record_id: int, actor: str = "cli", *, force: bool = False) -> dict[str, Any]:
    """Re-validate a quarantined row against the current ``labelloop.yaml`` and ingest it in place.

    The row goes through normalization and every configured stage again (PII,
    consent, rules, exact and near-duplicate detection); the record keeps its id
    and its raw row and the decision stay in the audit trail. A row that is
    still invalid stays in quarantine (:class:`ConflictError`). ``force`` lets a
    person override the *rules* (the record is flagged ``released_over_rule``);
    schema errors, PII and consent are never overridden.
    """
    with project.store.read() as conn:
        rec = repo.get_record(conn, record_id)
        entry = repo.get_quarantine(conn, record_id)
        rec["source_name"] = repo.source_names(conn, project.id).get(int(rec["source_id"]))
    if rec["project_id"] != project.id:
        raise NotFoundError(f"record {record_id} not found")
    if entry["decision"] is not None or rec["status"] != RecordStatus.QUARANTINED:
        raise ConflictError(f"record {record_id} was already decided: {entry['decision'] or rec['status']}")
    if entry["reason"] == "pii_detector_failed":
        raise ConflictError(
            f"record {record_id} was held because PII detection failed on it; its content was masked "
            "and cannot be released: drop it and send the record again"
        )
    raw = _raw_of(project, entry)
    if raw is None:
        raise ConflictError(f"record {record_id} has no raw row left to release")
    parsed = _reparse(project, rec, raw, parse_json_line, int(entry["line_no"] or 1))
    config = project.config
    shape = record_shape(config)
    stages = config.stages_for(str(rec["source_name"]))
    if force and stages.rules:
        stages = stages.model_copy(update={"rules": None})
    key = project.settings.pii_hmac_key
    chain = PreStoreChain(shape, stages, key.get_secret_value().encode() if key is not None else None)
    normalized = NormalizeStage(shape).process_rows([parsed])
    out = chain.process(normalized.kept, normalized.rejected)
    if out.rejected.num_rows:
        message = out.rejected["message"][0].as_py()
        raise ConflictError(f"record {record_id} is still invalid: {message}", reason=out.rejected["reason"][0].as_py())
    if out.dropped:
        raise ConflictError(
            f"record {record_id} cannot be released: {out.dropped[0]['kind']} (it would not be stored)",
            reason=out.dropped[0]["kind"],
        )
    kept = out.kept
    flags = orjson.loads(kept["flags"][0].as_py() or "[]")
    if force:
        flags.append({"code": "released_over_rule", "by": actor})
    notes = orjson.loads(kept["notes"][0].as_py() or "[]")
    digest = kept["content_hash"][0].as_py()
    payload = kept["payload"][0].as_py()
    near_stage = None
    if stages.near_duplicates is not None:
        near = stages.near_duplicates
        near_stage = NearDupStage(
            near.field or config.record.text_field or "text",
            threshold=near.threshold,
            shingle=near.shingle,
            ngram=near.ngram,
            num_perm=near.num_perm,
            bands=near.bands,
        )
    similarity = None
    try:
        with project.store.write() as conn:
            project.store.lock_project(conn, project.id)
            index = repo.StoreContentIndex(conn, project.id, int(rec["source_id"]))
            first = index.first_ids([digest]).get(digest)
            # Another live copy exists (older or newer): this one is its duplicate, so
            # each content keeps exactly one original.
            status = RecordStatus.ACCEPTED if first is None or first == record_id else RecordStatus.DUPLICATE
            duplicate_of = first if status == RecordStatus.DUPLICATE else None
            if status == RecordStatus.ACCEPTED and near_stage is not None:
                state = StoreNearDupState(conn, project, near_stage)
                batch = set_columns(kept, id=[record_id])
                result = near_stage.process(batch, state)
                if result.counts["near_duplicates"]:
                    status = RecordStatus.NEAR_DUPLICATE
                    duplicate_of = result.kept["duplicate_of"][0].as_py()
                    similarity = result.kept["similarity"][0].as_py()
                state.flush()
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
                duplicate_of=duplicate_of,
                similarity=similarity,
                flags=orjson.dumps(flags).decode() if flags else None,
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
            repo.add_flags(conn, project.id, sorted({(f["code"], record_id) for f in flags}))
            repo.decide_quarantine(conn, record_id, "released", actor, drop_raw=False)
            events = [{"record_id": record_id, **note} for note in notes]
            details: dict[str, Any] = {"status": str(status), "forced": force}
            if duplicate_of is not None:
                details["duplicate_of"] = duplicate_of
            events.append({"record_id": record_id, "kind": "released", "actor": actor, "details": details})
            repo.add_events(conn, project.id, events)
            repo.add_counters(conn, project.id, {"quarantined": -1, str(status): 1})
            repo.audit(
                conn,
                project.id,
                actor,
                "quarantine.release",
                str(record_id),
                status=str(status),
                forced=force,
                before=digest_of(raw),
                after=digest_of(payload),
            )
    except BaseException:
        if near_stage is not None:
            forget_index(project, near_stage)
        raise
    return {"id": record_id, "status": str(status), "duplicate_of": duplicate_of, "similarity": similarity}


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
            raise NotFoundError(f"record {record_id} not found")
        if entry["decision"] is not None or rec["status"] != RecordStatus.QUARANTINED:
            raise ConflictError(f"record {record_id} was already decided: {entry['decision'] or rec['status']}")
        before = digest_of(_raw_of(project, entry))  # what is erased, proven without keeping it
        if entry["raw_blob_ref"]:
            project.blobs.delete(entry["raw_blob_ref"])
        repo.decide_quarantine(conn, record_id, "dropped", actor, drop_raw=True)
        repo.set_record(conn, record_id, status=RecordStatus.DELETED)
        repo.add_events(conn, project.id, [{"record_id": record_id, "kind": "dropped", "actor": actor}])
        repo.add_counters(conn, project.id, {"quarantined": -1, "deleted": 1})
        repo.audit(conn, project.id, actor, "quarantine.drop", str(record_id), before=before)
    return {"id": record_id, "status": str(RecordStatus.DELETED)}


def decide_held_run(project: Project, run_id: int, decision: str, actor: str = "cli") -> dict[str, Any]:
    """A person releases (``release``) or drops (``drop``) the records an anomalous run held.

    Released records become ``accepted``; dropped ones ``deleted`` with their
    payload erased. Audited and recorded in each record's lineage.
    """
    if decision not in ("release", "drop"):
        raise InvalidInputError("decision must be release or drop")
    stored = "released" if decision == "release" else "dropped"
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        held = repo.held_record_ids(conn, project.id, run_id)
        if not held:
            raise ConflictError(f"run {run_id} holds no records (not anomalous, or already decided)")
        n = repo.decide_held_run(conn, project.id, run_id, stored)
        status = RecordStatus.ACCEPTED if decision == "release" else RecordStatus.DELETED
        repo.add_events(
            conn,
            project.id,
            [
                {"record_id": rid, "kind": f"run_{stored}", "actor": actor, "details": {"run_id": run_id}}
                for rid in held
            ],
        )
        repo.add_counters(conn, project.id, {"held": -n, str(status): n})
        repo.audit(conn, project.id, actor, f"run.{decision}", str(run_id), records=n)
    return {"run_id": run_id, "status": str(status), "records": n}


# -- what the quarantine page shows and the bulk decisions it takes -------------------------------

#: Characters of a held row's raw content shown in a listing (the rest is counted, not shown).
RAW_SHOWN = 4000
#: Rows one bulk decision may name.
MAX_BULK = 500


def _raw_text(project: Project, entry: dict[str, Any]) -> tuple[str | None, int, bool]:
    """A held row's raw bytes as text (undecodable bytes replaced) cut at RAW_SHOWN, its size, and
    whether it was cut."""
    try:
        raw = _raw_of(project, entry)
    except NotFoundError:  # a blob the store lost: the row is still listed
        return None, 0, False
    if raw is None:
        return None, 0, False
    head = raw[: RAW_SHOWN * 4]
    text = head.decode("utf-8", errors="replace")
    cut = len(head) < len(raw) or len(text) > RAW_SHOWN
    return text[:RAW_SHOWN], len(raw), cut


def list_quarantine(
    project: Project, *, reason: str | None = None, cursor: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of rows waiting in quarantine for a person's decision, after ``cursor`` (a record id).

    Keyset paging in record-id order (never OFFSET); ``reason`` keeps one reason code (e.g.
    ``invalid_json``). Each row: ``id``, ``source``, ``source_key``, ``run_id``, ``line_no``,
    ``reason``, ``message``, ``ingested_at``, ``raw`` (the untrusted raw content as text, at most
    :data:`RAW_SHOWN` characters, or None once erased), ``raw_bytes`` (its full size) and
    ``raw_truncated``. Returns the page and the next cursor (None at the end).
    """
    if not 1 <= limit <= 1000:
        raise InvalidInputError("limit must be between 1 and 1000")
    if cursor < 0:
        raise InvalidInputError("cursor must be a record id (0 for the first page)")
    with project.store.read() as conn:
        rows = repo.pending_quarantine(conn, project.id, reason=reason or None, after=cursor, limit=limit)
        names = repo.source_names(conn, project.id)
    items: list[dict[str, Any]] = []
    for row in rows:
        raw, size, cut = _raw_text(project, row)
        items.append(
            {
                "id": int(row["record_id"]),
                "source": names.get(int(row["source_id"]), str(row["source_id"])),
                "source_key": row["source_key"],
                "run_id": row["run_id"],
                "line_no": row["line_no"],
                "reason": row["reason"],
                "message": row["message"],
                "ingested_at": row["ingested_at"],
                "raw": raw,
                "raw_bytes": size,
                "raw_truncated": cut,
            }
        )
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return items, next_cursor


def quarantine_reasons(project: Project) -> dict[str, int]:
    """Reason code -> how many rows wait in quarantine with it (undecided rows only), by code."""
    with project.store.read() as conn:
        return repo.pending_quarantine_reasons(conn, project.id)


def decide_quarantined(
    project: Project, record_ids: list[int], decision: str, actor: str = "cli", *, force: bool = False
) -> dict[str, Any]:
    """Release (``release``) or drop (``drop``) several quarantined rows; answers per row.

    Each row is decided on its own (:func:`release_quarantined`, :func:`drop_quarantined`, one
    transaction each): a row that is still invalid, or was decided already, stays as it is and
    is reported under ``failed`` with a ``reason`` (the re-validation's reason code, else the
    error's code such as ``conflict`` or ``not_found``) and a ``message``; the others go on.
    Returns ``{"released": [...], "dropped": [...], "failed": [{"id", "reason", "message"}]}``
    (released/dropped as the single calls answer). At most :data:`MAX_BULK` ids; duplicates count once.
    """
    if decision not in ("release", "drop"):
        raise InvalidInputError("decision must be release or drop")
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise InvalidInputError("select at least one row")
    if len(ids) > MAX_BULK:
        raise InvalidInputError(f"at most {MAX_BULK} rows at once, got {len(ids)}")
    out: dict[str, list[dict[str, Any]]] = {"released": [], "dropped": [], "failed": []}
    for record_id in ids:
        try:
            if decision == "release":
                out["released"].append(release_quarantined(project, record_id, actor, force=force))
            else:
                out["dropped"].append(drop_quarantined(project, record_id, actor))
        except (ConflictError, NotFoundError) as exc:
            reason = exc.details.get("reason")
            out["failed"].append(
                {"id": record_id, "reason": str(reason) if reason else exc.code, "message": exc.message}
            )
    return out


def held_runs(project: Project) -> list[dict[str, Any]]:
    """Anomalous runs whose records wait for a person (``action: hold``), newest first.

    Each: ``run_id``, ``source``, ``anomalies`` (the checks that fired, each with a ``message``),
    ``at`` and ``records`` (how many records the run holds). Decide with :func:`decide_held_run`.
    """
    with project.store.read() as conn:
        runs = [r for r in repo.run_anomalies(conn, project.id, limit=100) if r["held"] and r["decision"] is None]
        for run in runs:
            run["records"] = len(repo.held_record_ids(conn, project.id, int(run["run_id"])))
    return [r for r in runs if r["records"]]
