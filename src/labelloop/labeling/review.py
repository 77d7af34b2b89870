"""Review and adjudication.

A reviewer takes the next submitted annotation that is not their own and not
reviewed yet, and decides: ``accept``; ``reject`` with a reason code from the
project's taxonomy (the task asks for one more answer: from someone else, or
from the author again when ``labeling.rejected_to`` is ``author``); ``fix``
with a corrected value, stored as a new annotation that supersedes the
original (kept); or ``escalate`` to adjudication. Reason codes, counted per
label and per annotator, are the error-type instrumentation.

An adjudicator sees every answer of a task that ran out of annotators without
agreement (or was escalated) side by side and records the final value with a
reason; nobody reviews or adjudicates their own work.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import Connection

from labelloop.domain.audit import digest_of
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from labelloop.governance.service import Principal
from labelloop.labeling.queue import record_text
from labelloop.labeling.schemas import schema_version
from labelloop.project import Project
from labelloop.store import repo

__all__ = [
    "adjudicate",
    "adjudicate_with_answer",
    "adjudication_item",
    "error_types",
    "next_for_adjudication",
    "next_for_review",
    "review_annotation",
    "review_item",
    "settle_value",
]

DECISIONS = ("accept", "reject", "fix", "escalate")


def _annotation_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "annotation_id": int(row["id"]),
        "task_id": int(row["task_id"]),
        "record_id": int(row["record_id"]),
        "author_id": int(row["user_id"]),
        "value": orjson.loads(row["value"]),
        "schema_version": int(row["schema_version"]),
        "status": row["status"],
        "created_at": row["created_at"],
    }


def _blinded(project: Project, principal: Principal) -> bool:
    """Whether the caller sees answers without their authors (``labeling.blind_review``)."""
    return project.config.labeling.blind_review and principal.role.value not in ("admin", "steward")


def _blind(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Authors replaced by "Annotator 1", "Annotator 2", ... in order of first appearance."""
    aliases: dict[Any, str] = {}
    for view in views:
        alias = aliases.setdefault(view["author_id"], f"Annotator {len(aliases) + 1}")
        view["author_id"] = None
        view["author"] = alias
    return views


def next_for_review(project: Project, principal: Principal) -> dict[str, Any] | None:
    """The oldest submitted annotation the caller did not make and nobody reviewed, with its record."""
    with project.store.read() as conn:
        row = repo.next_unreviewed(conn, project.id, principal.user_id)
        if row is None:
            return None
        record = repo.record_for_task(conn, int(row["record_id"]))
    view = _annotation_view(row)
    view["record"] = {"id": view["record_id"], "payload": project.payload(record["payload"], record["blob_ref"])}
    if _blinded(project, principal):
        _blind([view])
    return view


def review_annotation(
    project: Project,
    principal: Principal,
    annotation_id: int,
    decision: str,
    reason_code: str | None = None,
    value: Any = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Record a reviewer's decision (see the module docstring); returns the review and any new annotation."""
    if decision not in DECISIONS:
        raise InvalidInputError(f"decision must be one of {', '.join(DECISIONS)}")
    codes = project.config.labeling.reason_codes
    if decision in ("reject", "fix") and reason_code not in codes:
        raise InvalidInputError(f"a {decision} needs a reason_code from the project's taxonomy: {', '.join(codes)}")
    if reason_code is not None and reason_code not in codes:
        raise InvalidInputError(f"unknown reason_code '{reason_code}' (taxonomy: {', '.join(codes)})")
    if decision != "fix" and value is not None:
        raise InvalidInputError("only a 'fix' carries a value")
    now = time.time()
    with project.store.write() as conn:
        row = repo.get_annotation(conn, annotation_id, lock=True)
        if row is None or int(row["project_id"]) != principal.project_id or int(row["project_id"]) != project.id:
            raise NotFoundError(f"annotation {annotation_id} not found")
        if int(row["user_id"]) == principal.user_id:
            raise PermissionDeniedError("nobody reviews their own work")
        if row["status"] != "submitted":
            raise ConflictError(f"annotation {annotation_id} is {row['status']}: already decided")
        task = repo.get_task(conn, int(row["task_id"]), lock=True)
        assert task is not None
        fixed_by = None
        if decision == "accept":
            repo.set_annotation_status(conn, annotation_id, "accepted")
        elif decision == "reject":
            repo.set_annotation_status(conn, annotation_id, "rejected")
            # one answer fewer: the task asks again (the author too, if the project says so)
            repo.reopen_task_for_one_more(conn, int(task["id"]))
            if project.config.labeling.rejected_to == "author":
                repo.free_author_lease(conn, int(task["id"]), int(row["user_id"]))
        elif decision == "fix":
            sv = schema_version(conn, project, int(row["schema_version"]))
            text = record_text(conn, project, int(row["record_id"])) if sv.needs_text else None
            normalized = sv.schema.validate(value, text)
            fixed_by = repo.supersede_annotation(
                conn,
                row,
                value=orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS).decode(),
                schema_version=int(row["schema_version"]),
                created_at=now,
                author=principal.user_id,
                status="accepted",
            )
        else:  # escalate
            repo.set_annotation_status(conn, annotation_id, "escalated")
            repo.set_task_state(conn, int(task["id"]), "adjudication", now)
        review_id = repo.add_review(
            conn,
            project_id=project.id,
            annotation_id=annotation_id,
            task_id=int(row["task_id"]),
            reviewer_id=principal.user_id,
            author_id=int(row["user_id"]),
            decision=decision,
            reason_code=reason_code,
            comment=(comment or "")[:2000] or None,
            fixed_by=fixed_by,
            at=now,
        )
        fixed = repo.get_annotation(conn, fixed_by) if fixed_by is not None else None
        fixed_value = fixed["value"] if fixed is not None else None
        repo.audit(
            conn,
            project.id,
            f"user:{principal.name}",
            f"review.{decision}",
            str(annotation_id),
            reason=reason_code,
            before=digest_of(row["value"]),
            after=digest_of(fixed_value),
        )
    return {"review_id": review_id, "annotation_id": annotation_id, "decision": decision, "fixed_by": fixed_by}


def next_for_adjudication(project: Project, principal: Principal) -> dict[str, Any] | None:
    """The oldest task waiting for adjudication with all its answers side by side (none of them the caller's)."""
    with project.store.read() as conn:
        task = repo.next_adjudication_task(conn, project.id, principal.user_id)
        if task is None:
            return None
        answers = [_annotation_view(r) for r in repo.task_annotations(conn, int(task["id"]))]
        record = repo.record_for_task(conn, int(task["record_id"]))
    if _blinded(project, principal):
        _blind(answers)
    return {
        "task_id": int(task["id"]),
        "record": {
            "id": int(task["record_id"]),
            "payload": project.payload(record["payload"], record["blob_ref"]),
        },
        "schema_version": int(task["schema_version"]),
        "annotations": answers,
    }


def settle_value(
    conn: Connection, project: Project, task: dict[str, Any], user_id: int, value: Any, status: str, now: float
) -> tuple[int, dict[str, Any]]:
    """Validate ``value`` against the task's schema version and store it as the annotation that settles the
    task (``status`` adjudicated or corrected); returns its id and the normalized value. 422 if invalid."""
    sv = schema_version(conn, project, int(task["schema_version"]))
    text = record_text(conn, project, int(task["record_id"])) if sv.needs_text else None
    normalized = sv.schema.validate(value, text)
    annotation_id = repo.add_annotation(
        conn,
        project_id=project.id,
        task_id=int(task["id"]),
        record_id=int(task["record_id"]),
        user_id=user_id,
        lease_id=None,
        value=orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS).decode(),
        schema_version=sv.version,
        guidelines_version=sv.version,
        duration_ms=None,
        idempotency_key=None,
        created_at=now,
    )
    repo.set_annotation_status(conn, annotation_id, status)
    return annotation_id, normalized


def adjudicate(project: Project, principal: Principal, task_id: int, value: Any, reason: str) -> dict[str, Any]:
    """Record the final value of a task waiting for adjudication; the task is complete."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInputError("an adjudication needs a reason")
    now = time.time()
    with project.store.write() as conn:
        task = repo.get_task(conn, task_id, lock=True)
        if task is None or int(task["project_id"]) != principal.project_id or int(task["project_id"]) != project.id:
            raise NotFoundError(f"task {task_id} not found")
        if task["state"] != "adjudication":
            raise ConflictError(f"task {task_id} is {task['state']}, not waiting for adjudication")
        answers = repo.task_annotations(conn, task_id)
        if any(int(a["user_id"]) == principal.user_id for a in answers):
            raise PermissionDeniedError("nobody adjudicates a task they answered")
        annotation_id, normalized = settle_value(conn, project, task, principal.user_id, value, "adjudicated", now)
        repo.set_task_state(conn, task_id, "complete", now)
        repo.add_counters(
            conn,
            project.id,
            {repo.sharded("tasks_adjudication", task_id): -1, repo.sharded("tasks_complete", task_id): 1,
             repo.sharded("labeled", task_id): 1},
        )  # fmt: skip
        repo.audit(
            conn,
            project.id,
            f"user:{principal.name}",
            "adjudicate",
            str(task_id),
            reason=reason[:500],
            before=digest_of([a["value"] for a in answers]),
            after=digest_of(normalized),
        )
    return {"task_id": task_id, "annotation_id": annotation_id, "state": "complete"}


def error_types(project: Project) -> dict[str, Any]:
    """Review outcomes counted by reason code, per label (of the reviewed answer) and per annotator.

    The error-type instrumentation: which labels and which people draw which
    corrections. Labels come from the single, multi and spans questions of the
    reviewed annotations.
    """
    with project.store.read() as conn:
        rows = repo.reviews_with_values(conn, project.id)
        names = repo.user_names(conn, project.id)
    by_code: dict[str, int] = {}
    by_label: dict[str, dict[str, int]] = {}
    by_annotator: dict[str, dict[str, int]] = {}
    for row in rows:
        code = row["reason_code"] or row["decision"]
        by_code[code] = by_code.get(code, 0) + 1
        author = names.get(int(row["author_id"]), str(row["author_id"]))
        per_author = by_annotator.setdefault(author, {})
        per_author[code] = per_author.get(code, 0) + 1
        value = orjson.loads(row["value"]) if row["value"] else {}
        for answer in value.values():
            if not isinstance(answer, dict):
                continue
            labels = [answer["label"]] if "label" in answer else list(answer.get("labels", []))
            labels += [span.get("label") for span in answer.get("spans", []) if isinstance(span, dict)]
            for label in labels:
                per_label = by_label.setdefault(str(label), {})
                per_label[code] = per_label.get(code, 0) + 1
    return {"by_code": by_code, "by_label": by_label, "by_annotator": by_annotator, "reviews": len(rows)}


# -- what the review and adjudication pages show ----------------------------------------------------


def _with_author(view: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    view["author"] = names.get(int(view["author_id"]), f"user {view['author_id']}")
    return view


def review_item(project: Project, principal: Principal, annotation_id: int | None = None) -> dict[str, Any] | None:
    """The annotation a reviewer decides on next, with everything a review page shows beside it.

    Without ``annotation_id`` it is :func:`next_for_review`'s annotation (None when nothing is
    due); with it, that annotation: 404 when it is not in the caller's project, 403 for its
    author, 409 once it was decided. The answer is :func:`next_for_review`'s plus ``author`` (the
    author's name), ``others`` (the task's other annotations, oldest first, each with
    ``annotation_id``, ``author_id``, ``author``, ``value``, ``status``, ``created_at``),
    ``questions`` (the questions of the annotation's schema version, as ``Question.as_dict``) and
    ``reason_codes`` (the project's taxonomy, in its order).
    """
    with project.store.read() as conn:
        if annotation_id is None:
            row = repo.next_unreviewed(conn, project.id, principal.user_id)
            if row is None:
                return None
        else:
            row = repo.get_annotation(conn, annotation_id)
            if row is None or int(row["project_id"]) != project.id or principal.project_id != project.id:
                raise NotFoundError(f"annotation {annotation_id} not found")
            if int(row["user_id"]) == principal.user_id:
                raise PermissionDeniedError("nobody reviews their own work")
            if row["status"] != "submitted":
                raise ConflictError(f"annotation {annotation_id} is {row['status']}: already decided")
        record = repo.record_for_task(conn, int(row["record_id"]))
        siblings = repo.task_annotations(conn, int(row["task_id"]))
        names = repo.user_names(conn, project.id)
        sv = schema_version(conn, project, int(row["schema_version"]))
    view = _with_author(_annotation_view(row), names)
    view["record"] = {"id": view["record_id"], "payload": project.payload(record["payload"], record["blob_ref"])}
    view["others"] = [
        _with_author(_annotation_view(other), names) for other in siblings if int(other["id"]) != int(row["id"])
    ]
    if _blinded(project, principal):
        _blind([view, *view["others"]])
    view["questions"] = [q.as_dict() for q in sv.schema.questions]
    view["reason_codes"] = list(project.config.labeling.reason_codes)
    return view


def adjudication_item(project: Project, principal: Principal, task_id: int | None = None) -> dict[str, Any] | None:
    """The task an adjudicator settles next, with its answers' authors and its questions.

    Without ``task_id`` it is :func:`next_for_adjudication`'s task (None when nothing waits);
    with it, that task: 404 outside the caller's project, 409 when it is not waiting for
    adjudication, 403 when the caller answered it. The answer is :func:`next_for_adjudication`'s
    with ``author`` (a name) on each annotation and ``questions`` (the task's schema version's
    questions, as ``Question.as_dict``).
    """
    with project.store.read() as conn:
        if task_id is None:
            task = repo.next_adjudication_task(conn, project.id, principal.user_id)
            if task is None:
                return None
        else:
            task = repo.get_task(conn, task_id)
            if task is None or int(task["project_id"]) != project.id or principal.project_id != project.id:
                raise NotFoundError(f"task {task_id} not found")
            if task["state"] != "adjudication":
                raise ConflictError(f"task {task_id} is {task['state']}, not waiting for adjudication")
        answers = repo.task_annotations(conn, int(task["id"]))
        if any(int(a["user_id"]) == principal.user_id for a in answers):
            raise PermissionDeniedError("nobody adjudicates a task they answered")
        record = repo.record_for_task(conn, int(task["record_id"]))
        names = repo.user_names(conn, project.id)
        sv = schema_version(conn, project, int(task["schema_version"]))
    views = [_with_author(_annotation_view(a), names) for a in answers]
    if _blinded(project, principal):
        _blind(views)
    return {
        "task_id": int(task["id"]),
        "record": {"id": int(task["record_id"]), "payload": project.payload(record["payload"], record["blob_ref"])},
        "schema_version": int(task["schema_version"]),
        "annotations": views,
        "questions": [q.as_dict() for q in sv.schema.questions],
    }


def adjudicate_with_answer(
    project: Project, principal: Principal, task_id: int, annotation_id: int, reason: str
) -> dict[str, Any]:
    """Settle a task waiting for adjudication with the value of one of its own annotations.

    ``annotation_id`` must be an annotation of ``task_id`` (404 otherwise); the rest is
    :func:`adjudicate` (a reason is needed; 409 unless the task waits for adjudication).
    """
    with project.store.read() as conn:
        row = repo.get_annotation(conn, annotation_id)
    if row is None or int(row["task_id"]) != task_id or int(row["project_id"]) != project.id:
        raise NotFoundError(f"annotation {annotation_id} is not an answer of task {task_id}")
    return adjudicate(project, principal, task_id, orjson.loads(row["value"]), reason)
