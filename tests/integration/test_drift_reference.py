"""Drift against a release and drift of a model's predictions and embeddings, on SQLite and PostgreSQL.

A release's records (one split of them) are the reference sample, with the release's own labels; an
unknown release is a clear error over the service, the CLI (exit 1, one line) and the HTTP API (404
problem+json). A model's predicted classes and confidence, and its stored embeddings, are features of
the report; each alerts on a planted shift and stays quiet on data from the same distribution.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.errors import InvalidInputError, NotFoundError
from labelloop.governance.service import add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.service import import_predictions
from labelloop.project import Project
from labelloop.quality import service
from labelloop.releases.service import create_release
from tests.conftest import ProjectFactory
from tests.integration.test_api import assert_problem, bearer
from tests.integration.test_labeling import principal
from tests.integration.test_quality import label_all, quality_config

RELEASED = 160  # records in release v1, ingested at t=1000
SHIFTED = (4000.0, 6000.0)  # a window whose amounts moved from ~50 to ~80
SAME = (6000.0, 8000.0)  # a window drawn like the release


def drift_project(make_project: ProjectFactory, **drift: Any) -> Project:
    config = quality_config({"drift": {"numeric": ["amount"], "categorical": ["channel"], "min_rows": 20, **drift}},
                            overlap=1, k_max=1)  # fmt: skip
    config["record"]["fields"].update({"amount": {"type": "number"}, "channel": {"type": "string"}})
    return make_project(config)


def push(project: Project, prefix: str, n: int, mean: float, at: float, rng: random.Random) -> list[int]:
    """``n`` records (amount ~ N(mean, 5), channel a/b, a text of fixed shape) ingested at ``at``; their ids."""
    rows = [
        {"id": f"{prefix}{i}", "text": f"order {prefix}{i:04d} arrived", "amount": rng.gauss(mean, 5),
         "channel": rng.choice("ab")}
        for i in range(n)
    ]  # fmt: skip
    assert push_records(project, orjson.dumps(rows))["new"] == n
    with project.store.write() as conn:
        conn.execute(
            text("UPDATE records SET ingested_at = :t WHERE external_id LIKE :p"), {"t": at, "p": f"{prefix}%"}
        )
        found = conn.execute(text("SELECT id FROM records WHERE external_id LIKE :p ORDER BY id"), {"p": f"{prefix}%"})
        return [int(r[0]) for r in found]


def released_project(make_project: ProjectFactory) -> Project:
    """Release v1: 160 labeled records (sport / tech) at t=1000; then 120 shifted and 120 unshifted
    records (unlabeled) in the windows :data:`SHIFTED` and :data:`SAME`."""
    project = drift_project(make_project)
    rng = random.Random(11)
    push(project, "o", RELEASED, 50.0, 1000.0, rng)
    create_tasks(project, overlap=1, k_max=1)
    label_all(project, [principal(project, "ann")], lambda _p, rid: ("sport", "tech")[rid % 2], rounds=RELEASED + 5)
    assert service.aggregate(project)["labels"] == RELEASED
    assert create_release(project, "v1", train=0.5, validation=0.25, test=0.25)["records"] == RELEASED
    push(project, "s", 120, 80.0, 5000.0, rng)
    push(project, "n", 120, 50.0, 7000.0, rng)
    return project


def split_ids(project: Project, split: str) -> set[int]:
    with project.store.read() as conn:
        rows = conn.execute(
            text("SELECT rr.record_id FROM release_rows rr JOIN releases r ON r.id = rr.release_id "
                 "WHERE r.name = 'v1' AND rr.split = :s"),
            {"s": split},
        )  # fmt: skip
        return {int(r[0]) for r in rows}


def alerted(report: dict[str, Any]) -> set[str]:
    return {a["feature"] for a in report["alerts"]}


def feature(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in report["features"] if f["name"] == name and f["slice"] is None)


# -- a release as the reference ------------------------------------------------------------------------


def test_release_reference_alerts_on_a_planted_shift_and_not_without(make_project: ProjectFactory) -> None:
    project = released_project(make_project)
    shifted = service.drift(project, reference="release:v1", current=SHIFTED)
    assert (shifted["reference_rows"], shifted["current_rows"]) == (RELEASED, 120)
    assert shifted["reference"] == "release:v1"
    described = shifted["reference_description"]
    assert (described["kind"], described["release"], described["split"], described["release_records"]) == (
        "release", "v1", None, RELEASED,
    )  # fmt: skip
    assert "amount" in alerted(shifted) and "channel" not in alerted(shifted) and "text" not in alerted(shifted)
    with project.store.read() as conn:
        stored = {r[0] for r in conn.execute(text("SELECT feature FROM drift_alerts WHERE run_id = :r"),
                                             {"r": shifted["run_id"]})}  # fmt: skip
    assert "amount" in stored

    same = service.drift(project, reference="release:v1", current=SAME)
    assert same["alerts"] == [] and same["reference_rows"] == RELEASED
    assert {"amount", "channel", "text"} <= {f["name"] for f in same["features"]}
    # the current window is unlabeled: no label drift to measure, and no false alert on "missing"
    assert [s["feature"] for s in same["skipped_features"]] == ["label"]

    history = service.drift_history(project)
    assert [h["run_id"] for h in history[:2]] == [same["run_id"], shifted["run_id"]]
    assert history[0]["reference"] == "release:v1"
    assert history[0]["reference_description"]["release_id"] == described["release_id"]
    assert history[1]["alerts"]


def test_release_labels_are_the_reference_labels(make_project: ProjectFactory) -> None:
    project = released_project(make_project)
    old = (0.0, 2000.0)
    before = service.drift(project, reference="release:v1", current=old)  # the release's own records, as labeled
    assert before["alerts"] == [] and feature(before, "label")["severity"] == "ok"
    # the final labels change after the release: the release still says sport / tech
    with project.store.write() as conn:
        conn.execute(text("UPDATE final_labels SET value = :v"), {"v": orjson.dumps({"label": "business"}).decode()})
    after = service.drift(project, reference="release:v1", current=old)
    assert alerted(after) == {"label"}
    assert feature(after, "label")["n_ref"] == feature(after, "label")["n_cur"] == RELEASED
    # the same records as a time window compare today's labels with themselves
    assert service.drift(project, reference=old, current=old)["alerts"] == []


def test_split_restricted_release_reference(make_project: ProjectFactory) -> None:
    project = released_project(make_project)
    test_split, train_split = split_ids(project, "test"), split_ids(project, "train")
    assert len(test_split) >= 20 and len(train_split) >= 20 and not test_split & train_split
    only_test = service.drift(project, reference="release:v1:test", current=SHIFTED)
    assert only_test["reference_rows"] == len(test_split)
    assert only_test["reference_description"]["split"] == "test"
    assert only_test["reference_description"]["release_records"] == len(test_split)
    assert "amount" in alerted(only_test)
    only_train = service.drift(project, reference="release:v1:train", current=SAME)
    assert only_train["reference_rows"] == len(train_split) and only_train["alerts"] == []
    assert feature(only_train, "amount")["n_ref"] == len(train_split)

    with pytest.raises(InvalidInputError, match="no records in split 'holdout'"):
        service.drift(project, reference="release:v1:holdout", current=SAME)
    for bad in ("release:", "release:v1:", "release:v1:test:x", "v1"):
        with pytest.raises(InvalidInputError, match="release:NAME"):
            service.drift(project, reference=bad, current=SAME)
    with pytest.raises(NotFoundError, match="release 'nope' not found"):
        service.drift(project, reference="release:nope", current=SAME)


def test_release_reference_over_cli_and_http(make_project: ProjectFactory, db_url: str) -> None:
    project = released_project(make_project)
    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    from labelloop.cli.main import app

    result = runner.invoke(app, ["drift", "--reference", "release:nope", "--current", "-7d..now", "-C",
                                 str(project.dir)])  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "release 'nope' not found" in lines[0], result.output
    shifted = "1970-01-01T01:06:40..1970-01-01T01:40:00"
    result = runner.invoke(app, ["drift", "--reference", "release:v1:test", "--current", shifted, "--json", "-C",
                                 str(project.dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert data["reference_description"]["split"] == "test" and data["current"] == list(SHIFTED)
    assert "amount" in alerted(data)
    result = runner.invoke(app, ["drift", "--reference", "release:v1", "--current",
                                 "1970-01-01T01:40:00..1970-01-01T02:13:20", "-C", str(project.dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "160 release v1 rows vs 120 current rows" in result.output and "0 alert(s)" in result.output

    steward = add_user(project, "stew", "steward")["token"]
    client = TestClient(create_app(project))
    base = f"/api/v1/projects/{project.name}/drift"
    window = {"current_start": SHIFTED[0], "current_end": SHIFTED[1]}
    missing = assert_problem(client.post(base, json={"reference": "release:nope", **window},
                                         headers=bearer(steward)), 404)  # fmt: skip
    assert "release 'nope' not found" in missing["detail"]
    assert_problem(client.post(base, json={"reference": "release:v1", "reference_start": 0, "reference_end": 1,
                                           **window}, headers=bearer(steward)), 422)  # fmt: skip
    assert_problem(client.post(base, json={"reference": "-14d..-7d", **window}, headers=bearer(steward)), 422)
    assert_problem(client.post(base, json=window, headers=bearer(steward)), 422)
    assert_problem(client.post(base, json={"reference": "release:v1:holdout", **window}, headers=bearer(steward)), 422)
    done = client.post(base, json={"reference": "release:v1", **window}, headers=bearer(steward))
    assert done.status_code == 200, done.text
    assert done.json()["reference_description"]["kind"] == "release" and "amount" in alerted(done.json())
    windowed = client.post(base, json={"reference_start": 0, "reference_end": 2000, **window}, headers=bearer(steward))
    assert windowed.status_code == 200 and windowed.json()["reference_description"]["kind"] == "window"
    reports = client.get(base, headers=bearer(steward)).json()["reports"]
    assert [r["reference"] for r in reports[:2]] == [[0, 2000], "release:v1"]


# -- a model's predictions and embeddings ------------------------------------------------------------------


def prediction_rows(
    ids: list[int], rng: np.random.Generator, *, sport_share: float, confidence: float, shift: float, version: str
) -> list[dict[str, Any]]:
    """Predictions of model ``m``: sport with ``sport_share`` (else tech) at ``confidence``, the rest spread
    over the other classes; 8-wide embeddings ~ N(shift, 1)."""
    rows = []
    for rid in ids:
        top = "sport" if rng.random() < sport_share else "tech"
        conf = float(np.clip(rng.normal(confidence, 0.05), 0.3, 0.98))
        probs = {label: (1 - conf) / 4 for label in ("business", "entertainment", "politics", "sport", "tech")}
        probs[top] = conf
        rows.append({"record_id": rid, "model": "m", "model_version": version, "probs": probs,
                     "embedding": rng.normal(shift, 1.0, size=8).tolist()})  # fmt: skip
    return rows


def predicted_project(make_project: ProjectFactory) -> tuple[Project, dict[str, list[int]]]:
    """Reference window (t=1000): model m v1 predicts sport/tech 50/50 at ~0.85 with embeddings ~ N(0, 1).
    Window A (t=5000): predictions shift (90 % sport at ~0.6), embeddings do not. Window B (t=7000):
    predictions as in the reference, embeddings shifted by +1. Version 2 (newer) predicts like the
    reference everywhere, without embeddings."""
    project = drift_project(make_project, text=False, min_slice_rows=20)
    rng = random.Random(3)
    ids = {"ref": push(project, "r", 150, 50.0, 1000.0, rng), "a": push(project, "a", 150, 50.0, 5000.0, rng),
           "b": push(project, "b", 150, 50.0, 7000.0, rng)}  # fmt: skip
    gen = np.random.default_rng(5)
    rows = prediction_rows(ids["ref"], gen, sport_share=0.5, confidence=0.85, shift=0.0, version="1")
    rows += prediction_rows(ids["a"], gen, sport_share=0.9, confidence=0.6, shift=0.0, version="1")
    rows += prediction_rows(ids["b"], gen, sport_share=0.5, confidence=0.85, shift=1.0, version="1")
    assert import_predictions(project, rows)["imported"] == 450
    newer = prediction_rows([*ids["ref"], *ids["a"], *ids["b"]], gen, sport_share=0.5, confidence=0.85, shift=0.0,
                            version="2")  # fmt: skip
    assert import_predictions(project, [{k: v for k, v in r.items() if k != "embedding"} for r in newer])["imported"]
    return project, ids


REF, WINDOW_A, WINDOW_B = (0.0, 2000.0), (4000.0, 6000.0), (6000.0, 8000.0)


def test_prediction_drift_alerts_when_the_predictions_shift(make_project: ProjectFactory) -> None:
    project, _ = predicted_project(make_project)
    shifted = service.drift(project, reference=REF, current=WINDOW_A, model="m", model_version="1")
    assert shifted["model"]["version"] == "1" and shifted["model"]["current_scored"] == 150
    assert "prediction:m" in alerted(shifted) and "embedding:m" not in alerted(shifted)
    assert "amount" not in alerted(shifted) and "channel" not in alerted(shifted)
    predicted = feature(shifted, "prediction:m")
    assert predicted["kind"] == "prediction" and predicted["metrics"]["classes"][3:] == ["sport", "tech"]
    assert predicted["metrics"]["confidence_ref_mean"] > 0.8 > 0.65 > predicted["metrics"]["confidence_cur_mean"]
    top = predicted["metrics"]["class_top_changes"][0]
    assert top["category"] in ("sport", "tech") and top["cur_share"] != pytest.approx(top["ref_share"], abs=0.2)
    # per slice too (one source, min_slice_rows 20)
    assert any(f["name"] == "prediction:m" and f["slice"] == "api" for f in shifted["features"])
    with project.store.read() as conn:
        kinds = {r[0] for r in conn.execute(text("SELECT kind FROM drift_alerts WHERE run_id = :r"),
                                            {"r": shifted["run_id"]})}  # fmt: skip
    assert "prediction" in kinds

    steady = service.drift(project, reference=REF, current=WINDOW_B, model="m", model_version="1")
    assert feature(steady, "prediction:m")["severity"] == "ok"
    # the default is the newest version (2), which predicts like the reference everywhere and has no embeddings
    newest = service.drift(project, reference=REF, current=WINDOW_A)
    assert newest["model"] == {**newest["model"], "model": "m", "version": "2"}
    assert newest["alerts"] == [] and not any(f["kind"] == "embedding" for f in newest["features"])

    with pytest.raises(NotFoundError, match="no version '9'"):
        service.drift(project, reference=REF, current=WINDOW_A, model="m", model_version="9")
    with pytest.raises(NotFoundError, match="model 'ghost' has no predictions"):
        service.drift(project, reference=REF, current=WINDOW_A, model="ghost")


def test_prediction_drift_needs_scored_records(make_project: ProjectFactory) -> None:
    project, ids = predicted_project(make_project)
    few = prediction_rows(ids["a"][:5], np.random.default_rng(1), sport_share=0.5, confidence=0.85, shift=0.0,
                          version="x")  # fmt: skip
    import_predictions(project, [{**r, "model": "sparse"} for r in few])
    report = service.drift(project, reference=REF, current=WINDOW_A, model="sparse")
    skipped = {s["feature"]: s["reason"] for s in report["skipped_features"]}
    assert "0 reference and 5 current records" in skipped["prediction:sparse"]
    assert "0 reference and 5 current records" in skipped["embedding:sparse"]
    assert not any(f["name"].endswith(":sparse") for f in report["features"])


def test_embedding_drift_alerts_on_shifted_embeddings_only(make_project: ProjectFactory, db_url: str) -> None:
    project, _ = predicted_project(make_project)
    same = service.drift(project, reference=REF, current=WINDOW_A, model="m", model_version="1")
    embedded = feature(same, "embedding:m")
    assert embedded["kind"] == "embedding" and embedded["severity"] == "ok"
    assert embedded["metrics"]["mmd_pvalue"] > 0.01 and embedded["n_ref"] == embedded["n_cur"] == 150

    shifted = service.drift(project, reference=REF, current=WINDOW_B, model="m", model_version="1")
    assert alerted(shifted) == {"embedding:m"}
    moved = feature(shifted, "embedding:m")["metrics"]
    assert moved["mmd_pvalue"] < 0.01 and moved["mmd2"] > 0.01 and moved["mean_cosine_distance"] > 0.5
    assert shifted["model"]["reference_embeddings_used"] == shifted["model"]["current_embeddings_used"] == 150

    # the same over the CLI's model options
    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    from labelloop.cli.main import app

    result = runner.invoke(app, ["drift", "--reference", "1970-01-01..1970-01-01T00:33:20", "--current",
                                 "1970-01-01T01:40:00..1970-01-01T02:13:20", "--model", "m", "--model-version", "1",
                                 "--json", "-C", str(project.dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert alerted(orjson.loads(result.stdout)) == {"embedding:m"}
    result = runner.invoke(app, ["drift", "--reference", "-14d..-7d", "--model", "m", "--model-version", "9",
                                 "-C", str(project.dir)])  # fmt: skip
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1


def test_model_feature_thresholds_come_from_the_project_file(make_project: ProjectFactory) -> None:
    project = drift_project(make_project, text=False, min_slice_rows=20, embedding_mmd2_alert=5.0,
                            prediction_js_alert=0.99)  # fmt: skip
    rng = random.Random(3)
    ref, cur = push(project, "r", 150, 50.0, 1000.0, rng), push(project, "b", 150, 50.0, 7000.0, rng)
    gen = np.random.default_rng(5)
    rows = prediction_rows(ref, gen, sport_share=0.5, confidence=0.85, shift=0.0, version="1")
    rows += prediction_rows(cur, gen, sport_share=0.9, confidence=0.85, shift=1.0, version="1")
    assert import_predictions(project, rows)["imported"] == 300
    report = service.drift(project, reference=REF, current=WINDOW_B, model="m")
    # both shifts are real (the default thresholds alert on them, see the tests above) but under these limits
    assert feature(report, "embedding:m")["metrics"]["mmd2"] > 0.01
    assert "embedding:m" not in alerted(report) and "prediction:m" not in alerted(report)
