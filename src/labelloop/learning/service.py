"""Predictions in, models trained, and the strategies that choose what to label next.

- ``import_predictions``: a model's class probabilities (and optional embedding) per
  record, stored per model name and version; bad rows are reported with their line
  and reason and skipped, the good ones around them are kept.
- ``train_baseline``: the built-in TF-IDF + logistic-regression model (or any
  :class:`TextModel`) trained on the latest release (before the first one: the final
  labels) of the main single-label question, scoring every accepted record that has no
  task yet; its version is a digest of what it learned from, so training twice on the
  same labels stores the same version once.
- ``create_tasks_by_strategy``: ``labelloop tasks create --strategy S --budget N``
  for every strategy: ``random`` or one that reads the latest predictions
  (``least_confidence``, ``margin``, ``entropy``, ``vote_entropy`` over the latest
  versions of a model, ``diversity`` over embeddings or TF-IDF vectors, ``hybrid``
  with per-source quotas), optionally cost-aware (text length) and
  freshness-weighted. The selection — strategy, parameters, model version and each
  item's score — is kept with every task it created.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import orjson
from sqlalchemy import Connection

from labelloop.domain.probabilities import ROW_SUM_TOLERANCE
from labelloop.errors import ConfigError, InvalidInputError
from labelloop.labeling.schemas import configured_schema
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.baseline import MODEL_NAME, text_classifier
from labelloop.learning.strategies import STRATEGIES, select
from labelloop.project import Project
from labelloop.store import learning as lrepo
from labelloop.store import quality as qrepo
from labelloop.store import repo

__all__ = [
    "TextModel",
    "create_tasks_by_strategy",
    "import_predictions",
    "latest_prediction",
    "record_texts",
    "record_training",
    "train_baseline",
]

_MAX_EMBEDDING = 4096


def _main_labels(project: Project, question: str | None = None) -> tuple[str, list[str]]:
    schema = configured_schema(project)
    for q in schema.questions:
        if (question is None and q.type == "single") or q.name == question:
            if q.type != "single":
                raise InvalidInputError(f"question '{q.name}' is {q.type}; predictions are for single-label questions")
            return q.name, list(q.labels)
    raise InvalidInputError("the label schema has no single-label question for predictions")


def _check_row(row: Any, labels: Sequence[str]) -> tuple[int, str, str, dict[str, float], bytes | None]:
    """A validated prediction row; ``InvalidInputError`` says what is wrong with it."""
    if not isinstance(row, Mapping):
        raise InvalidInputError("a prediction is an object")
    try:
        record_id = int(row["record_id"])
        model = str(row.get("model") or "").strip()
        version = str(row.get("model_version") or "").strip()
        probs = {str(k): float(v) for k, v in dict(row["probs"]).items()}
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError("expected record_id, model, model_version and probs {label: probability}") from None
    if not model or not version or len(model) > 128 or len(version) > 64:
        raise InvalidInputError("model (1-128 characters) and model_version (1-64) are required")
    unknown = sorted(set(probs) - set(labels))
    if unknown:
        raise InvalidInputError(f"unknown label(s) {unknown} (labels: {', '.join(labels)})")
    values = list(probs.values())
    if any(not math.isfinite(p) or p < 0 for p in values) or abs(sum(values) - 1.0) > ROW_SUM_TOLERANCE:
        raise InvalidInputError("probabilities must be finite, non-negative and sum to 1")
    embedding = row.get("embedding")
    packed = None
    if embedding is not None:
        try:
            vector = np.asarray(embedding, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidInputError("embedding must be a list of numbers") from None
        if vector.ndim != 1 or not 1 <= vector.size <= _MAX_EMBEDDING or not np.isfinite(vector).all():
            raise InvalidInputError(f"embedding must be 1 to {_MAX_EMBEDDING} finite numbers")
        packed = vector.tobytes()
    return record_id, model, version, probs, packed


def import_predictions(project: Project, rows: Iterable[Any], *, question: str | None = None) -> dict[str, Any]:
    """Store predictions ``{record_id, model, model_version, probs, embedding?}``; a row for a record and
    model version already stored replaces it. Returns ``imported``, ``rejected`` (each with its 1-based
    ``row`` and ``reason``), and the model versions seen."""
    _, labels = _main_labels(project, question)
    good: list[tuple[int, dict[str, Any]]] = []  # (row number, row)
    rejected: list[dict[str, Any]] = []
    now = time.time()
    for number, row in enumerate(rows, 1):
        try:
            record_id, model, version, probs, embedding = _check_row(row, labels)
        except InvalidInputError as exc:
            rejected.append({"row": number, "reason": exc.message})
            continue
        good.append(
            (number, {
                "project_id": project.id,
                "record_id": record_id,
                "model": model,
                "model_version": version,
                "probs": orjson.dumps(probs, option=orjson.OPT_SORT_KEYS).decode(),
                "embedding": embedding,
                "created_at": now,
            })
        )  # fmt: skip
    with project.store.write() as conn:
        known = lrepo.project_record_ids(conn, project.id, sorted({g["record_id"] for _, g in good}))
        kept = []
        for number, g in good:
            if g["record_id"] in known:
                kept.append(g)
            else:
                rejected.append({"row": number, "reason": f"record {g['record_id']} is not in this project"})
        lrepo.upsert_predictions(conn, kept)
        versions = sorted({(g["model"], g["model_version"]) for g in kept})
        repo.audit(conn, project.id, "import", "predictions.import", None, imported=len(kept), rejected=len(rejected))
    return {
        "imported": len(kept),
        "rejected": sorted(rejected, key=lambda r: int(r["row"]))[:1000],
        "rejected_count": len(rejected),
        "models": [{"model": m, "model_version": v} for m, v in versions],
    }


def record_texts(project: Project, conn: Connection, record_ids: Sequence[int]) -> list[str]:
    """The text field of each record (``""`` where it has none), large payloads read from the blob store."""
    field = project.config.record.text_field
    if not field:
        raise InvalidInputError("the baseline model needs record.text_field in labelloop.yaml (or your predictions)")
    payloads = qrepo.record_payloads(conn, record_ids)
    out: list[str] = []
    for rid in record_ids:
        value = project.payload(*payloads.get(rid, (None, None))).get(field)
        out.append(value if isinstance(value, str) else "")
    return out


class TextModel(Protocol):
    """What a model needs to plug into ``train_baseline``: scikit-learn's ``fit`` / ``predict_proba`` over
    texts and class indices, with the classes it saw in ``classes_``."""

    classes_: Any

    def fit(self, texts: list[str], labels: list[int]) -> Any:
        """Learn from ``texts`` and their class indices."""

    def predict_proba(self, texts: list[str]) -> Any:
        """An (N, len(classes_)) array of probabilities."""


def train_baseline(
    project: Project,
    *,
    question: str | None = None,
    seed: int = 0,
    model_factory: Callable[[int], TextModel] | None = None,
    model_name: str = MODEL_NAME,
) -> dict[str, Any]:
    """Train a text model on the latest release (its train and validation rows; evaluated on its test
    rows) — or, before the first release, on the current final labels — and store its predictions for
    every accepted record without a task (the pool the strategies choose from).

    ``model_factory(seed)`` returns any :class:`TextModel` (default: the built-in TF-IDF + logistic
    regression). The version is a digest of what it learned from, so training twice on the same labels
    stores one version. Returns ``model``, ``model_version``, ``trained_from`` (a release name or
    ``final_labels``), ``trained_on``, ``classes``, ``scored`` and, with a release, ``test_accuracy`` and
    ``test_macro_f1``.
    """
    from sklearn.metrics import accuracy_score, f1_score

    started = time.time()
    name, labels = _main_labels(project, question)
    with project.store.read() as conn:
        release, rows = lrepo.latest_release_rows(conn, project.id)
        if release is not None:
            training = [(rid, label) for rid, split, label in rows if split != "test" and label in labels]
            testing = [(rid, label) for rid, split, label in rows if split == "test" and label in labels]
        else:
            finals = [r for r in qrepo.final_label_rows(conn, project.id) if r["question"] == name]
            training = [(int(r["record_id"]), orjson.loads(r["value"]).get("label")) for r in finals]
            training = [(rid, label) for rid, label in training if label in labels]
            testing = []
        if len({label for _, label in training}) < 2:
            raise InvalidInputError("the baseline needs labels of at least two classes: run `labelloop aggregate`")
        texts = record_texts(project, conn, [rid for rid, _ in training])
        test_texts = record_texts(project, conn, [rid for rid, _ in testing])
        pool = lrepo.untasked_records(conn, project.id)
        pool_texts = record_texts(project, conn, pool)
    digest = hashlib.blake2b(orjson.dumps([release, sorted(training)]), digest_size=6).hexdigest()
    version = f"{digest}-s{seed}"
    model = (model_factory or text_classifier)(seed)
    try:
        model.fit(texts, [labels.index(label) for _, label in training])
    except ValueError as exc:
        raise InvalidInputError(f"the model cannot learn from these texts: {exc}") from None
    classes = [int(c) for c in model.classes_]
    evaluation: dict[str, Any] = {}
    if testing:
        predicted = [classes[int(i)] for i in np.argmax(model.predict_proba(test_texts), axis=1)]
        expected = [labels.index(label) for _, label in testing]
        evaluation = {
            "test_accuracy": round(float(accuracy_score(expected, predicted)), 4),
            "test_macro_f1": round(float(f1_score(expected, predicted, average="macro")), 4),
            "tested_on": len(testing),
        }
    now = time.time()
    stored: list[dict[str, Any]] = []
    for start in range(0, len(pool), 20_000):
        part = model.predict_proba(pool_texts[start : start + 20_000])
        for rid, p in zip(pool[start : start + 20_000], part, strict=True):
            total = float(np.sum(p))
            probs = {labels[c]: float(x) / total for c, x in zip(classes, p, strict=True)}
            stored.append(
                {
                    "project_id": project.id,
                    "record_id": rid,
                    "model": model_name,
                    "model_version": version,
                    "probs": orjson.dumps(probs, option=orjson.OPT_SORT_KEYS).decode(),
                    "embedding": None,
                    "created_at": now,
                }
            )
    result = {
        "model": model_name,
        "model_version": version,
        "trained_from": release or "final_labels",
        "trained_on": len(training),
        "classes": [labels[c] for c in classes],
        "scored": len(stored),
        **evaluation,
    }
    with project.store.write() as conn:
        lrepo.upsert_predictions(conn, stored)
        repo.audit(conn, project.id, "train", "model.train", version, model=model_name, trained_on=len(training))
        _record_training(conn, project, result, started, "train", seed=seed)
    return result


def _record_training(
    conn: Any, project: Project, result: Mapping[str, Any], started: float, actor: str, **params: Any
) -> None:
    """Keep a training with its evaluation (the dashboard's learning curve across releases)."""
    qrepo.add_quality_run(
        conn, project_id=project.id, kind="train", started_at=started, actor=actor,
        params={"model": result["model"], "trained_from": result["trained_from"], **params}, summary=dict(result),
    )  # fmt: skip


def record_training(project: Project, result: Mapping[str, Any], *, started: float, actor: str) -> None:
    """Record a model trained outside :func:`train_baseline` (the demo's, or a team's own) with its evaluation.

    ``result`` holds at least ``model``, ``model_version`` and ``trained_from`` (the release it learned
    from), and ``test_accuracy`` / ``test_macro_f1`` / ``tested_on`` when it was evaluated.
    """
    missing = [k for k in ("model", "model_version", "trained_from") if k not in result]
    if missing:
        raise InvalidInputError(f"a training record needs {', '.join(missing)}")
    with project.store.write() as conn:
        _record_training(conn, project, result, started, actor)


def create_tasks_by_strategy(
    project: Project,
    *,
    strategy: str = "random",
    budget: int | None = None,
    model: str | None = None,
    model_version: str | None = None,
    committee: int = 3,
    cost: str | None = None,
    freshness_half_life_days: float | None = None,
    slice_quota: int | None = None,
    seed: int | None = None,
    actor: str = "cli",
    **filters: Any,
) -> dict[str, Any]:
    """``create_tasks`` with any strategy of :mod:`labelloop.learning.strategies`.

    Strategies other than ``random`` read the predictions of ``model`` (default: the model with the
    newest predictions) at ``model_version`` (default: its newest), for the eligible records (the same
    filters as ``create_tasks``); records without a prediction are not chosen. ``vote_entropy`` uses the
    ``committee`` newest versions. ``cost="length"`` divides each score by the text length;
    ``freshness_half_life_days`` halves it per that many days since ingestion. ``hybrid`` keeps at least
    ``slice_quota`` (default: a proportional share) per source.
    """
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"unknown strategy '{strategy}' (strategies: {', '.join(STRATEGIES)})")
    if strategy == "random":
        return create_tasks(project, strategy="random", budget=budget, seed=seed, actor=actor, **filters)
    if budget is None:
        raise InvalidInputError(f"strategy '{strategy}' needs a --budget")
    if cost not in (None, "length"):
        raise InvalidInputError("cost must be 'length'")
    if not 2 <= committee <= 20:
        raise InvalidInputError("committee must be 2 to 20 model versions")
    used: dict[str, Any] = {}

    def choose(conn: Connection, pool: list[int]) -> tuple[list[int], dict[str, Any]]:
        name = model or lrepo.newest_model(conn, project.id)
        if name is None:
            raise InvalidInputError(
                f"strategy '{strategy}' needs predictions: `labelloop train` or `labelloop predictions import`"
            )
        versions = lrepo.model_versions_of(conn, project.id, name)
        if model_version is not None and model_version not in versions:
            raise InvalidInputError(f"model {name} has no version '{model_version}'")
        chosen_versions = [model_version] if model_version else versions[:1]
        if strategy == "vote_entropy":
            chosen_versions = versions[:committee]
            if len(chosen_versions) < 2:
                raise InvalidInputError(f"vote_entropy needs at least two versions of {name}; it has {len(versions)}")
        _, labels = _main_labels(project)
        tables = [lrepo.predictions_of(conn, project.id, name, v, pool) for v in chosen_versions]
        scored = [rid for rid in pool if all(rid in t for t in tables)]
        if not scored:
            return [], {}
        probs = np.array([[tables[0][rid][0].get(label, 0.0) for label in labels] for rid in scored])
        committee_probs = (
            np.stack([np.array([[t[rid][0].get(lab, 0.0) for lab in labels] for rid in scored]) for t in tables])
            if strategy == "vote_entropy"
            else None
        )
        needs_texts = cost == "length" or strategy in ("diversity", "hybrid")
        texts = record_texts(project, conn, scored) if needs_texts else []  # read once, used twice
        features: Any = None
        if strategy in ("diversity", "hybrid"):
            embeddings = [tables[0][rid][1] for rid in scored]
            if all(e is not None for e in embeddings) and len({len(e) for e in embeddings if e is not None}) == 1:
                features = np.stack([np.frombuffer(e, dtype=np.float32) for e in embeddings if e is not None])
            else:
                from sklearn.feature_extraction.text import TfidfVectorizer

                features = TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts)
        info = lrepo.record_info(conn, scored)
        costs = np.array([max(1, len(t)) for t in texts], dtype=np.float64) if cost == "length" else None
        ages = None
        if freshness_half_life_days is not None:
            now = time.time()
            ages = np.array([(now - info[rid][1]) / 86_400.0 for rid in scored])
        sources = repo.source_names(conn, project.id)
        selection = select(
            strategy,
            budget=budget,
            probs=probs if strategy != "vote_entropy" else None,
            committee=committee_probs,
            features=features,
            slices=[sources.get(info[rid][0], "?") for rid in scored] if strategy == "hybrid" else None,
            slice_quota=(slice_quota or "proportional") if strategy == "hybrid" else None,
            costs=costs,
            ages=ages,
            freshness_half_life=freshness_half_life_days,
            model_version=f"{name}@{','.join(chosen_versions)}",
            seed=seed or 0,
        )
        chosen = [scored[int(i)] for i in selection.indices]
        used.update(model=name, model_versions=chosen_versions, scored=len(scored))
        reason = {
            "strategy": strategy,
            "model": name,
            "model_versions": chosen_versions,
            "params": selection.params,
            "scores": {
                str(scored[int(i)]): _finite(s) for i, s in zip(selection.indices, selection.scores, strict=True)
            },
        }
        return chosen, reason

    result = create_tasks(project, strategy=strategy, budget=budget, seed=seed, chooser=choose, actor=actor, **filters)
    return {**result, **used}


def _finite(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def _newest_version(project: Project, conn: Connection) -> tuple[str, str] | None:
    # Two indexed reads of ``model_versions`` (a row per version, kept by every import): a new
    # version shows on the next task at once.
    model = lrepo.newest_model(conn, project.id)
    if model is None:
        return None
    versions = lrepo.model_versions_of(conn, project.id, model)
    return (model, versions[0]) if versions else None


def latest_prediction(project: Project, record_id: int) -> dict[str, Any] | None:
    """The newest model version's prediction for one record, as a suggestion for a labeler; None without one.

    The newest version is the one ``tasks create --strategy`` reads: the newest model's most recent
    version in the project, read on every call, so a version imported a moment ago shows at once. A
    record that version did not
    score has no suggestion, even when an older version scored it. Predictions are for the main
    single-label question (the first ``single`` question of the schema); a project without one has
    no suggestions.

    Returns ``{"question", "model", "model_version", "label", "probability", "probs"}`` where
    ``label`` is the most probable label (ties: the first in label order), ``probability`` its
    probability and ``probs`` every label's, e.g.
    ``{"question": "topic", "model": "m", "model_version": "2", "label": "sport", "probability": 0.82,
    "probs": {"sport": 0.82, "tech": 0.18}}``.
    """
    try:
        question, labels = _main_labels(project)
    except (ConfigError, InvalidInputError):
        return None
    with project.store.read() as conn:
        newest = _newest_version(project, conn)
        if newest is None:
            return None
        model, version = newest
        found = lrepo.predictions_of(conn, project.id, model, version, [int(record_id)])
    if int(record_id) not in found:
        return None
    probs = found[int(record_id)][0]
    ranked = [label for label in labels if label in probs]
    if not ranked:
        return None
    best = max(ranked, key=lambda label: probs[label])  # max keeps the first of equal ones: label order
    return {
        "question": question,
        "model": model,
        "model_version": version,
        "label": best,
        "probability": round(float(probs[best]), 6),
        "probs": {label: round(float(probs[label]), 6) for label in ranked},
    }
