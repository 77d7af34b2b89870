"""The labeling queue: leases with expiry and fencing, submits, skips, dynamic overlap.

``next_task`` lends the caller the first open task (priority, then age) that
still needs more people than it has leases out, that the caller has not
annotated, skipped or already holds. PostgreSQL picks it with ``FOR UPDATE
SKIP LOCKED`` (concurrent callers take different rows without waiting);
SQLite runs the pick and the lease in one IMMEDIATE transaction. A lease's id
is its fencing token: a submit must present the caller's own live lease, or it
gets :class:`ConflictError` (409) and nothing is stored. A retried submit with
the same idempotency key answers the first annotation again.

When a task has its ``overlap`` answers, the project's agreement rule decides:
agreeing answers complete it; otherwise it asks one more person, up to
``k_max``, then goes to adjudication. The rule compares the discrete answers
(single, multi, rating, pairwise); spans and free text do not block completion.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from labelloop.config import LabelingSpec
from labelloop.domain.audit import GENESIS, annotation_hash
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError
from labelloop.governance.service import Principal
from labelloop.labeling.gold import check_gold_answer
from labelloop.labeling.schemas import SchemaVersion, schema_version
from labelloop.project import Project
from labelloop.store import queue_sql, repo

__all__ = ["agreeing", "held_task", "holds_record", "next_task", "renew_lease", "skip_task", "submit_annotation"]

DISCRETE = ("single", "multi", "rating", "pairwise")
#: Expired leases are swept at most this often per project and process.
SWEEP_INTERVAL_S = 1.0
# Lease grants commit without waiting for the WAL flush on PostgreSQL (``synchronous_commit =
# off`` for that transaction only): a crash can forget a lease granted in the last moments, and
# its holder's submit then gets 409 and asks again; no answer is ever at risk, since submits
# commit durably. Measured: next + submit 10.7 -> ~7 ms for one client.
_last_sweep: weakref.WeakKeyDictionary[Any, dict[int, float]] = weakref.WeakKeyDictionary()
_random = random.Random()  # which leases are gold: not predictable by the annotator
_sweep_lock = threading.Lock()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sweep_due(project: Project, now: float) -> bool:
    # keyed by the store object weakly: a later Store can reuse a dead one's id() and must not
    # inherit its last sweep time
    with _sweep_lock:
        per_store = _last_sweep.setdefault(project.store, {})
        last = per_store.get(project.id)
        # a clock that went back (or a stale entry) never suppresses a sweep
        if last is not None and 0 <= now - last < SWEEP_INTERVAL_S:
            return False
        per_store[project.id] = now
        return True


def next_task(project: Project, principal: Principal, *, resume: bool = False) -> dict[str, Any] | None:
    """Lease the next task to ``principal``; None when nothing is due for them.

    With ``resume``, a task the caller already holds comes first (their oldest live lease, as
    :func:`held_task` gives it): a page that starts up asks once for "my task", held or new.
    """
    settings = project.config.labeling
    for _attempt in range(3):
        try:
            return _next_task(project, principal, settings, resume)
        except IntegrityError:
            # the same person asked twice at once and both picked one task: the store kept one
            continue
    return None


def _next_task(project: Project, principal: Principal, settings: LabelingSpec, resume: bool) -> dict[str, Any] | None:
    now = time.time()
    with project.store.write() as conn:
        if _sweep_due(project, now):
            repo.expire_leases(conn, project.id, now)
        if resume:
            mine = _held_view(conn, project, principal, now)
            if mine is not None:
                return mine
        if settings.daily_cap is not None:
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            if repo.annotations_since(conn, principal.user_id, midnight) >= settings.daily_cap:
                raise ConflictError(f"daily cap reached ({settings.daily_cap} annotations); back tomorrow (UTC)")
        paused = repo.user_pause(conn, principal.user_id)
        if paused is not None:
            raise ConflictError(f"you are paused ({paused}); a steward can resume you")
        expires = now + settings.lease_seconds
        cap = settings.max_leases_per_user
        leased = None
        if settings.gold_rate and _random.random() < settings.gold_rate:
            leased = queue_sql.lease_next(conn, project.id, principal.user_id, now, expires, cap, gold=True)
        if leased is None:
            leased = queue_sql.lease_next(conn, project.id, principal.user_id, now, expires, cap)
        if leased is None:
            held = repo.active_lease_count(conn, principal.user_id)
            if held >= settings.max_leases_per_user:
                raise ConflictError(
                    f"you hold {held} tasks already (at most {settings.max_leases_per_user}): submit or skip one first"
                )
            return None
        lease_id, task_id, record_id, version, payload, blob_ref = leased
        sv = schema_version(conn, project, version)
    return _task_view(project, sv, lease_id, task_id, record_id, payload, blob_ref, expires)


def held_task(project: Project, principal: Principal) -> dict[str, Any] | None:
    """The caller's oldest live lease, in :func:`next_task`'s shape (same lease, same expiry); None without one.

    A page that lost the answer to its ``next`` (a reload, a dropped connection) resumes the task it
    already holds instead of leasing another and leaving this one blocked until its lease expires.
    """
    with project.store.read() as conn:
        return _held_view(conn, project, principal, time.time())


def _held_view(conn: Connection, project: Project, principal: Principal, now: float) -> dict[str, Any] | None:
    held = repo.oldest_live_lease(conn, project.id, principal.user_id, now)
    if held is None:
        return None
    lease_id, task_id, record_id, version, payload, blob_ref, expires = held
    sv = schema_version(conn, project, int(version))
    return _task_view(project, sv, int(lease_id), int(task_id), int(record_id), payload, blob_ref, float(expires))


def holds_record(project: Project, principal: Principal, record_id: int) -> bool:
    """Whether the caller holds a live lease on a task of ``record_id`` in the project (what they may
    be shown about that record while labeling it, e.g. a model's suggestion)."""
    with project.store.read() as conn:
        return repo.holds_live_lease_on_record(conn, project.id, principal.user_id, record_id, time.time())


def _task_view(
    project: Project,
    sv: Any,
    lease_id: int,
    task_id: int,
    record_id: int,
    payload: str | None,
    blob_ref: str | None,
    expires: float,
) -> dict[str, Any]:
    if payload is None and blob_ref:
        payload = project.blobs.get(blob_ref).decode("utf-8")
    data = orjson.loads(payload) if payload else {}
    text_field = project.config.record.text_field
    return {
        "task_id": task_id,
        "lease_id": lease_id,
        "lease_expires_at": _iso(expires),
        "record": {
            "id": record_id,
            "text": data.get(text_field) if text_field else None,
            "payload": data,
        },
        "schema_version": sv.version,
        "guidelines_version": sv.version,
        "schema": sv.schema.as_dict(),
    }


def _live_lease(
    conn: Connection, project: Project, principal: Principal, task_id: int, lease_id: int
) -> dict[str, Any]:
    """The task (locked), if ``lease_id`` is the caller's live lease on it; else 404 or 409."""
    row = queue_sql.lock_task_and_lease(conn, task_id, lease_id)
    if row is None:
        task = repo.get_task(conn, task_id)
        if task is None or int(task["project_id"]) != principal.project_id:
            raise NotFoundError(f"task {task_id} not found")
        raise ConflictError(f"lease {lease_id} is not a lease of task {task_id}")
    if int(row["project_id"]) != principal.project_id or int(row["project_id"]) != project.id:
        raise NotFoundError(f"task {task_id} not found")
    if int(row["lease_user_id"]) != principal.user_id:
        raise ConflictError(f"lease {lease_id} is not yours")
    if row["lease_state"] != "active":
        raise ConflictError(f"lease {lease_id} is {row['lease_state']}, no longer live")
    if float(row["expires_at"]) < time.time():
        raise ConflictError(f"lease {lease_id} expired at {_iso(float(row['expires_at']))}")
    return {**row, "id": task_id}


def submit_annotation(
    project: Project,
    principal: Principal,
    task_id: int,
    lease_id: int,
    value: Any,
    duration_ms: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Store the caller's answer for a task under their live lease; returns ``annotation_id``.

    422 (:class:`InvalidInputError`) when the value does not fit the task's schema
    version; 409 (:class:`ConflictError`) when the lease is not the caller's live
    one. A retry with the same ``idempotency_key`` returns the first answer.
    """
    if duration_ms is not None and not 0 <= duration_ms <= 7 * 86_400_000:
        raise InvalidInputError("duration_ms must be between 0 and 604800000")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidInputError("idempotency_key must be 1 to 128 characters")
    now = time.time()
    try:
        # One transaction: a submit is what the annotator waits for, and every round trip shows.
        with project.store.write() as conn:
            if idempotency_key is not None:
                earlier = repo.annotation_by_key(conn, principal.user_id, idempotency_key)
                if earlier is not None:
                    return _replay(earlier, task_id)
            task = _live_lease(conn, project, principal, task_id, lease_id)
            sv = schema_version(conn, project, int(task["schema_version"]))
            text = record_text(conn, project, int(task["record_id"])) if sv.needs_text else None
            normalized = sv.schema.validate(value, text)  # 422: nothing is written
            gold = bool(task["is_gold"])
            if gold:  # a gold item stays in the pool; its answers measure people, they do not label it
                state, overlap = (
                    ("open" if int(task["done"]) + 1 < int(task["overlap"]) else "complete"),
                    int(task["overlap"]),
                )
            else:
                state, overlap = _after_answer(conn, project, task, sv, normalized)
            deltas = {repo.sharded("annotations", task_id): 1}
            if state != "open" and not gold:
                deltas[repo.sharded("tasks_open", task_id)] = -1
                deltas[repo.sharded(f"tasks_{state}", task_id)] = 1
                if state == "complete":
                    deltas[repo.sharded("labeled", task_id)] = 1
            annotation: dict[str, Any] = {
                "project_id": project.id,
                "task_id": task_id,
                "record_id": int(task["record_id"]),
                "user_id": principal.user_id,
                "lease_id": lease_id,
                "value": orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS).decode(),
                "schema_version": sv.version,
                "guidelines_version": sv.version,
                "duration_ms": duration_ms,
                "idempotency_key": idempotency_key,
                "created_at": now,
            }
            # the task's answers are a hash chain; the task row is locked, so the head is ours
            prev = task["answers_digest"] or GENESIS
            annotation["prev_digest"] = prev
            annotation["digest"] = annotation_hash(prev, {**annotation, "supersedes": None})
            annotation_id = queue_sql.answer_task(
                conn,
                annotation=annotation,
                lease_id=lease_id,
                task_id=task_id,
                state=state,
                overlap=overlap,
                now=now,
                counters=[(project.id, name, delta) for name, delta in sorted(deltas.items())],
            )
            checked = None
            if gold:
                checked = check_gold_answer(
                    conn,
                    project,
                    sv,
                    task_id=task_id,
                    annotation_id=annotation_id,
                    user_id=principal.user_id,
                    answer=normalized,
                    known=orjson.loads(task["gold_value"]),
                    now=now,
                )
    except IntegrityError:
        # a concurrent retry with the same idempotency key won the race: answer with its annotation
        with project.store.read() as conn:
            earlier = repo.annotation_by_key(conn, principal.user_id, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _replay(earlier, task_id)
    out: dict[str, Any] = {"annotation_id": annotation_id, "task_state": state}
    if checked is not None and project.config.labeling.gold_feedback:
        out["gold"] = checked  # immediate feedback, only when the project asks for it
    return out


def _replay(earlier: dict[str, Any], task_id: int) -> dict[str, Any]:
    if int(earlier["task_id"]) != task_id:
        raise ConflictError("this idempotency key was used for another task")
    return {"annotation_id": int(earlier["id"]), "replayed": True}


def record_text(conn: Connection, project: Project, record_id: int) -> str | None:
    """The text field of a record (for validating span answers), or None."""
    record = repo.record_for_task(conn, record_id)
    field = project.config.record.text_field
    if not field:
        return None
    value = project.payload(record["payload"], record["blob_ref"]).get(field)
    return value if isinstance(value, str) else None


def agreeing(values: list[dict[str, Any]], sv: SchemaVersion, rule: str, threshold: float) -> bool:
    """Whether the answers agree under ``rule`` (majority, unanimous, threshold) on every discrete question."""
    for question in sv.schema.questions:
        if question.type not in DISCRETE:
            continue
        answers = [orjson.dumps(v.get(question.name), option=orjson.OPT_SORT_KEYS) for v in values]
        top = Counter(answers).most_common(1)[0][1] if answers else 0
        n = len(answers)
        if rule == "unanimous" and top != n:
            return False
        if rule == "majority" and top * 2 <= n:
            return False
        if rule == "threshold" and top < threshold * n:
            return False
    return True


def _after_answer(
    conn: Connection, project: Project, task: Any, sv: SchemaVersion, new_value: dict[str, Any]
) -> tuple[str, int]:
    """The task's state and overlap once ``new_value`` is in."""
    done = int(task["done"]) + 1
    overlap = int(task["overlap"])
    if done < overlap:
        return "open", overlap
    settings = project.config.labeling
    values = [orjson.loads(v) for v in queue_sql.task_answer_values(conn, int(task["id"]))] + [new_value]
    if agreeing(values, sv, settings.agreement, settings.agreement_threshold):
        return "complete", overlap
    if overlap < int(task["k_max"]):
        return "open", overlap + 1
    return "adjudication", overlap


def skip_task(project: Project, principal: Principal, task_id: int, lease_id: int, reason: str) -> dict[str, Any]:
    """Give a leased task back with a reason; it is never offered to the caller again."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInputError("a skip needs a reason (1 to 500 characters)")
    now = time.time()
    with project.store.write() as conn:
        _live_lease(conn, project, principal, task_id, lease_id)
        repo.end_lease(conn, lease_id, "released", now)
        repo.release_task_lease(conn, task_id)
        repo.add_skip(conn, task_id, principal.user_id, reason, now)
    return {"task_id": task_id, "skipped": True}


def renew_lease(project: Project, principal: Principal, task_id: int, lease_id: int) -> dict[str, Any]:
    """Extend the caller's live lease by the project's lease time."""
    now = time.time()
    expires = now + project.config.labeling.lease_seconds
    with project.store.write() as conn:
        _live_lease(conn, project, principal, task_id, lease_id)
        repo.renew_lease(conn, lease_id, expires)
    return {"task_id": task_id, "lease_id": lease_id, "lease_expires_at": _iso(expires)}
