"""Predictions, the baseline model and selection strategies in the product, on SQLite and PostgreSQL:
predictions imported per model version (bad rows reported, good ones kept), the baseline trained on
final labels scoring the pool, and `tasks create --strategy` choosing from the latest predictions with
the selection and each item's score kept on its task."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.errors import InvalidInputError
from labelloop.governance.service import add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.service import create_tasks_by_strategy, import_predictions, train_baseline
from labelloop.project import Project
from labelloop.quality import service as quality
from tests.conftest import ProjectFactory
from tests.integration.test_api import assert_problem, bearer
from tests.integration.test_labeling import LABELS, labeling_config, principal
from tests.integration.test_quality import label_all, record_ids


def seed_topics(project: Project, n: int, seed: int = 3) -> dict[int, str]:
    """``n`` short texts whose words give their topic away; returns record id -> topic."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = LABELS[i % 5]
        rows.append({"id": f"r{i}", "text": f"{topic} {topic}word news {rng.randrange(10_000)} about {topic}stuff"})
    push_records(project, orjson.dumps(rows))
    return {rid: LABELS[i % 5] for i, rid in enumerate(record_ids(project))}


def probs_for(label_weights: dict[str, float]) -> dict[str, float]:
    total = sum(label_weights.values())
    return {k: v / total for k, v in label_weights.items()}


def test_import_keeps_good_rows_and_reports_bad_ones(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config())
    truth = seed_topics(project, 5)
    ids = sorted(truth)
    good = {"record_id": ids[0], "model": "m", "model_version": "1", "probs": {"sport": 0.7, "tech": 0.3}}
    rows: list[Any] = [
        good,
        {**good, "record_id": ids[1], "probs": {"cooking": 1.0}},
        {**good, "record_id": ids[2], "probs": {"sport": 0.7, "tech": 0.7}},
        {**good, "record_id": 10_000_000},
        None,
        {**good, "record_id": ids[3], "embedding": [0.1, 0.2, float("nan")]},
        {**good, "record_id": ids[4], "embedding": [0.5, 0.5, 0.1]},
    ]
    result = import_predictions(project, rows)
    assert result["imported"] == 2 and result["rejected_count"] == 5
    reasons = {r["row"]: r["reason"] for r in result["rejected"]}
    assert "cooking" in reasons[2] and "sum to 1" in reasons[3] and "not in this project" in reasons[4]
    assert "object" in reasons[5] and "finite" in reasons[6]
    # the same record and version again replaces, never doubles
    import_predictions(project, [{**good, "probs": {"sport": 0.1, "tech": 0.9}}])
    with project.store.read() as conn:
        stored = conn.execute(text("SELECT probs FROM predictions WHERE record_id = :r"), {"r": ids[0]}).all()
    assert len(stored) == 1 and orjson.loads(stored[0][0])["tech"] == pytest.approx(0.9)


def test_uncertainty_strategies_choose_from_the_newest_predictions(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config())
    truth = seed_topics(project, 10)
    ids = sorted(truth)
    with pytest.raises(InvalidInputError, match="needs predictions"):
        create_tasks_by_strategy(project, strategy="entropy", budget=2)
    # version 1: record 3 and 7 are the least sure; version 2 (newer) says 5 and 8
    older = [
        {"record_id": rid, "model": "m", "model_version": "1",
         "probs": probs_for({"sport": 0.5, "tech": 0.5} if i in (3, 7) else {"sport": 0.95, "tech": 0.05})}
        for i, rid in enumerate(ids)
    ]  # fmt: skip
    import_predictions(project, older)
    newer = [
        {"record_id": rid, "model": "m", "model_version": "2",
         "probs": probs_for({"sport": 0.5, "tech": 0.5} if i in (5, 8) else {"sport": 0.95, "tech": 0.05})}
        for i, rid in enumerate(ids)
    ]  # fmt: skip
    import_predictions(project, newer)
    made = create_tasks_by_strategy(project, strategy="least_confidence", budget=2)
    assert made["created"] == 2 and made["model_versions"] == ["2"]
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT record_id, selection FROM tasks ORDER BY record_id")).all()
    assert [int(r[0]) for r in rows] == [ids[5], ids[8]]
    selection = orjson.loads(rows[0][1])
    assert selection["strategy"] == "least_confidence" and selection["reason"]["model"] == "m"
    assert selection["score"] == pytest.approx(0.5)  # 1 - max p: why this item
    # an explicit older version; already-tasked records are never chosen again
    again = create_tasks_by_strategy(project, strategy="margin", budget=2, model_version="1")
    assert again["created"] == 2
    with project.store.read() as conn:
        chosen = {int(r[0]) for r in conn.execute(text("SELECT record_id FROM tasks"))}
    assert {ids[3], ids[7]} <= chosen
    # a committee of the two versions disagrees nowhere on the rest: vote entropy still fills the budget
    committee = create_tasks_by_strategy(project, strategy="vote_entropy", budget=3)
    assert committee["created"] == 3 and committee["model_versions"] == ["2", "1"]
    for strategy in ("diversity", "hybrid"):
        assert create_tasks_by_strategy(project, strategy=strategy, budget=1)["created"] == 1
    with pytest.raises(InvalidInputError, match="unknown strategy"):
        create_tasks_by_strategy(project, strategy="vibes", budget=1)
    with pytest.raises(InvalidInputError, match="no version"):
        create_tasks_by_strategy(project, strategy="entropy", budget=1, model_version="9")


def test_baseline_trains_on_final_labels_and_scores_the_pool(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config(overlap=1))
    truth = seed_topics(project, 80)
    with pytest.raises(InvalidInputError, match="at least two classes"):
        train_baseline(project)
    create_tasks(project, budget=40, seed=1)
    label_all(project, [principal(project, "ann")], lambda _, rid: truth[rid])
    quality.aggregate(project)
    trained = train_baseline(project)
    assert trained["trained_on"] == 40 and trained["scored"] == 40
    assert train_baseline(project)["model_version"] == trained["model_version"]  # same labels, same version
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT record_id, probs FROM predictions")).all()
    assert len(rows) == 40
    right = sum(max(p := orjson.loads(probs), key=p.get) == truth[int(rid)] for rid, probs in rows)
    assert right >= 36  # the texts give their topic away
    assert trained["trained_from"] == "final_labels"
    made = create_tasks_by_strategy(project, strategy="hybrid", budget=10)
    assert made["created"] == 10 and made["model"] == "baseline:tfidf-logreg"

    # once a release exists, training uses it: its train and validation rows, evaluated on its test rows
    from labelloop.releases.service import create_release

    release = create_release(project, "r1", train=0.6, validation=0.2, test=0.2)
    from_release = train_baseline(project)
    assert from_release["trained_from"] == "r1"
    assert from_release["trained_on"] + from_release["tested_on"] == release["records"] == 40
    assert from_release["test_accuracy"] >= 0.8 and from_release["model_version"] != trained["model_version"]

    # any model plugs in through fit / predict_proba / classes_
    class Constant:
        classes_: Any = None

        def fit(self, texts: list[str], labels: list[int]) -> Constant:
            self.classes_ = sorted(set(labels))
            return self

        def predict_proba(self, texts: list[str]) -> Any:
            import numpy as np

            return np.full((len(texts), len(self.classes_)), 1 / len(self.classes_))

    plugged = train_baseline(project, model_factory=lambda seed: Constant(), model_name="constant")
    assert plugged["model"] == "constant" and plugged["scored"] == 30
    with project.store.read() as conn:
        probs = conn.execute(text("SELECT probs FROM predictions WHERE model = 'constant' LIMIT 1")).scalar_one()
    assert orjson.loads(probs) == pytest.approx({label: 0.2 for label in LABELS})


def test_predictions_and_strategies_over_http_and_cli(
    make_project: ProjectFactory, db_url: str, tmp_path: Path
) -> None:
    project = make_project(labeling_config())
    truth = seed_topics(project, 6)
    ids = sorted(truth)
    steward = add_user(project, "stew", "steward")["token"]
    annotator = add_user(project, "ann", "annotator")["token"]
    client = TestClient(create_app(project))
    base = f"/api/v1/projects/{project.name}"
    rows = [
        {"record_id": rid, "model": "m", "model_version": "1", "probs": probs_for({"sport": 1 + i, "tech": 1})}
        for i, rid in enumerate(ids)
    ]
    assert_problem(client.post(f"{base}/predictions", json=rows, headers=bearer(annotator)), 403)
    done = client.post(f"{base}/predictions", json=[*rows, {"record_id": "x"}], headers=bearer(steward))
    assert done.status_code == 200 and done.json()["imported"] == 6 and done.json()["rejected_count"] == 1
    assert_problem(client.post(f"{base}/train", json={}, headers=bearer(steward)), 422)  # no final labels yet
    made = client.post(f"{base}/tasks", json={"strategy": "entropy", "budget": 2}, headers=bearer(steward))
    assert made.status_code == 201 and made.json()["created"] == 2
    assert_problem(client.post(f"{base}/tasks", json={"strategy": "entropy"}, headers=bearer(steward)), 422)

    path = tmp_path / "preds.jsonl"
    path.write_bytes(
        b"\n".join(orjson.dumps({"record_id": rid, "probs": probs_for({"tech": 2, "sport": 1})}) for rid in ids)
        + b"\nnot json\n"
    )
    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    from labelloop.cli.main import app

    result = runner.invoke(
        app,
        ["predictions", "import", str(path), "--model", "m", "--model-version", "2", "--json", "-C", str(project.dir)],
    )
    assert result.exit_code == 0, result.output
    imported = orjson.loads(result.stdout)
    assert imported["imported"] == 6 and imported["rejected"] == [{"row": 7, "reason": "a prediction is an object"}]
    result = runner.invoke(
        app, ["tasks", "create", "--strategy", "margin", "--budget", "1", "--json", "-C", str(project.dir)]
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["model_versions"] == ["2"]
    result = runner.invoke(app, ["tasks", "create", "--strategy", "entropy", "-C", str(project.dir)])
    assert result.exit_code == 1 and "needs a --budget" in result.output
