"""Gold checks: items with a known answer, mixed into the queue, that measure each annotator.

A gold item is a task on a record whose answer is known (for the current
schema version). The queue hands one out instead of a regular task at the
project's ``gold_rate``; it looks like any other task. Each answer to it is
checked against the known one (the discrete questions and spans must match;
free text is not compared), and each annotator's accuracy is reported with a
95% Wilson interval. When an annotator has ``gold_min_answers`` gold answers
and the interval's upper end is below ``gold_min_accuracy``, they are paused:
no new leases until a steward resumes them; the pause is audited and listed in
the project's status.
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
from sqlalchemy import Connection

from labelloop.errors import InvalidInputError, NotFoundError
from labelloop.labeling.schemas import SchemaVersion, ensure_published
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["GOLD_OVERLAP", "add_gold", "check_gold_answer", "gold_report", "resume_annotator", "wilson"]

#: A gold item stays in the pool: everyone may answer it once.
GOLD_OVERLAP = 10_000


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def add_gold(project: Project, record_id: int, value: Any, actor: str = "cli") -> dict[str, Any]:
    """Make ``record_id`` a gold item with the known answer ``value`` (validated); returns the task."""
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        sv = ensure_published(conn, project, actor)
        if not repo.eligible_records(conn, project.id, sv.version, among=[record_id]):
            raise InvalidInputError(
                f"record {record_id} cannot be a gold item: not an accepted record of this project, "
                "or it already has a task under the current schema version"
            )
        text = _text(conn, project, record_id) if sv.needs_text else None
        known = sv.schema.validate(value, text)
        task_id = repo.add_gold_task(
            conn,
            project.id,
            record_id,
            schema_version=sv.version,
            overlap=GOLD_OVERLAP,
            gold_value=orjson.dumps(known, option=orjson.OPT_SORT_KEYS).decode(),
            created_at=time.time(),
        )
        repo.audit(conn, project.id, actor, "gold.add", str(record_id), task_id=task_id)
    return {"task_id": task_id, "record_id": record_id, "schema_version": sv.version}


def _text(conn: Connection, project: Project, record_id: int) -> str | None:
    from labelloop.labeling.queue import record_text

    return record_text(conn, project, record_id)


def matches(sv: SchemaVersion, answer: dict[str, Any], known: dict[str, Any]) -> bool:
    """Whether an answer agrees with the known one on every question but free text."""
    for question in sv.schema.questions:
        if question.type == "text" or question.name not in known:
            continue
        if orjson.dumps(answer.get(question.name), option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            known[question.name], option=orjson.OPT_SORT_KEYS
        ):
            return False
    return True


def check_gold_answer(
    conn: Connection,
    project: Project,
    sv: SchemaVersion,
    *,
    task_id: int,
    annotation_id: int,
    user_id: int,
    answer: dict[str, Any],
    known: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """Record whether a gold answer was right; pause the annotator when their accuracy is too low."""
    correct = matches(sv, answer, known)
    repo.add_gold_check(conn, project.id, annotation_id, task_id, user_id, correct, now)
    n, right = repo.gold_totals(conn, project.id, user_id)
    settings = project.config.labeling
    low, high = wilson(right, n)
    paused = False
    if n >= settings.gold_min_answers and high < settings.gold_min_accuracy:
        reason = f"gold accuracy {right}/{n} (95% interval {low:.2f}-{high:.2f}) below {settings.gold_min_accuracy:.2f}"
        paused = repo.pause_user(conn, user_id, now, reason)
        if paused:
            repo.audit(conn, project.id, "system:gold", "annotator.paused", str(user_id), reason=reason)
    return {"correct": correct, "expected": known, "paused": paused}


def gold_report(project: Project) -> list[dict[str, Any]]:
    """Per annotator: gold answers, correct ones, accuracy with its 95% interval, and whether paused."""
    with project.store.read() as conn:
        rows = repo.gold_by_user(conn, project.id)
    out = []
    for row in rows:
        low, high = wilson(row["correct"], row["answers"])
        out.append(
            {
                **row,
                "accuracy": row["correct"] / row["answers"] if row["answers"] else None,
                "interval": [round(low, 4), round(high, 4)],
            }
        )
    return out


def resume_annotator(project: Project, name: str, actor: str = "cli") -> dict[str, Any]:
    """Lift a gold pause: the annotator gets leases again."""
    with project.store.write() as conn:
        user = repo.find_user(conn, project.id, name)
        if user is None:
            raise NotFoundError(f"no user '{name}' in project {project.name}")
        repo.resume_user(conn, int(user["id"]))
        repo.audit(conn, project.id, actor, "annotator.resumed", name)
    return {"user": name, "paused": False}
