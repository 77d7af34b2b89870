"""Quality in the loop: final labels (aggregation), agreement, suspected label errors, drift.

Each use case is one function over an open :class:`~labelloop.project.Project`
that owns its transaction and records what it computed as a quality run (kind
``aggregation``, ``agreement``, ``label_errors`` or ``drift``), so stewards see the
history: the agreement trend, every drift report and its alerts.

Final labels. ``aggregate`` gives every complete task one final value per
question, stored with its method, its confidence and the annotation ids it used:

- an adjudicated value or a confirmed label-error correction settles a task
  (method ``adjudicated`` / ``corrected``, confidence 1);
- otherwise the project's rule (``quality.aggregation``): ``majority`` (the
  confidence is the winner's share of the votes) or ``dawid_skene`` (fitted over
  every answered item of the project, gold items clamped to their known answers;
  the confidence is the posterior of the chosen label), for single, pairwise and
  rating questions; multi-label answers keep each label a majority chose
  (confidence: the smallest share agreeing with a kept or dropped label); spans and
  free text take the answer most people gave verbatim (confidence: its share);
- ``adjudicated`` as the rule sends every complete task without an adjudicated
  value to adjudication;
- a final label below ``quality.min_confidence`` (on any voted question) sends
  the task back: one more annotator while its overlap is below ``k_max``,
  adjudication after that. Its final label is removed until it completes again.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import orjson
import pyarrow as pa
from numpy.typing import NDArray

from labelloop.config import DriftSpec
from labelloop.domain.audit import digest_of
from labelloop.domain.probabilities import ROW_SUM_TOLERANCE
from labelloop.domain.schemas import LabelSchema, Question
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from labelloop.governance.service import Principal
from labelloop.labeling.review import settle_value
from labelloop.labeling.schemas import current_version, schema_version
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.baseline import MODEL_NAME, cross_val_probs
from labelloop.learning.service import record_texts
from labelloop.project import Project
from labelloop.quality.aggregation import dawid_skene, majority_vote
from labelloop.quality.agreement import (
    krippendorff_alpha_ci_from_triples,
    krippendorff_alpha_from_triples,
    pairwise_agreement,
    pairwise_span_agreement,
)
from labelloop.quality.drift import (
    DriftAlert,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    FeatureThresholds,
    drift_report,
)
from labelloop.quality.label_errors import FilterBy, find_label_issues, label_quality_scores
from labelloop.quality.votes import (
    AGGREGATED_TYPES,
    Vote,
    answer_of,
    authoritative,
    first_pass,
    live_votes,
    main_question,
)
from labelloop.store import learning as lrepo
from labelloop.store import quality as qrepo
from labelloop.store import releases as rrepo
from labelloop.store import repo

__all__ = [
    "aggregate",
    "drift",
    "drift_history",
    "final_labels",
    "latest_confusion",
    "parse_release_reference",
]


def _now() -> float:
    return time.time()


def _schema(project: Project) -> tuple[int, LabelSchema]:
    with project.store.read() as conn:
        found = current_version(conn, project)
    if found is None:
        raise InvalidInputError(f"project {project.name} has no published label schema yet (create tasks first)")
    return found.version, found.schema


def _jsonable(answer: Any) -> Any:
    """An answer as it goes into JSON (sets become sorted lists, span tuples lists)."""
    if isinstance(answer, frozenset):
        return sorted(answer)
    if isinstance(answer, tuple):
        return [list(x) if isinstance(x, tuple) else x for x in answer]
    return answer


def _value_of(question: Question, answer: Any) -> dict[str, Any]:
    """An aggregated answer back in the annotation value format of its question type."""
    key = {"single": "label", "pairwise": "choice", "rating": "rating", "multi": "labels", "text": "text"}
    if question.type == "spans":
        return {"spans": [{"start": s, "end": e, "label": lab} for s, e, lab in answer]}
    return {key[question.type]: _jsonable(answer)}


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------


def _verbatim(answers: Sequence[tuple[int, Any]]) -> tuple[Any, float]:
    """The answer most voters gave verbatim (ties: the earliest given), and its share."""
    counts = Counter(a for _, a in answers)
    best = max(counts.values())
    winner = next(a for _, a in answers if counts[a] == best)
    return winner, best / len(answers)


def _multi(answers: Sequence[frozenset[str]]) -> tuple[frozenset[str], float]:
    """Labels a strict majority chose; confidence is the smallest share agreeing with a decision."""
    n = len(answers)
    counts = Counter(label for a in answers for label in a)
    kept = frozenset(label for label, c in counts.items() if c * 2 > n)
    shares = [max(c, n - c) / n for c in counts.values()]
    return kept, min(shares) if shares else 1.0


def _classes(question: Question) -> list[Any]:
    """Every answer a categorical question allows, in schema order (a gold answer nobody gave is one)."""
    if question.type == "pairwise":
        return ["a", "b", "tie"]
    if question.type == "rating":
        low, high = question.scale
        return list(range(low, high + 1))
    return list(question.labels)


def _decide_question(
    question: Question,
    votes: Sequence[Vote],
    *,
    method: str,
    gold: Mapping[int, Any],
) -> tuple[dict[int, tuple[Any, float]], dict[str, Any]]:
    """Task id -> (answer, confidence) for one question; with what the model learned (DS)."""
    by_task: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for vote in votes:
        answer = answer_of(question, vote.value)
        if answer is not None:
            by_task[vote.task_id].append((vote.user_id, answer))
    decided: dict[int, tuple[Any, float]] = {}
    learned: dict[str, Any] = {}
    if question.type in AGGREGATED_TYPES:
        triples = [(task, user, answer) for task, answers in by_task.items() for user, answer in answers]
        if not triples:
            return decided, learned
        classes = _classes(question)
        if method == "dawid_skene":
            fitted = dawid_skene(triples, gold={t: g for t, g in gold.items() if t in by_task} or None, classes=classes)
            for task, label in fitted.labels.items():
                decided[cast(int, task)] = (label, float(fitted.confidence[task]))
            learned = {
                "classes": [_jsonable(c) for c in fitted.classes],
                "confusion": {str(user): np.round(m, 6).tolist() for user, m in fitted.confusion.items()},
                "priors": {str(k): round(float(v), 6) for k, v in fitted.priors.items()},
                "n_iter": fitted.n_iter,
                "converged": fitted.converged,
            }
        else:
            voted = majority_vote(triples, classes=classes)
            for task, label in voted.labels.items():
                decided[cast(int, task)] = (label, float(voted.confidence[task]))
    elif question.type == "multi":
        for task, answers in by_task.items():
            decided[task] = _multi([a for _, a in answers])
    else:
        for task, answers in by_task.items():
            decided[task] = _verbatim(answers)
    return decided, learned


def aggregate(project: Project, *, method: str | None = None, actor: str = "cli") -> dict[str, Any]:
    """Recompute every complete task's final labels (see the module docstring); returns a summary.

    Keys: ``run_id``, ``method``, ``tasks`` (complete tasks labeled), ``labels`` (rows
    stored), ``by_method`` (how each task was decided), ``mean_confidence``,
    ``more_annotators`` and ``to_adjudication`` (tasks sent back by ``min_confidence``
    or by the ``adjudicated`` rule), ``questions``.
    """
    settings = project.config.quality
    method = method or settings.aggregation
    if method not in ("majority", "dawid_skene", "adjudicated"):
        raise InvalidInputError(f"unknown aggregation method '{method}' (majority, dawid_skene, adjudicated)")
    started = _now()
    version, schema = _schema(project)
    with project.store.read() as conn:
        rows = qrepo.annotation_rows(conn, project.id)
        names = repo.user_names(conn, project.id)
    votes = live_votes(rows)
    settled = authoritative(rows)
    adjudicated_ids = {r.id for r in rows if r.status == "adjudicated"}
    record_of = {r.task_id: r.record_id for r in rows}
    state_of = {r.task_id: (r.task_state, r.overlap, r.k_max) for r in rows}
    gold_tasks = {v.task_id: v.gold_value for v in votes if v.is_gold and v.gold_value is not None}
    complete = sorted(t for t, (state, _, _) in state_of.items() if state == "complete" and t not in gold_tasks)

    decisions: dict[str, dict[int, tuple[Any, float]]] = {}
    learned: dict[str, Any] = {}
    vote_ids: dict[int, list[int]] = defaultdict(list)
    for vote in votes:
        vote_ids[vote.task_id].append(vote.annotation_id)
    rule = "majority" if method == "adjudicated" else method
    for question in schema.questions:
        gold = {
            task: answer
            for task, value in gold_tasks.items()
            if value is not None and (answer := answer_of(question, value)) is not None
        }
        decided, fitted = _decide_question(question, votes, method=rule, gold=gold)
        decisions[question.name] = decided
        if fitted:
            fitted["confusion"] = {names.get(int(u), u): m for u, m in fitted["confusion"].items()}
            learned[question.name] = fitted

    now = _now()
    final_rows: list[dict[str, Any]] = []
    by_method: Counter[str] = Counter()
    back: list[tuple[int, str, int]] = []  # (task, to_state, overlap)
    confidences: list[float] = []
    for task in complete:
        _, overlap, k_max = state_of[task]
        settled_vote = settled.get(task)
        if settled_vote is not None:
            status = "adjudicated" if settled_vote.annotation_id in adjudicated_ids else "corrected"
            by_method[status] += 1
            for question in schema.questions:
                answer = answer_of(question, settled_vote.value)
                if answer is None:
                    continue
                final_rows.append(
                    _final_row(project, version, task, settled_vote.record_id, question, answer, status, 1.0,
                               [settled_vote.annotation_id], now)
                )  # fmt: skip
            confidences.append(1.0)
            continue
        if method == "adjudicated":
            back.append((task, "adjudication", overlap))
            continue
        answers = {q.name: decisions[q.name].get(task) for q in schema.questions}
        voted = [c for q in schema.questions if q.type in AGGREGATED_TYPES and (c := answers[q.name]) is not None]
        lowest = min((conf for _, conf in voted), default=1.0)
        if settings.min_confidence and lowest < settings.min_confidence:
            back.append((task, "open", overlap + 1) if overlap < k_max else (task, "adjudication", overlap))
            continue
        by_method[rule] += 1
        confidences.append(lowest)
        for question in schema.questions:
            pick = answers[question.name]
            if pick is None:
                continue
            final_rows.append(
                _final_row(project, version, task, record_of[task], question, pick[0], rule, pick[1],
                           vote_ids[task], now)
            )  # fmt: skip
    more = sum(1 for _, to, _ in back if to == "open")
    summary: dict[str, Any] = {
        "method": method,
        "tasks": len(complete) - len(back),
        "labels": len(final_rows),
        "by_method": dict(by_method),
        "mean_confidence": round(float(np.mean(confidences)), 6) if confidences else None,
        "more_annotators": more,
        "to_adjudication": len(back) - more,
        "questions": [q.name for q in schema.questions],
    }
    seen_up_to = max((r.id for r in rows), default=0)
    with project.store.write() as conn:
        # Computed outside the write lock (submits go on meanwhile); tasks that changed since the
        # read — left complete, or got a new answer, fix, adjudication or correction — are skipped
        # here and decided by the next run.
        project.store.lock_project(conn, project.id, "final_labels")
        changed = qrepo.tasks_changed_since(conn, project.id, complete, seen_up_to)
        final_rows = [row for row in final_rows if row["task_id"] not in changed]
        back = [entry for entry in back if entry[0] not in changed]
        moved = 0
        for task, to_state, overlap in back:
            moved += qrepo.send_task_back(conn, task, from_state="complete", to_state=to_state, overlap=overlap)
        run_id = qrepo.add_quality_run(
            conn,
            project_id=project.id,
            kind="aggregation",
            started_at=started,
            actor=actor,
            params={"method": method, "min_confidence": settings.min_confidence},
            summary={**summary, "models": learned},
        )
        for row in final_rows:
            row["run_id"] = run_id
        qrepo.replace_final_labels(conn, [t for t in complete if t not in changed], final_rows)
        # a task reopened by a review or escalated since its last label has no final label now
        cleared = qrepo.clear_unfinished_labels(conn, project.id)
        repo.audit(conn, project.id, actor, "aggregate", str(run_id), method=method, labels=len(final_rows))
    summary["labels"] = len(final_rows)
    summary["run_id"] = run_id
    summary["sent_back"] = moved
    summary["skipped_changed"] = len(changed)
    summary["cleared"] = cleared
    return summary


def _final_row(
    project: Project,
    version: int,
    task: int,
    record_id: int,
    question: Question,
    answer: Any,
    method: str,
    confidence: float,
    annotation_ids: Sequence[int],
    now: float,
) -> dict[str, Any]:
    return {
        "project_id": project.id,
        "task_id": task,
        "record_id": record_id,
        "question": question.name,
        "value": orjson.dumps(_value_of(question, answer)).decode(),
        "method": method,
        "confidence": round(confidence, 9),
        "annotation_ids": orjson.dumps(sorted(annotation_ids)).decode(),
        "schema_version": version,
        "computed_at": now,
    }


def final_labels(project: Project, *, cursor: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """A page of final labels (by task id after ``cursor``) and the next cursor (None at the end)."""
    with project.store.read() as conn:
        rows = qrepo.final_label_rows(conn, project.id, after=cursor, tasks=limit + 1)
    # a page ends on a task boundary: one task's questions are never split
    tasks_seen: list[int] = []
    out: list[dict[str, Any]] = []
    for row in rows:
        task = int(row["task_id"])
        if not tasks_seen or tasks_seen[-1] != task:  # rows come ordered by task
            tasks_seen.append(task)
        if len(tasks_seen) > limit:
            break
        out.append(
            {
                "task_id": task,
                "record_id": int(row["record_id"]),
                "question": row["question"],
                "value": orjson.loads(row["value"]),
                "method": row["method"],
                "confidence": float(row["confidence"]),
                "annotation_ids": orjson.loads(row["annotation_ids"]),
                "run_id": row["run_id"],
            }
        )
    more = len(tasks_seen) > limit
    return out, (tasks_seen[limit - 1] if more else None)


def latest_confusion(project: Project) -> dict[str, Any]:
    """The annotators' confusion matrices of the latest Dawid-Skene aggregation (stewards only).

    ``{"run_id", "at", "questions": {question: {"classes", "confusion": {annotator: matrix}}}}``;
    rows of a matrix are the true label, columns the label given, in ``classes`` order.
    """
    with project.store.read() as conn:
        runs = qrepo.quality_runs_of(conn, project.id, "aggregation", limit=200)
    for run in runs:
        models = orjson.loads(run["summary"]).get("models") or {}
        if models:
            return {"run_id": int(run["id"]), "at": run["finished_at"], "questions": models}
    return {"run_id": None, "at": None, "questions": {}}


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------

_LEVELS = {"single": "nominal", "pairwise": "nominal", "rating": "ordinal", "multi": "masi"}
_WINDOWS = {"day": 86_400.0, "week": 7 * 86_400.0, "month": 30 * 86_400.0}
#: Slices and windows with fewer units than this get no α (it would be noise).
MIN_UNITS = 5
BOOTSTRAP_SAMPLES = 500
#: The annotator pairs shown (those sharing the most items); ``pairs_total`` counts them all.
MAX_PAIRS = 500


def _alpha(triples: Sequence[tuple[int, int, Any]], level: str) -> float | None:
    """Krippendorff's α of (unit, coder, value) triples; None when no unit has two values."""
    if not triples:
        return None
    value = krippendorff_alpha_from_triples(triples, level=level)
    return round(float(value), 6) if np.isfinite(value) else None


def _span_agreement(question: Question, votes: Sequence[Vote]) -> dict[str, Any]:
    by_user: dict[int, dict[int, list[tuple[int, int, str]]]] = defaultdict(dict)
    for vote in votes:
        answer = answer_of(question, vote.value)
        if answer is not None:
            by_user[vote.user_id][vote.task_id] = list(answer)
    out: dict[str, Any] = {}
    for match in ("exact", "overlap"):
        found = pairwise_span_agreement(by_user, match="exact" if match == "exact" else "overlap")
        out[match] = {
            "f1": _finite(found.f1),
            "per_label": {str(k): _finite(v) for k, v in found.per_label.items()},
            "pairs": len(found.pairs),
        }
    return out


def _finite(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def agreement(
    project: Project,
    *,
    question: str | None = None,
    slice_field: str | None = None,
    window: str | None = "week",
    bootstrap: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    record: bool = True,
    actor: str = "cli",
) -> dict[str, Any]:
    """Inter-annotator agreement now, over everyone's first-pass answers (see :mod:`labelloop.quality.votes`).

    Keys: ``question``, ``level``, ``krippendorff_alpha`` (None when no item has two
    answers), ``alpha_ci`` ([low, high], bootstrap over items), ``units`` (items with
    at least two answers), ``annotations``, ``per_label`` (label -> binary α of "this
    label or not", and its count), ``per_annotator`` (name -> items shared with others,
    observed agreement with them, mean pairwise Cohen's κ weighted by shared items),
    ``pairs`` (each annotator pair: shared items, agreement, κ), ``slices`` (``source``
    and, with ``slice_field``, that payload field: value -> α and units), ``trend``
    (per ``window``: α of the items first answered in it, and cumulative), and
    ``spans`` (pairwise span F1, exact and overlap, for a spans question). When
    ``record`` is set the figures are kept as a quality run (the history).
    """
    started = _now()
    _, schema = _schema(project)
    target = main_question(schema, question)
    if window is not None and window not in _WINDOWS:
        raise InvalidInputError(f"window must be one of {', '.join(_WINDOWS)}")
    with project.store.read() as conn:
        rows = qrepo.annotation_rows(conn, project.id)
        names = repo.user_names(conn, project.id)
        sources = repo.source_names(conn, project.id)
    votes = first_pass(rows)
    triples = [(v.task_id, v.user_id, a) for v in votes if (a := answer_of(target, v.value)) is not None]
    per_unit = Counter(t for t, _, _ in triples)
    paired = [t for t in triples if per_unit[t[0]] >= 2]
    level = _LEVELS.get(target.type)
    out: dict[str, Any] = {
        "question": target.name,
        "type": target.type,
        "level": level,
        "annotations": len(triples),
        "units": len({t for t, _, _ in paired}),
        "krippendorff_alpha": None,
        "alpha_ci": None,
        "per_label": {},
        "per_annotator": {},
        "pairs": [],
        "pairs_total": 0,
        "slices": {},
        "trend": [],
    }
    if target.type == "spans":
        out["spans"] = _span_agreement(target, votes)
    if level is None:
        return out
    out["krippendorff_alpha"] = _alpha(paired, level)
    if out["krippendorff_alpha"] is not None and bootstrap > 0:
        _, low, high = krippendorff_alpha_ci_from_triples(paired, level=level, n_boot=bootstrap, seed=seed)
        out["alpha_ci"] = [_finite(low), _finite(high)]
    out["per_label"] = _per_label(target, paired)
    out["pairs"], out["per_annotator"], out["pairs_total"] = _pairs(paired, names)
    unit_source = {v.task_id: v.source_id for v in votes}
    out["slices"]["source"] = _sliced(paired, {t: sources.get(s, str(s)) for t, s in unit_source.items()}, level)
    if slice_field is not None:
        out["slices"][slice_field] = _sliced(paired, _payload_slices(project, votes, slice_field), level)
    if window is not None:
        out["trend"] = _trend(paired, {v.task_id: v.created_at for v in reversed(votes)}, _WINDOWS[window], level)
    if record:
        with project.store.write() as conn:
            out["run_id"] = qrepo.add_quality_run(
                conn,
                project_id=project.id,
                kind="agreement",
                started_at=started,
                actor=actor,
                params={"question": target.name, "slice_field": slice_field, "window": window},
                summary={
                    k: out[k] for k in ("question", "level", "krippendorff_alpha", "alpha_ci", "units", "per_label")
                },
            )
    return out


def _per_label(target: Question, paired: Sequence[tuple[int, int, Any]]) -> dict[str, Any]:
    """Per label: α of the binary question "did the answer use this label?" (nominal)."""
    if target.type == "rating":
        return {}
    labels: list[str] = list(target.labels) if target.labels else ["a", "b", "tie"]
    out: dict[str, Any] = {}
    for label in labels:
        if target.type == "multi":
            binary = [(t, c, int(label in a)) for t, c, a in paired]
        else:
            binary = [(t, c, int(a == label)) for t, c, a in paired]
        used = sum(v for _, _, v in binary)
        out[label] = {"alpha": _alpha(binary, "nominal") if used else None, "count": used}
    return out


def _pairs(
    paired: Sequence[tuple[int, int, Any]], names: Mapping[int, str]
) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Per annotator pair with shared items: agreement share and Cohen's κ (unweighted); per annotator,
    the same averaged over their pairs, weighted by shared items. The pairs sharing most come first."""
    found = pairwise_agreement([(unit, coder, _key(value)) for unit, coder, value in paired])
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # shared, agreeing, κ·n, n(κ)
    pairs: list[dict[str, Any]] = []
    for pair in found:
        n = pair.n_shared
        kappa = _finite(pair.kappa)
        pairs.append(
            {
                "a": names.get(int(pair.coder_a), str(pair.coder_a)),
                "b": names.get(int(pair.coder_b), str(pair.coder_b)),
                "units": n,
                "agreement": round(pair.observed_agreement, 6),
                "cohen_kappa": kappa,
            }
        )
        for coder in (int(pair.coder_a), int(pair.coder_b)):
            entry = totals[coder]
            entry[0] += n
            entry[1] += pair.observed_agreement * n
            if kappa is not None:
                entry[2] += kappa * n
                entry[3] += n
    per_annotator = {
        names.get(coder, str(coder)): {
            "units": int(count),
            "agreement": round(agreeing / count, 6),
            "cohen_kappa": round(kn / n, 6) if n else None,
        }
        for coder, (count, agreeing, kn, n) in sorted(totals.items())
    }
    pairs.sort(key=lambda p: (-int(p["units"]), str(p["a"]), str(p["b"])))
    return pairs[:MAX_PAIRS], per_annotator, len(pairs)


def _key(answer: Any) -> Any:
    """A hashable, orderable form of an answer for κ (sets become sorted tuples)."""
    return tuple(sorted(answer)) if isinstance(answer, frozenset) else answer


def _sliced(paired: Sequence[tuple[int, int, Any]], slice_of: Mapping[int, str], level: str) -> dict[str, Any]:
    groups: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
    for triple in paired:
        groups[str(slice_of.get(triple[0], "(none)"))].append(triple)
    out: dict[str, Any] = {}
    for name, group in sorted(groups.items()):
        units = len({t for t, _, _ in group})
        out[name] = {"units": units, "alpha": _alpha(group, level) if units >= MIN_UNITS else None}
    return out


def _payload_slices(project: Project, votes: Sequence[Vote], field: str) -> dict[int, str]:
    """Task id -> the value of payload ``field`` of its record (as text)."""
    record_of = {v.task_id: v.record_id for v in votes}
    with project.store.read() as conn:
        payloads = qrepo.record_payloads(conn, sorted(set(record_of.values())))
    out: dict[int, str] = {}
    for task, record in record_of.items():
        value = project.payload(*payloads.get(record, (None, None))).get(field)
        out[task] = "(none)" if value is None else str(value)
    return out


def _trend(
    paired: Sequence[tuple[int, int, Any]], first_at: Mapping[int, float], width: float, level: str
) -> list[dict[str, Any]]:
    """α of the items first answered in each window (the overall α is the cumulative figure: recomputing
    it per window would cost windows x answers), with the running count of items."""
    by_window: dict[int, list[tuple[int, int, Any]]] = defaultdict(list)
    for triple in paired:
        by_window[int(first_at[triple[0]] // width)].append(triple)
    out: list[dict[str, Any]] = []
    total = 0
    for index in sorted(by_window):
        group = by_window[index]
        units = len({t for t, _, _ in group})
        total += units
        out.append(
            {
                "start": index * width,
                "end": (index + 1) * width,
                "units": units,
                "cumulative_units": total,
                "alpha": _alpha(group, level) if units >= MIN_UNITS else None,
            }
        )
    return out


def agreement_history(project: Project, *, limit: int = 100) -> list[dict[str, Any]]:
    """The recorded agreement figures, newest first (the trend as it was measured)."""
    with project.store.read() as conn:
        runs = qrepo.quality_runs_of(conn, project.id, "agreement", limit=limit)
    return [{"run_id": int(r["id"]), "at": r["finished_at"], **orjson.loads(r["summary"])} for r in runs]


# ---------------------------------------------------------------------------------------------
# Suspected label errors
# ---------------------------------------------------------------------------------------------

#: Final labels a person settled (adjudicated, corrected) are not re-reviewed again.
_HUMAN_SETTLED = ("adjudicated", "corrected")
REASON = "suspected_label_error"


def scan_label_errors(
    project: Project,
    *,
    predictions: Mapping[int, Mapping[str, float]] | None = None,
    question: str | None = None,
    filter_by: str | None = None,
    enqueue: bool = True,
    folds: int = 5,
    seed: int = 0,
    actor: str = "cli",
) -> dict[str, Any]:
    """Find final labels that are likely wrong (confident learning) and queue them for re-review.

    ``predictions`` maps record id -> {label: probability}, out of sample (the user's
    model); without it the baseline model's ``folds``-fold cross-validated
    probabilities over the final labels are used. Only single-label questions are
    scanned. Each flagged task not already flagged (and not settled by a person) gets
    an open flag, reason ``suspected_label_error``, in the reviewers' queue.

    Keys: ``run_id``, ``question``, ``model``, ``filter_by``, ``items``, ``flagged``,
    ``new_flags``, ``top`` (the worst 20: task, record, given, suggested, score).
    """
    started = _now()
    filter_by = filter_by or project.config.quality.label_errors_filter
    _, schema = _schema(project)
    target = main_question(schema, question)
    if target.type != "single":
        raise InvalidInputError(f"label errors are found for single-label questions; '{target.name}' is {target.type}")
    classes = list(target.labels)
    index = {label: i for i, label in enumerate(classes)}
    with project.store.read() as conn:
        finals = [r for r in qrepo.final_label_rows(conn, project.id) if r["question"] == target.name]
        decided = qrepo.decided_flags(conn, project.id)
    finals = [r for r in finals if orjson.loads(r["value"]).get("label") in index]
    if not finals:
        raise InvalidInputError("no final labels yet: run `labelloop aggregate` after tasks complete")
    given = np.array([index[orjson.loads(r["value"])["label"]] for r in finals], dtype=np.int64)
    if predictions is not None:
        probs, model = _prediction_matrix(finals, predictions, index), "predictions"
    else:
        with project.store.read() as conn:
            texts = record_texts(project, conn, [int(r["record_id"]) for r in finals])
        probs = cross_val_probs(texts, given.tolist(), len(classes), folds=folds, seed=seed)
        model = f"{MODEL_NAME} (cv{folds})"
    issues = find_label_issues(given, probs, filter_by=cast(FilterBy, filter_by))
    scores = label_quality_scores(given, probs)
    order = [int(i) for i in np.argsort(scores[issues], kind="stable")]
    worst = [int(i) for i in np.flatnonzero(issues)[order]]
    now = _now()
    flags: list[dict[str, Any]] = []
    for i in worst:
        row = finals[i]
        if row["method"] in _HUMAN_SETTLED or (int(row["task_id"]), target.name, classes[int(given[i])]) in decided:
            continue  # a person settled it, or already kept this very label after a re-review
        flags.append(
            {
                "project_id": project.id,
                "task_id": int(row["task_id"]),
                "record_id": int(row["record_id"]),
                "question": target.name,
                "given": classes[int(given[i])],
                "suggested": classes[int(np.argmax(probs[i]))],
                "score": round(float(scores[i]), 9),
                "status": "open",
                "created_at": now,
            }
        )
    summary: dict[str, Any] = {
        "question": target.name,
        "model": model,
        "filter_by": filter_by,
        "items": len(finals),
        "flagged": len(worst),
        "new_flags": 0,
        "top": [
            {
                "task_id": int(finals[i]["task_id"]),
                "record_id": int(finals[i]["record_id"]),
                "given": classes[int(given[i])],
                "suggested": classes[int(np.argmax(probs[i]))],
                "score": round(float(scores[i]), 6),
            }
            for i in worst[:20]
        ],
    }
    with project.store.write() as conn:
        if enqueue:
            project.store.lock_project(conn, project.id, "label_errors")
            already = qrepo.open_flag_tasks(conn, project.id)  # read under the lock: no flag twice
            flags = [f for f in flags if f["task_id"] not in already]
            summary["new_flags"] = len(flags)  # recorded with the run: what this scan queued
        run_id = qrepo.add_quality_run(
            conn,
            project_id=project.id,
            kind="label_errors",
            started_at=started,
            actor=actor,
            params={"question": target.name, "filter_by": filter_by, "model": model},
            summary=summary,
        )
        if enqueue:
            qrepo.add_flags(conn, [{**f, "run_id": run_id} for f in flags])
        repo.audit(
            conn, project.id, actor, "label_errors.scan", str(run_id), flagged=len(worst), queued=summary["new_flags"]
        )
    summary["run_id"] = run_id
    return summary


def _prediction_matrix(
    finals: Sequence[Mapping[str, Any]], predictions: Mapping[int, Mapping[str, float]], index: Mapping[str, int]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    probs = np.zeros((len(finals), len(index)), dtype=np.float64)
    missing = 0
    for i, row in enumerate(finals):
        given = predictions.get(int(row["record_id"]))
        if given is None:
            missing += 1
            continue
        for label, p in given.items():
            if label not in index:
                raise InvalidInputError(f"prediction for record {row['record_id']} names unknown label '{label}'")
            probs[i, index[label]] = float(p)
    if missing:
        raise InvalidInputError(f"{missing} labeled record(s) have no prediction; give one for every labeled record")
    sums = probs.sum(axis=1)
    if (np.abs(sums - 1.0) > ROW_SUM_TOLERANCE).any():
        bad = int(finals[int(np.argmax(np.abs(sums - 1.0)))]["record_id"])
        raise InvalidInputError(f"probabilities of record {bad} do not sum to 1")
    normalized: np.ndarray[Any, np.dtype[np.float64]] = probs / sums[:, None]
    return normalized


def next_label_error(project: Project, principal: Principal) -> dict[str, Any] | None:
    """The oldest open suspected label error on a task the caller did not answer, with its answers."""
    with project.store.read() as conn:
        flag = qrepo.next_flag(conn, project.id, principal.user_id)
        if flag is None:
            return None
        answers = repo.task_annotations(conn, int(flag["task_id"]))
        record = repo.record_for_task(conn, int(flag["record_id"]))
        names = repo.user_names(conn, project.id)
    return {
        "kind": "label_error",
        "reason": REASON,
        "flag_id": int(flag["id"]),
        "task_id": int(flag["task_id"]),
        "question": flag["question"],
        "given": flag["given"],
        "suggested": flag["suggested"],
        "score": float(flag["score"]),
        "record": {
            "id": int(flag["record_id"]),
            "payload": project.payload(record["payload"], record["blob_ref"]),
        },
        "annotations": [
            {
                "annotation_id": int(a["id"]),
                "author": names.get(int(a["user_id"]), str(a["user_id"])),
                "value": orjson.loads(a["value"]),
                "status": a["status"],
            }
            for a in answers
        ],
    }


def decide_label_error(
    project: Project,
    principal: Principal,
    flag_id: int,
    decision: str,
    value: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Close a suspected label error: ``confirm`` with the corrected ``value`` (it becomes the task's final
    value, method ``corrected``) or ``dismiss`` (the label stands). Nobody decides on a task they answered."""
    if decision not in ("confirm", "dismiss"):
        raise InvalidInputError("decision must be 'confirm' or 'dismiss'")
    if decision == "confirm" and value is None:
        raise InvalidInputError("a 'confirm' carries the corrected value")
    if decision == "dismiss" and value is not None:
        raise InvalidInputError("only a 'confirm' carries a value")
    now = _now()
    with project.store.write() as conn:
        flag = qrepo.get_flag(conn, flag_id, lock=True)
        if flag is None or int(flag["project_id"]) != principal.project_id or int(flag["project_id"]) != project.id:
            raise NotFoundError(f"label-error flag {flag_id} not found")
        if flag["status"] != "open":
            raise ConflictError(f"label-error flag {flag_id} is already {flag['status']}")
        task_id = int(flag["task_id"])
        answers = repo.task_annotations(conn, task_id)
        if any(int(a["user_id"]) == principal.user_id for a in answers):
            raise PermissionDeniedError("nobody re-reviews a task they answered")
        annotation_id: int | None = None
        if value is not None:
            project.store.lock_project(conn, project.id, "final_labels")
            task = repo.get_task(conn, task_id, lock=True)
            if task is None:
                raise NotFoundError(f"task {task_id} not found")
            if task["state"] != "complete":
                raise ConflictError(f"task {task_id} is {task['state']} again: it is being relabeled; dismiss the flag")
            annotation_id, normalized = settle_value(conn, project, task, principal.user_id, value, "corrected", now)
            sv = schema_version(conn, project, int(task["schema_version"]))
            rows = [
                _final_row(project, sv.version, task_id, int(task["record_id"]), q, answer, "corrected", 1.0,
                           [annotation_id], now)
                for q in sv.schema.questions
                if (answer := answer_of(q, normalized)) is not None
            ]  # fmt: skip
            qrepo.replace_final_labels(conn, [task_id], rows)
        status = "confirmed" if decision == "confirm" else "dismissed"
        qrepo.decide_flag(conn, flag_id, status=status, by=principal.user_id, at=now, annotation_id=annotation_id)
        repo.audit(
            conn,
            project.id,
            f"user:{principal.name}",
            f"label_error.{decision}",
            str(flag_id),
            reason=(reason or REASON)[:500],
            before=digest_of(flag["given"]),
            after=digest_of(value if value is not None else flag["given"]),
        )
    return {"flag_id": flag_id, "status": status, "task_id": task_id, "annotation_id": annotation_id}


def label_error_report(project: Project) -> dict[str, Any]:
    """How the flags turned out: ``open``, ``confirmed`` (real errors), ``dismissed``, and
    ``precision`` = confirmed / decided (None before any decision), with the latest scans."""
    with project.store.read() as conn:
        counts = qrepo.flag_counts(conn, project.id)
        runs = qrepo.quality_runs_of(conn, project.id, "label_errors", limit=20)
    decided = counts.get("confirmed", 0) + counts.get("dismissed", 0)
    return {
        "open": counts.get("open", 0),
        "confirmed": counts.get("confirmed", 0),
        "dismissed": counts.get("dismissed", 0),
        "precision": round(counts.get("confirmed", 0) / decided, 6) if decided else None,
        "scans": [
            {
                "run_id": int(r["id"]),
                "at": r["finished_at"],
                **{k: v for k, v in orjson.loads(r["summary"]).items() if k != "top"},
            }
            for r in runs
        ],
    }


# ---------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------

LABEL_COLUMN = "label"
SLICE_COLUMN = "slice"
#: ``release:NAME`` or ``release:NAME:SPLIT``: a release's records as the reference sample.
RELEASE_PREFIX = "release:"
#: Embedding drift reads at most this many vectors per window (a seeded sample): the mean direction is
#: well estimated from it, the kernel test subsamples 500 of them anyway, and a window of millions of
#: 768-wide vectors would otherwise be gigabytes.
EMBEDDING_MAX_ROWS = 10_000
#: MMD² at or above this (with the permutation test rejecting) alerts, unless the project sets its own.
EMBEDDING_MMD2_ALERT = FeatureThresholds.mmd2_alert

FloatMatrix = NDArray[np.float64]


def _label_text(value: Mapping[str, Any] | None) -> str | None:
    """A final-label value (``{"label": "sport"}``) as the text label drift compares."""
    if not value:
        return None
    answer = next(iter(value.values()))
    return answer if isinstance(answer, str) else orjson.dumps(answer).decode()


def _window_table(project: Project, rows: Sequence[Mapping[str, Any]], sources: Mapping[int, str]) -> pa.Table:
    """The window's records as columns: configured numeric/categorical payload fields, the text and the
    slice. Values of the wrong kind count as missing, never as an error."""
    spec = project.config.quality.drift
    text_field = project.config.record.text_field if spec.text else None
    payloads = [project.payload(r["payload"], r["blob_ref"]) for r in rows]
    columns: dict[str, pa.Array] = {}
    for name in spec.numeric:
        values = [p.get(name) for p in payloads]
        columns[name] = pa.array(
            [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None for v in values],
            type=pa.float64(),
        )
    for name in spec.categorical:
        columns[name] = pa.array([None if p.get(name) is None else str(p.get(name)) for p in payloads], pa.string())
    if text_field:
        columns[text_field] = pa.array(
            [v if isinstance(v := p.get(text_field), str) else None for p in payloads], pa.string()
        )
    if spec.slice_by == "source":
        columns[SLICE_COLUMN] = pa.array([sources.get(int(r["source_id"]), "?") for r in rows], pa.string())
    elif spec.slice_by:
        field = spec.slice_by
        columns[SLICE_COLUMN] = pa.array(
            [None if p.get(field) is None else str(p.get(field)) for p in payloads], pa.string()
        )
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(rows), pa.int8())})


def parse_release_reference(text: str) -> tuple[str, str | None]:
    """``release:NAME`` -> (NAME, None); ``release:NAME:SPLIT`` -> (NAME, SPLIT).

    Raises :class:`InvalidInputError` for any other text.

    Example::

        >>> parse_release_reference("release:v3:train")
        ('v3', 'train')
    """
    if not text.startswith(RELEASE_PREFIX):
        raise InvalidInputError(f"a drift reference is a time window or release:NAME[:SPLIT], not '{text}'")
    name, sep, split = text[len(RELEASE_PREFIX) :].partition(":")
    if not name or ":" in split or (sep and not split):
        raise InvalidInputError(f"a release reference is release:NAME or release:NAME:SPLIT, not '{text}'")
    return name, split or None


def _release_reference(
    conn: Any, project: Project, name: str, split: str | None
) -> tuple[list[dict[str, Any]], dict[int, str], dict[str, Any], str | None]:
    """The live records of release ``name`` (one split of it when given), their labels in the release
    (its main question), the description kept with the report, and that question's name."""
    release = rrepo.get_release(conn, project.id, name)
    if release is None:
        raise NotFoundError(f"release '{name}' not found in project {project.name}")
    counts = qrepo.release_split_counts(conn, int(release["id"]))
    if split is not None and split not in counts:
        raise InvalidInputError(
            f"release '{name}' has no records in split '{split}' (its splits: {', '.join(sorted(counts)) or 'none'})"
        )
    question = orjson.loads(release["params"]).get("question")
    rows = qrepo.release_records(conn, int(release["id"]), split=split)
    labels: dict[int, str] = {}
    for row in rows:
        text = _label_text(orjson.loads(row.pop("labels")).get(question)) if question else None
        if text is not None:
            labels[int(row["id"])] = text
    described = {
        "kind": "release",
        "release": name,
        "split": split,
        "release_id": int(release["id"]),
        "manifest_sha256": release["manifest_sha256"],
        "created_at": release["created_at"],
        "release_records": counts.get(split, 0) if split is not None else sum(counts.values()),
        "question": question,
    }
    return rows, labels, described, question


def _thresholds(spec: DriftSpec) -> tuple[FeatureThresholds, FeatureThresholds, FeatureThresholds]:
    """Thresholds of the record features, of a model's predictions and of its embeddings.

    Predictions alert on their predicted-class distribution (``prediction_js_alert``, default
    ``js_alert``) and on their confidence (``prediction_psi_alert`` / ``prediction_ks_alert``, default
    ``psi_alert`` / ``ks_alert``); embeddings on MMD² (``embedding_mmd2_alert``, default
    :data:`EMBEDDING_MMD2_ALERT`) and, when set, on the cosine distance of the means
    (``embedding_cosine_alert``). Every rule also needs its test to reject at p < 0.01.
    """

    def rules(psi: float, ks: float, js: float) -> FeatureThresholds:
        return FeatureThresholds(
            psi_alert=psi,
            psi_warn=min(psi, FeatureThresholds.psi_warn),
            ks_alert=ks,
            ks_warn=min(ks, FeatureThresholds.ks_warn),
            js_alert=js,
            js_warn=min(js, FeatureThresholds.js_warn),
        )

    default = rules(spec.psi_alert, spec.ks_alert, spec.js_alert)
    prediction = rules(
        spec.prediction_psi_alert or spec.psi_alert,
        spec.prediction_ks_alert or spec.ks_alert,
        spec.prediction_js_alert or spec.js_alert,
    )
    mmd2 = spec.embedding_mmd2_alert or EMBEDDING_MMD2_ALERT
    cosine = spec.embedding_cosine_alert
    embedding = FeatureThresholds(
        mmd2_alert=mmd2,
        mmd2_warn=min(mmd2, FeatureThresholds.mmd2_warn),
        cosine_alert=cosine,
        cosine_warn=None if cosine is None else cosine / 2,
    )
    return default, prediction, embedding


def _resolve_model(conn: Any, project: Project, model: str | None, version: str | None) -> tuple[str, str] | None:
    """(model, version) whose predictions a drift report compares: the given ones, else the model with the
    newest predictions and its newest version; None when the project has no predictions at all."""
    name = model or lrepo.newest_model(conn, project.id)
    if name is None:
        if version is not None:
            raise NotFoundError(f"project {project.name} has no predictions (model version '{version}' asked)")
        return None
    versions = lrepo.model_versions_of(conn, project.id, name)
    if not versions:
        raise NotFoundError(f"model '{name}' has no predictions in project {project.name}")
    if version is None:
        return name, versions[0]
    if version not in versions:
        shown = ", ".join(versions[:10]) + (", ..." if len(versions) > 10 else "")
        raise NotFoundError(f"model '{name}' has no version '{version}' (versions, newest first: {shown})")
    return name, version


def _vectors(blobs: Sequence[bytes | None]) -> FloatMatrix:
    """float32 embedding bytes as an (n, d) float64 matrix; d is the most common width, other rows are NaN."""
    decoded = [None if b is None else np.frombuffer(b, dtype=np.float32) for b in blobs]
    widths = Counter(v.size for v in decoded if v is not None)
    width = widths.most_common(1)[0][0] if widths else 1
    out = np.full((len(decoded), width), np.nan)
    for i, vector in enumerate(decoded):
        if vector is not None and vector.size == width:
            out[i] = vector
    return out


def _sample(positions: list[int], size: int, rng: np.random.Generator) -> list[int]:
    if len(positions) <= size:
        return positions
    return sorted(int(positions[i]) for i in rng.choice(len(positions), size=size, replace=False))


def _subset_report(
    project: Project,
    name: str,
    kind: Literal["label", "prediction", "embedding"],
    ref: tuple[pa.Table, Sequence[int], Any],
    cur: tuple[pa.Table, Sequence[int], Any],
    thresholds: FeatureThresholds,
    seed: int,
) -> DriftReport:
    """Drift of one feature that only some records of each window have (a final label, a prediction, an
    embedding), per slice too. Each side is (window table, positions of those records in it, the feature's
    values for them)."""
    spec = project.config.quality.drift
    sliced = SLICE_COLUMN if spec.slice_by else None
    frames: list[dict[str, Any]] = []
    for table, at, values in (ref, cur):
        frame: dict[str, Any] = {name: values}
        if sliced:
            frame[SLICE_COLUMN] = table.column(SLICE_COLUMN).take(pa.array(at, pa.int64()))
        frames.append(frame)
    return drift_report(
        frames[0], frames[1], columns=[], thresholds=DriftThresholds(default=thresholds), slice_by=sliced,
        min_slice_rows=spec.min_slice_rows, seed=seed, label=name if kind == "label" else None,
        prediction=name if kind == "prediction" else None, embeddings=[name] if kind == "embedding" else None,
    )  # fmt: skip


def _too_few(name: str, kind: str, what: str, n_ref: int, n_cur: int, min_rows: int) -> dict[str, Any]:
    """A feature left out of a report for want of records, and why."""
    return {
        "feature": name,
        "kind": kind,
        "reason": f"{n_ref} reference and {n_cur} current records {what}; drift needs at least {min_rows} in "
        "each (quality.drift.min_rows)",
    }


class _ModelDrift:
    """The drift reports of one model version's predictions and embeddings, and what was skipped."""

    def __init__(self, model: str, version: str) -> None:
        self.reports: list[DriftReport] = []
        self.classes: list[str] = []
        self.skipped: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {"model": model, "version": version}


def _model_drift(
    project: Project,
    model: str,
    version: str,
    ref: tuple[Sequence[Mapping[str, Any]], pa.Table],
    cur: tuple[Sequence[Mapping[str, Any]], pa.Table],
    thresholds: tuple[FeatureThresholds, FeatureThresholds],
    seed: int,
) -> _ModelDrift:
    """Prediction drift (predicted class, confidence) over the records of each window the model version
    scored, and embedding drift (mean cosine distance, MMD² with a permutation test) over a seeded sample
    of at most :data:`EMBEDDING_MAX_ROWS` of those with a stored embedding; per slice too."""
    min_rows = project.config.quality.drift.min_rows
    out = _ModelDrift(model, version)
    pred_name, emb_name = f"prediction:{model}", f"embedding:{model}"
    ref_ids = [int(r["id"]) for r in ref[0]]
    cur_ids = [int(r["id"]) for r in cur[0]]
    with project.store.read() as conn:
        ref_probs = qrepo.prediction_probs(conn, project.id, model, version, ref_ids)
        cur_probs = qrepo.prediction_probs(conn, project.id, model, version, cur_ids)
    ref_at = [i for i, rid in enumerate(ref_ids) if rid in ref_probs]
    cur_at = [i for i, rid in enumerate(cur_ids) if rid in cur_probs]
    ref_emb = [i for i in ref_at if ref_probs[ref_ids[i]][1]]
    cur_emb = [i for i in cur_at if cur_probs[cur_ids[i]][1]]
    out.info.update(
        reference_scored=len(ref_at), current_scored=len(cur_at),
        reference_embedded=len(ref_emb), current_embedded=len(cur_emb),
    )  # fmt: skip
    if min(len(ref_at), len(cur_at)) < min_rows:
        what = f"have a prediction of model {model} version {version}"
        out.skipped.append(_too_few(pred_name, "prediction", what, len(ref_at), len(cur_at), min_rows))
    else:
        ref_parsed = [orjson.loads(ref_probs[ref_ids[i]][0]) for i in ref_at]
        cur_parsed = [orjson.loads(cur_probs[cur_ids[i]][0]) for i in cur_at]
        out.classes = sorted({str(k) for p in (*ref_parsed, *cur_parsed) for k in p})
        while len(out.classes) < 2:  # a one-class model: a never-predicted column keeps the matrix (n, k >= 2)
            out.classes.append(f"(none{len(out.classes)})")
        column = {c: j for j, c in enumerate(out.classes)}

        def matrix(parsed: Sequence[Mapping[str, Any]]) -> FloatMatrix:
            m = np.zeros((len(parsed), len(out.classes)))
            for i, probs in enumerate(parsed):
                for label, p in probs.items():
                    m[i, column[str(label)]] = float(p)
            return m

        out.reports.append(
            _subset_report(project, pred_name, "prediction", (ref[1], ref_at, matrix(ref_parsed)),
                           (cur[1], cur_at, matrix(cur_parsed)), thresholds[0], seed)
        )  # fmt: skip
    if not ref_emb and not cur_emb:
        return out  # the model stores no embeddings
    if min(len(ref_emb), len(cur_emb)) < max(min_rows, 2):
        what = f"have an embedding of model {model} version {version}"
        out.skipped.append(_too_few(emb_name, "embedding", what, len(ref_emb), len(cur_emb), max(min_rows, 2)))
        return out
    rng = np.random.default_rng(seed)
    ref_emb, cur_emb = _sample(ref_emb, EMBEDDING_MAX_ROWS, rng), _sample(cur_emb, EMBEDDING_MAX_ROWS, rng)
    with project.store.read() as conn:
        ref_vec = qrepo.prediction_embeddings(conn, project.id, model, version, [ref_ids[i] for i in ref_emb])
        cur_vec = qrepo.prediction_embeddings(conn, project.id, model, version, [cur_ids[i] for i in cur_emb])
    vectors = _vectors([*(ref_vec.get(ref_ids[i]) for i in ref_emb), *(cur_vec.get(cur_ids[i]) for i in cur_emb)])
    out.info.update(reference_embeddings_used=len(ref_emb), current_embeddings_used=len(cur_emb))
    out.reports.append(
        _subset_report(project, emb_name, "embedding", (ref[1], ref_emb, vectors[: len(ref_emb)]),
                       (cur[1], cur_emb, vectors[len(ref_emb) :]), thresholds[1], seed)
    )  # fmt: skip
    return out


def _label_drift(
    project: Project,
    ref: tuple[Sequence[Mapping[str, Any]], pa.Table, Mapping[int, str]],
    cur: tuple[Sequence[Mapping[str, Any]], pa.Table, Mapping[int, str]],
    thresholds: FeatureThresholds,
    seed: int,
) -> DriftReport | dict[str, Any]:
    """Drift of the final labels among the records of each window that have one (an unlabeled record is
    not a new class: a release against this week's mostly unlabeled records would always alert); the
    reason it was skipped when a window has fewer than ``min_rows`` labeled records."""
    min_rows = project.config.quality.drift.min_rows
    sides: list[tuple[pa.Table, list[int], pa.Array]] = []
    for rows, table, labels in (ref, cur):
        found = [labels.get(int(r["id"])) for r in rows]
        at = [i for i, label in enumerate(found) if label is not None]
        sides.append((table, at, pa.array([found[i] for i in at], pa.string())))
    n_ref, n_cur = len(sides[0][1]), len(sides[1][1])
    if min(n_ref, n_cur) < min_rows:
        return _too_few(LABEL_COLUMN, "label", "have a final label", n_ref, n_cur, min_rows)
    return _subset_report(project, LABEL_COLUMN, "label", sides[0], sides[1], thresholds, seed)


def drift(
    project: Project,
    *,
    reference: tuple[float, float] | str,
    current: tuple[float, float],
    time_field: str = "ingested",
    model: str | None = None,
    model_version: str | None = None,
    enqueue: int = 0,
    priority: int = 10,
    seed: int = 0,
    actor: str = "cli",
) -> dict[str, Any]:
    """Compare a reference sample of records with the current window feature by feature and per slice
    (``quality.drift`` in labelloop.yaml), store the report and its alerts, and with ``enqueue`` > 0 queue
    up to that many records of the drifted slices of the current window for labeling at ``priority``
    (drift-triggered relabeling).

    ``current`` is a ``[start, end)`` window in epoch seconds, by ingestion or event time (``time_field``).
    ``reference`` is such a window too, or ``"release:NAME"`` / ``"release:NAME:SPLIT"``: the records of
    that release (of one split) still live, with the release's own labels as the reference labels.
    Unknown release: :class:`NotFoundError`; a split the release has no records in:
    :class:`InvalidInputError`.

    Features: the configured numeric and categorical payload fields, the text field, the final label
    (among the records of each window that have one: unlabeled is not a class; with fewer than
    ``min_rows`` of them it is listed in ``skipped_features``); and when the project holds predictions,
    those of ``model`` (default: the model with the newest predictions) at ``model_version`` (default:
    its newest): the predicted class and confidence (feature ``prediction:MODEL``) over the records of
    each window it scored, and, when it stored embeddings, embedding drift (``embedding:MODEL``) over a
    bounded sample. A model feature without ``min_rows`` scored records in each window is listed in
    ``skipped_features`` instead.

    Keys: ``run_id``, ``reference`` (the window, or the release text), ``reference_description`` (kind
    ``window`` or ``release`` with its name, split, id, manifest hash), ``current``, ``time``,
    ``reference_rows``, ``current_rows``, ``model`` (name, version, scored counts; None without
    predictions), ``features`` (each: name, kind, slice, severity, metrics), ``alerts``, ``warnings``,
    ``skipped_slices``, ``skipped_features``, ``enqueued``.
    """
    if time_field not in ("ingested", "event"):
        raise InvalidInputError("time must be 'ingested' or 'event'")
    release = parse_release_reference(reference) if isinstance(reference, str) else None
    windows = [("current", current)] if isinstance(reference, str) else [("reference", reference), ("current", current)]
    for name, (start, end) in windows:
        if not start < end:
            raise InvalidInputError(f"the {name} window must start before it ends")
    started = _now()
    spec = project.config.quality.drift
    release_labels: dict[int, str] = {}
    question: str | None = None
    with project.store.read() as conn:
        cur_rows = qrepo.window_records(conn, project.id, *current, time_field=time_field)
        sources = repo.source_names(conn, project.id)
        if release is not None:
            ref_rows, release_labels, described, question = _release_reference(conn, project, *release)
        else:
            window = cast(tuple[float, float], reference)
            ref_rows = qrepo.window_records(conn, project.id, *window, time_field=time_field)
            described = {"kind": "window", "start": window[0], "end": window[1], "time": time_field}
        cur_labels = _record_labels(conn, project, question) if spec.labels else {}
        chosen = _resolve_model(conn, project, model, model_version)
    ref_labels = cur_labels if release is None else release_labels
    for name, found in (("reference", ref_rows), ("current", cur_rows)):
        if len(found) < spec.min_rows:
            what = f"the reference ({reference})" if name == "reference" and release else f"the {name} window"
            raise InvalidInputError(
                f"{what} holds {len(found)} records; drift needs at least {spec.min_rows} (quality.drift.min_rows)"
            )
    ref_table = _window_table(project, ref_rows, sources)
    cur_table = _window_table(project, cur_rows, sources)
    text_field = project.config.record.text_field if spec.text else None
    default, for_predictions, for_embeddings = _thresholds(spec)
    record_features = [*spec.numeric, *spec.categorical, *([text_field] if text_field else [])]
    reports: list[DriftReport] = []
    skipped_features: list[dict[str, Any]] = []
    skipped_slices: list[Any] = []
    if record_features:
        report = drift_report(
            ref_table,
            cur_table,
            columns=list(spec.numeric),
            categorical=list(spec.categorical),
            text=[text_field] if text_field else [],
            thresholds=DriftThresholds(default=default),
            slice_by=SLICE_COLUMN if spec.slice_by else None,
            min_slice_rows=spec.min_slice_rows,
            seed=seed,
        )
        reports.append(report)
        skipped_slices = [s.value for s in report.skipped_slices]
    if spec.labels:
        labeled = _label_drift(
            project, (ref_rows, ref_table, ref_labels), (cur_rows, cur_table, cur_labels), default, seed
        )
        if isinstance(labeled, DriftReport):
            reports.append(labeled)
        else:
            skipped_features.append(labeled)
    modeled: _ModelDrift | None = None
    if chosen is not None:
        modeled = _model_drift(
            project, *chosen, (ref_rows, ref_table), (cur_rows, cur_table), (for_predictions, for_embeddings), seed
        )
        reports += modeled.reports
        skipped_features += modeled.skipped
    classes = modeled.classes if modeled is not None else []
    features = [_feature_view(f, classes) for r in reports for f in r.features]
    features += [_feature_view(f, classes) for r in reports for f in r.slices]
    flagged = [_alert_view(a) for r in reports for a in r.alerts if a.slice is None]
    flagged += [_alert_view(a) for r in reports for a in r.alerts if a.slice is not None]
    alerts = [a for a in flagged if a["severity"] == "alert"]
    warnings = [a for a in flagged if a["severity"] != "alert"]
    now = _now()
    enqueued = 0
    model_info = None if modeled is None else modeled.info
    summary = {
        "reference_rows": len(ref_rows),
        "current_rows": len(cur_rows),
        "model": model_info,
        "alerts": alerts,
        "warnings": warnings,
        "features": features,
        "skipped_slices": skipped_slices,
        "skipped_features": skipped_features,
    }
    reference_param: list[float] | str = reference if isinstance(reference, str) else list(reference)
    with project.store.write() as conn:
        run_id = qrepo.add_quality_run(
            conn,
            project_id=project.id,
            kind="drift",
            started_at=started,
            actor=actor,
            params={
                "reference": reference_param,
                "reference_description": described,
                "current": current,
                "time": time_field,
                "model": None if chosen is None else {"model": chosen[0], "version": chosen[1]},
                "enqueue": enqueue,
            },
            summary=summary,
        )
        qrepo.add_drift_alerts(
            conn,
            [
                {
                    "project_id": project.id,
                    "run_id": run_id,
                    "feature": a["feature"][:128],
                    "kind": a["kind"][:16],
                    "slice": None if a["slice"] is None else a["slice"][:256],
                    "severity": a["severity"][:8],
                    "reasons": orjson.dumps(a["reasons"]).decode(),
                    "at": now,
                }
                for a in flagged
            ],
        )
        repo.audit(
            conn, project.id, actor, "drift.report", str(run_id), alerts=len(alerts), warnings=len(warnings),
            reference=reference_param if isinstance(reference_param, str) else "window",
        )  # fmt: skip
    if enqueue and alerts:
        enqueued = _enqueue_drifted(project, cur_rows, alerts, sources, enqueue, priority, seed, run_id, actor)
        if enqueued:
            with project.store.write() as conn:
                qrepo.mark_alerts_enqueued(conn, run_id, enqueued)
    return {
        "run_id": run_id,
        "reference": reference_param,
        "reference_description": described,
        "current": list(current),
        "time": time_field,
        **summary,
        "enqueued": enqueued,
    }


def _slice_text(found: tuple[str, Any] | None) -> str | None:
    return None if found is None else str(found[1])


def _feature_view(feature: FeatureDrift, classes: Sequence[str] = ()) -> dict[str, Any]:
    """A feature as reported; a prediction feature's classes by name instead of column index."""
    view = feature.to_dict()
    view["slice"] = _slice_text(feature.slice)
    if feature.kind == "prediction" and classes:

        def name(index: Any) -> Any:
            return classes[index] if isinstance(index, int) and 0 <= index < len(classes) else index

        metrics = view["metrics"]
        for key in ("class_new_categories", "class_vanished_categories"):
            if isinstance(metrics.get(key), list):
                metrics[key] = [name(i) for i in metrics[key]]
        for change in metrics.get("class_top_changes") or []:
            change["category"] = name(change.get("category"))
        metrics["classes"] = list(classes)
    return view


def _alert_view(alert: DriftAlert) -> dict[str, Any]:
    return {
        "feature": alert.feature,
        "kind": alert.kind,
        "severity": alert.severity,
        "slice": _slice_text(alert.slice),
        "reasons": list(alert.reasons),
    }


def _record_labels(conn: Any, project: Project, question: str | None = None) -> dict[int, str]:
    """Record id -> its final label on ``question`` (default: the main question) as text, for label drift."""
    if question is None:
        found = current_version(conn, project)
        if found is None:
            return {}
        question = main_question(found.schema).name
    out: dict[int, str] = {}
    for row in qrepo.final_label_rows(conn, project.id):
        if row["question"] == question and (text := _label_text(orjson.loads(row["value"]))) is not None:
            out[int(row["record_id"])] = text
    return out


def _enqueue_drifted(
    project: Project,
    cur_rows: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    sources: Mapping[int, str],
    budget: int,
    priority: int,
    seed: int,
    run_id: int,
    actor: str,
) -> int:
    """Queue up to ``budget`` unlabeled records of the current window's drifted slices (all of it when an
    alert is not sliced); a random sample, seeded."""
    slices = {a.get("slice") for a in alerts}
    field = project.config.quality.drift.slice_by
    if None in slices or not field:
        pool = [int(r["id"]) for r in cur_rows]
    else:

        def slice_of(row: Mapping[str, Any]) -> str | None:
            if field == "source":
                return sources.get(int(row["source_id"]))
            value = project.payload(row["payload"], row["blob_ref"]).get(field)
            return None if value is None else str(value)

        pool = [int(r["id"]) for r in cur_rows if slice_of(r) in slices]
    with project.store.read() as conn:
        found = current_version(conn, project)
        version = found.version if found is not None else None
        eligible = repo.eligible_records(conn, project.id, version, among=pool) if version is not None else pool
    if not eligible:
        return 0
    rng = np.random.default_rng(seed)
    chosen = sorted(int(x) for x in rng.choice(np.asarray(eligible), size=min(budget, len(eligible)), replace=False))
    created = create_tasks(
        project,
        ids=chosen,
        priority=priority,
        reason={"drift_run": run_id, "slices": sorted(str(s) for s in slices if s is not None)},
        actor=actor,
    )
    return int(created["created"])


def drift_history(project: Project, *, limit: int = 20) -> list[dict[str, Any]]:
    """The recorded drift reports, newest first: reference (a window, or ``release:NAME[:SPLIT]``, with its
    description), current window, model compared, row counts, alerts and warnings."""
    with project.store.read() as conn:
        runs = qrepo.quality_runs_of(conn, project.id, "drift", limit=limit)
    out: list[dict[str, Any]] = []
    for run in runs:
        summary = orjson.loads(run["summary"])
        params = orjson.loads(run["params"])
        out.append(
            {
                "run_id": int(run["id"]),
                "at": run["finished_at"],
                "reference": params["reference"],
                "reference_description": params.get("reference_description"),
                "current": params["current"],
                "model": params.get("model"),
                "reference_rows": summary.get("reference_rows"),
                "current_rows": summary.get("current_rows"),
                "alerts": summary.get("alerts", []),
                "warnings": summary.get("warnings", []),
            }
        )
    return out
