"""Creating labeling tasks from records: by filter, by explicit ids, or by a selection strategy.

Only live first copies are labeled: ``accepted`` records (never duplicates,
near-duplicates — one item per cluster —, quarantined, held or withdrawn ones),
and a record gets one task per schema version. ``random`` is the strategy for
now; active-learning strategies come in through the same entry point.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from labelloop.errors import InvalidInputError
from labelloop.labeling.schemas import ensure_published
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["STRATEGIES", "Chooser", "create_tasks", "list_tasks"]

STRATEGIES = ("random",)
#: Picks among eligible record ids inside the task-creation transaction: (chosen ids, reason).
Chooser = Callable[[Connection, list[int]], tuple[list[int], dict[str, Any]]]
MAX_BUDGET = 10_000_000


def create_tasks(
    project: Project,
    *,
    strategy: str = "random",
    budget: int | None = None,
    overlap: int | None = None,
    k_max: int | None = None,
    priority: int = 0,
    ids: Sequence[int] | None = None,
    source: str | None = None,
    flag: str | None = None,
    since: float | None = None,
    where: dict[str, Any] | None = None,
    seed: int | None = None,
    reason: Mapping[str, Any] | None = None,
    chooser: Chooser | None = None,
    actor: str = "cli",
) -> dict[str, Any]:
    """Create up to ``budget`` tasks; returns ``created`` and the selection made.

    ``ids`` picks those records (each must be an accepted record of the project
    without a task under the current schema version); otherwise ``strategy``
    picks among the eligible records, filtered by ``source``, ``flag`` (a quality or
    PII flag code), ``since`` (ingested at or after this epoch time) and ``where``
    (payload fields equal to the given values, e.g. ``{"channel": "email"}``) when given.
    ``reason`` is kept with each task's selection record (why it was chosen, e.g. a drift alert).
    ``chooser`` picks among the eligible records for strategies other than ``random`` (the learning
    capability passes one that reads predictions); it runs inside this transaction and returns the
    chosen ids and the reason kept with them.
    """
    settings = project.config.labeling
    overlap = overlap or settings.overlap
    k_max = max(k_max or settings.k_max or overlap, overlap)
    if strategy not in STRATEGIES and chooser is None:
        raise InvalidInputError(f"unknown strategy '{strategy}' (strategies: {', '.join(STRATEGIES)})")
    if budget is not None and not 1 <= budget <= MAX_BUDGET:
        raise InvalidInputError(f"budget must be between 1 and {MAX_BUDGET:,}")
    if not 1 <= overlap <= 50 or k_max > 50:
        raise InvalidInputError("overlap and k_max must be between 1 and 50")
    if not -1_000_000 <= priority <= 1_000_000:
        raise InvalidInputError("priority must be between -1000000 and 1000000")
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        version = ensure_published(conn, project, actor).version
        source_id = None
        if source is not None:
            source_id = repo.source_names_reverse(conn, project.id).get(source)
            if source_id is None:
                raise InvalidInputError(f"no source named '{source}'")
        if ids is not None:
            wanted = sorted(set(int(i) for i in ids))
            eligible = set(
                repo.eligible_records(
                    conn, project.id, version, source_id=source_id, among=wanted, flag=flag, since=since
                )
            )
            missing = [i for i in wanted if i not in eligible]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise InvalidInputError(
                    f"records {shown} cannot get a task: not accepted records of this project, "
                    "or already tasked under the current schema version"
                )
            chosen = wanted[: budget or len(wanted)]
        else:
            pool = repo.eligible_records(conn, project.id, version, source_id=source_id, flag=flag, since=since)
            if where:
                pool = _matching(conn, project, pool, where)
            if chooser is not None:
                picked, why = chooser(conn, pool)
                chosen = sorted(picked)
                reason = {**why, **(reason or {})}
            else:
                rng = random.Random(seed)
                chosen = sorted(rng.sample(pool, min(budget, len(pool)))) if budget else pool
        why = dict(reason or {})
        scores = why.pop("scores", None) or {}
        base = {
            "strategy": "ids" if ids is not None else strategy,
            "seed": seed,
            "budget": budget,
            "by": actor,
            **({"reason": why} if why else {}),
        }
        # each task keeps its own score (why this item), not the whole selection's
        selection: str | dict[int, str] = (
            {rid: orjson.dumps({**base, "score": scores.get(str(rid))}).decode() for rid in chosen}
            if scores
            else orjson.dumps(base).decode()
        )
        created = repo.add_tasks(
            conn,
            project.id,
            chosen,
            schema_version=version,
            rank=-priority,
            overlap=overlap,
            k_max=k_max,
            selection=selection,
            created_at=time.time(),
        )
        repo.add_counters(conn, project.id, {"tasks": created, "tasks_open": created})
        repo.audit(conn, project.id, actor, "tasks.create", None, created=created, strategy=strategy, overlap=overlap)
    return {"created": created, "schema_version": version, "overlap": overlap, "k_max": k_max, "strategy": strategy}


def _matching(conn: Any, project: Project, pool: list[int], where: dict[str, Any]) -> list[int]:
    """The records of ``pool`` whose payload has every field of ``where`` equal to its value."""
    declared = project.config.record.fields
    unknown = sorted(k for k in where if declared and k not in declared)
    if unknown:
        raise InvalidInputError(f"where: {unknown} are not fields of the record schema")
    out: list[int] = []
    for start in range(0, len(pool), 5_000):
        part = pool[start : start + 5_000]
        for rid, (payload, blob_ref) in sorted(repo.live_payloads(conn, project.id, part).items()):
            data = project.payload(payload, blob_ref)
            if all(data.get(k) == v for k, v in where.items()):
                out.append(rid)
    return out


def list_tasks(
    project: Project, *, state: str | None = None, cursor: int = 0, limit: int = 100
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of tasks in id order after ``cursor``."""
    if state is not None and state not in ("open", "complete", "adjudication", "cancelled"):
        raise InvalidInputError(f"unknown task state '{state}' (open, complete, adjudication, cancelled)")
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit must be between 1 and 10000")
    with project.store.read() as conn:
        rows = repo.list_tasks(conn, project.id, state=state, after=cursor, limit=limit)
    return rows, (rows[-1]["id"] if len(rows) == limit else None)
