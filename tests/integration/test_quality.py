"""Quality in the loop, on SQLite and PostgreSQL: final labels by majority vote and Dawid-Skene with
their confidence and the answers used, low-confidence tasks sent back, adjudicated values settling
tasks, agreement figures, suspected label errors queued for re-review and their outcome counted,
and drift reports with alerts and drift-triggered relabeling; over the CLI and the HTTP API too."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from labelloop.governance.service import Principal, add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.review import adjudicate
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.quality import service
from tests.conftest import ProjectFactory
from tests.integration.test_api import assert_problem, bearer
from tests.integration.test_labeling import LABELS, answer, labeling_config, principal, seed_records


def quality_config(quality: dict[str, Any] | None = None, **labeling: Any) -> dict[str, Any]:
    config = labeling_config(**labeling)
    config["quality"] = quality or {}
    return config


def label_all(project: Project, people: list[Principal], choose: Any, rounds: int = 400) -> int:
    """Everyone takes tasks until nothing is due; ``choose(person, record_id)`` gives the label."""
    submitted = 0
    for _ in range(rounds):
        progressed = False
        for person in people:
            lease = next_task(project, person)
            if lease is None:
                continue
            label = choose(person, int(lease["record"]["id"]))
            submit_annotation(project, person, lease["task_id"], lease["lease_id"], answer(label))
            submitted += 1
            progressed = True
        if not progressed:
            return submitted
    raise AssertionError("the queue never ran dry")


def record_ids(project: Project) -> list[int]:
    with project.store.read() as conn:
        return [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]


def simulated_crowd(project: Project, n: int, accuracies: dict[str, float], seed: int = 7) -> dict[int, str]:
    """Label ``n`` records with overlap 3; returns each record's true label."""
    seed_records(project, n)
    rng = random.Random(seed)
    ids = record_ids(project)
    truth = {rid: LABELS[rng.randrange(len(LABELS))] for rid in ids}
    people = [principal(project, name) for name in accuracies]
    accuracy = {p.user_id: accuracies[p.name] for p in people}

    def choose(person: Principal, record_id: int) -> str:
        if rng.random() < accuracy[person.user_id]:
            return truth[record_id]
        return rng.choice([x for x in LABELS if x != truth[record_id]])

    create_tasks(project, overlap=3, k_max=3)
    label_all(project, people, choose)
    return truth


def finals(project: Project) -> dict[int, dict[str, Any]]:
    rows, cursor = service.final_labels(project, limit=100_000)
    assert cursor is None
    return {int(r["record_id"]): r for r in rows}


def test_majority_and_dawid_skene_final_labels(make_project: ProjectFactory) -> None:
    project = make_project(quality_config(overlap=3, k_max=3, agreement="threshold", agreement_threshold=0.01))
    truth = simulated_crowd(project, 60, {"good1": 0.95, "good2": 0.9, "spam1": 0.2, "spam2": 0.2, "ok": 0.7}, seed=3)
    mv = service.aggregate(project, method="majority")
    assert mv["method"] == "majority" and mv["tasks"] == 60 and mv["labels"] == 60
    labeled = finals(project)
    assert set(labeled) == set(truth)
    with project.store.read() as conn:
        used = {
            int(r[0]): int(r[1])
            for r in conn.execute(text("SELECT task_id, COUNT(*) FROM annotations GROUP BY task_id"))
        }
    for row in labeled.values():
        assert row["method"] == "majority"
        assert len(row["annotation_ids"]) == used[row["task_id"]] == 3
        assert row["confidence"] in (pytest.approx(1 / 3), pytest.approx(2 / 3), pytest.approx(1.0))
    mv_accuracy = sum(labeled[r]["value"]["label"] == truth[r] for r in truth) / len(truth)

    ds = service.aggregate(project, method="dawid_skene")
    assert ds["by_method"] == {"dawid_skene": 60}
    labeled = finals(project)
    ds_accuracy = sum(labeled[r]["value"]["label"] == truth[r] for r in truth) / len(truth)
    assert all(0.0 < r["confidence"] <= 1.0 for r in labeled.values())
    assert ds_accuracy >= mv_accuracy  # spammers are down-weighted
    confusion = service.latest_confusion(project)
    matrices = confusion["questions"]["topic"]["confusion"]
    assert set(matrices) == {"good1", "good2", "spam1", "spam2", "ok"}
    diag = {name: sum(m[i][i] for i in range(len(LABELS))) / len(LABELS) for name, m in matrices.items()}
    assert diag["good1"] > 0.7 and diag["spam1"] < 0.5  # the model learned who is reliable
    with pytest.raises(InvalidInputError, match="unknown aggregation method"):
        service.aggregate(project, method="vibes")


def test_low_confidence_asks_one_more_then_adjudication(make_project: ProjectFactory) -> None:
    project = make_project(quality_config({"min_confidence": 0.9}, overlap=2, k_max=3, agreement="threshold",
                                          agreement_threshold=0.01))  # fmt: skip
    seed_records(project, 1)
    create_tasks(project, overlap=2, k_max=3)
    a, b, c, d = (principal(project, n) for n in ("ann", "bob", "cyd", "dan"))
    picks = {a.user_id: "sport", b.user_id: "tech", c.user_id: "sport"}
    label_all(project, [a, b], lambda p, _: picks[p.user_id])
    result = service.aggregate(project)
    assert (result["more_annotators"], result["to_adjudication"], result["labels"]) == (1, 0, 0)
    with project.store.read() as conn:
        state, overlap = conn.execute(text("SELECT state, overlap FROM tasks")).one()
    assert (state, overlap) == ("open", 3)
    label_all(project, [c], lambda p, _: picks[p.user_id])
    result = service.aggregate(project)
    assert result["to_adjudication"] == 1  # 2 of 3 is below 0.9 and k_max is reached
    with project.store.read() as conn:
        task_id, state = conn.execute(text("SELECT id, state FROM tasks")).one()
    assert state == "adjudication"
    adjudicator = principal(project, "judge", "adjudicator")
    adjudicate(project, adjudicator, int(task_id), answer("sport"), "two of three, and the text says so")
    result = service.aggregate(project)
    assert result["by_method"] == {"adjudicated": 1} and result["more_annotators"] == result["to_adjudication"] == 0
    (row,) = finals(project).values()
    assert row["value"] == {"label": "sport"} and row["method"] == "adjudicated" and row["confidence"] == 1.0
    assert d  # a fourth person was never needed


def test_agreement_keys_and_known_values(make_project: ProjectFactory) -> None:
    project = make_project(quality_config(overlap=2, k_max=2, agreement="threshold", agreement_threshold=0.01))
    seed_records(project, 20)
    create_tasks(project, overlap=2, k_max=2)
    a, b = principal(project, "ann"), principal(project, "bob")
    ids = record_ids(project)
    truth = {rid: LABELS[i % len(LABELS)] for i, rid in enumerate(ids)}
    # bob disagrees on the first 4 records only
    label_all(
        project,
        [a, b],
        lambda p, rid: (
            truth[rid] if p.name == "ann" or rid not in ids[:4] else LABELS[(LABELS.index(truth[rid]) + 1) % 5]
        ),
    )
    result = service.agreement(project, bootstrap=200)
    assert {"krippendorff_alpha", "per_label", "per_annotator"} <= set(result)
    assert result["units"] == 20 and result["annotations"] == 40
    # the reference value of the same 2 x 20 data, from the independent krippendorff package
    import krippendorff

    with project.store.read() as conn:
        rows = conn.execute(text("SELECT task_id, user_id, value FROM annotations ORDER BY task_id")).all()
    tasks = sorted({r[0] for r in rows})
    coders = sorted({r[1] for r in rows})
    data = [[float("nan")] * len(tasks) for _ in coders]
    for task, user, value in rows:
        data[coders.index(user)][tasks.index(task)] = LABELS.index(orjson.loads(value)["topic"]["label"])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert result["krippendorff_alpha"] == pytest.approx(expected, abs=1e-6)
    low, high = result["alpha_ci"]
    assert low <= result["krippendorff_alpha"] <= high
    assert result["per_annotator"]["ann"]["agreement"] == pytest.approx(16 / 20)
    assert result["pairs"][0]["units"] == 20
    assert set(result["per_label"]) == set(LABELS)
    assert result["slices"]["source"]["api"]["units"] == 20
    assert service.agreement_history(project)[0]["krippendorff_alpha"] == result["krippendorff_alpha"]
    with pytest.raises(InvalidInputError, match="unknown question"):
        service.agreement(project, question="nope")


def test_label_errors_flag_rereview_and_outcomes(make_project: ProjectFactory) -> None:
    project = make_project(quality_config(overlap=1, k_max=1))
    seed_records(project, 40)
    create_tasks(project, overlap=1)
    annotator = principal(project, "ann")
    ids = record_ids(project)
    truth = {rid: LABELS[i % 5] for i, rid in enumerate(ids)}
    wrong = set(ids[:4])
    label_all(
        project, [annotator], lambda _, rid: LABELS[(LABELS.index(truth[rid]) + 2) % 5] if rid in wrong else truth[rid]
    )
    with pytest.raises(InvalidInputError, match="no final labels"):
        service.scan_label_errors(project, predictions={})
    service.aggregate(project)
    # a confident model that knows the truth: exactly the planted errors disagree with it
    probs = {rid: {x: (0.92 if x == truth[rid] else 0.02) for x in LABELS} for rid in ids}
    with pytest.raises(InvalidInputError, match="no prediction"):
        service.scan_label_errors(project, predictions={ids[0]: probs[ids[0]]})
    scan = service.scan_label_errors(project, predictions=probs)
    assert scan["flagged"] == 4 and scan["new_flags"] == 4
    assert {r["record_id"] for r in scan["top"]} == wrong
    assert all(r["suggested"] == truth[r["record_id"]] for r in scan["top"])
    again = service.scan_label_errors(project, predictions=probs)
    assert again["new_flags"] == 0  # open flags are not doubled

    reviewer = principal(project, "rev", "reviewer")
    assert service.next_label_error(project, annotator) is None  # never one's own work
    with pytest.raises(PermissionDeniedError):
        service.decide_label_error(project, annotator, item_flag_id(project), "dismiss")
    decided: list[str] = []
    while (item := service.next_label_error(project, reviewer)) is not None:
        assert item["reason"] == "suspected_label_error"
        if len(decided) < 3:
            service.decide_label_error(project, reviewer, item["flag_id"], "confirm", answer(item["suggested"]))
            decided.append("confirmed")
        else:
            service.decide_label_error(project, reviewer, item["flag_id"], "dismiss")
            decided.append("dismissed")
    with pytest.raises(ConflictError, match="already"):
        service.decide_label_error(project, reviewer, item_flag_id(project), "dismiss")
    report = service.label_error_report(project)
    assert (report["open"], report["confirmed"], report["dismissed"]) == (0, 3, 1)
    # the dismissed label stands and the confirmed ones are settled: a new scan queues nothing again
    assert service.scan_label_errors(project, predictions=probs)["new_flags"] == 0
    assert report["precision"] == pytest.approx(0.75)
    assert [scan["new_flags"] for scan in report["scans"]] == [0, 4]  # newest first; what each scan queued
    corrected = [r for r in finals(project).values() if r["method"] == "corrected"]
    assert len(corrected) == 3 and all(r["value"]["label"] == truth[r["record_id"]] for r in corrected)
    # a re-aggregation keeps the corrections
    service.aggregate(project)
    assert sum(r["method"] == "corrected" for r in finals(project).values()) == 3
    with pytest.raises(NotFoundError):
        service.decide_label_error(project, reviewer, 10_000, "dismiss")


def item_flag_id(project: Project) -> int:
    with project.store.read() as conn:
        return int(conn.execute(text("SELECT MIN(id) FROM label_error_flags")).scalar_one())


def test_label_errors_with_the_baseline_model(make_project: ProjectFactory) -> None:
    project = make_project(quality_config(overlap=1, k_max=1))
    words = {label: f"{label} {label}word {label}thing" for label in LABELS}
    rng = random.Random(1)
    rows = [
        {"id": f"r{i}", "text": f"{words[LABELS[i % 5]]} story {rng.randrange(1000)} {words[LABELS[i % 5]]}"}
        for i in range(100)
    ]
    push_records(project, orjson.dumps(rows))
    ids = record_ids(project)
    truth = {rid: LABELS[i % 5] for i, rid in enumerate(ids)}
    wrong = set(ids[:5])
    create_tasks(project, overlap=1)
    label_all(
        project, [principal(project, "ann")],
        lambda _, rid: LABELS[(LABELS.index(truth[rid]) + 1) % 5] if rid in wrong else truth[rid],
    )  # fmt: skip
    service.aggregate(project)
    scan = service.scan_label_errors(project)
    assert scan["model"].startswith("baseline:tfidf-logreg")
    found = {r["record_id"] for r in scan["top"]}
    assert found == wrong


def test_drift_config_refuses_clashing_field_names() -> None:
    from pydantic import ValidationError

    from labelloop.config import DriftSpec

    with pytest.raises(ValidationError, match="report's own columns"):
        DriftSpec(numeric=["label"])
    with pytest.raises(ValidationError, match="not both"):
        DriftSpec(numeric=["amount"], categorical=["amount"])


def test_drift_report_alerts_and_enqueues(make_project: ProjectFactory) -> None:
    config = quality_config({"drift": {"numeric": ["amount"], "categorical": ["channel"], "min_rows": 20}})
    config["record"]["fields"].update({"amount": {"type": "number"}, "channel": {"type": "string"}})
    project = make_project(config)
    rng = random.Random(5)
    old = [
        {"id": f"o{i}", "text": f"order {i} arrived fine", "amount": rng.gauss(50, 5), "channel": rng.choice("ab")}
        for i in range(300)
    ]
    new = [
        {"id": f"n{i}", "text": f"order {i} arrived fine", "amount": rng.gauss(80, 5), "channel": rng.choice("ab")}
        for i in range(300)
    ]
    push_records(project, orjson.dumps(old))
    with project.store.write() as conn:
        conn.execute(text("UPDATE records SET ingested_at = 1000"))
    push_records(project, orjson.dumps(new))
    with project.store.write() as conn:
        conn.execute(text("UPDATE records SET ingested_at = 5000 WHERE ingested_at > 1000"))
    report = service.drift(project, reference=(0, 2000), current=(4000, 6000), enqueue=25, priority=7)
    assert (report["reference_rows"], report["current_rows"]) == (300, 300)
    alerted = {a["feature"] for a in report["alerts"]}
    assert "amount" in alerted and "channel" not in alerted
    assert report["enqueued"] == 25
    with project.store.read() as conn:
        rows = conn.execute(
            text("SELECT t.rank, r.source_key, t.selection FROM tasks t JOIN records r ON r.id = t.record_id")
        ).all()
    assert len(rows) == 25 and all(rank == -7 and key.startswith("n") for rank, key, _ in rows)
    assert orjson.loads(rows[0][2])["reason"]["drift_run"] == report["run_id"]
    history = service.drift_history(project)
    assert history[0]["run_id"] == report["run_id"] and history[0]["alerts"]
    same = service.drift(project, reference=(0, 2000), current=(0, 2000))
    assert same["alerts"] == []
    with pytest.raises(InvalidInputError, match="at least 20"):
        service.drift(project, reference=(0, 2000), current=(7000, 8000))


def test_quality_over_http_and_cli(make_project: ProjectFactory, db_url: str) -> None:
    project = make_project(quality_config(overlap=2, k_max=2, agreement="threshold", agreement_threshold=0.01))
    seed_records(project, 10)
    create_tasks(project, overlap=2, k_max=2)
    a, b = principal(project, "ann"), principal(project, "bob")
    # two classes; bob disagrees on every third record
    label_all(project, [a, b], lambda p, rid: ["sport", "tech"][(rid % 2) ^ (p.name == "bob" and rid % 3 == 0)])
    steward = add_user(project, "stew", "steward")["token"]
    reviewer = add_user(project, "rev", "reviewer")["token"]
    annotator = add_user(project, "carl", "annotator")["token"]
    client = TestClient(create_app(project))
    base = f"/api/v1/projects/{project.name}"
    assert_problem(client.post(f"{base}/aggregate", json={}, headers=bearer(annotator)), 403)
    done = client.post(f"{base}/aggregate", json={"method": "dawid_skene"}, headers=bearer(steward))
    assert done.status_code == 200 and done.json()["labels"] == 10
    page = client.get(f"{base}/labels", params={"limit": 4}, headers=bearer(reviewer)).json()
    assert len(page["labels"]) == 4 and page["next_cursor"] is not None
    agreement = client.get(f"{base}/agreement", params={"bootstrap": 50}, headers=bearer(annotator)).json()
    assert {"krippendorff_alpha", "per_label", "per_annotator", "history"} <= set(agreement)
    assert agreement["per_annotator"] is None and agreement["history"] == []  # people's figures; GET records nothing
    assert_problem(client.post(f"{base}/agreement", headers=bearer(annotator)), 403)
    snapshot = client.post(f"{base}/agreement", headers=bearer(steward)).json()
    assert set(snapshot["per_annotator"]) == {"ann", "bob"} and snapshot["run_id"]
    history = client.get(f"{base}/agreement", params={"bootstrap": 0}, headers=bearer(steward)).json()["history"]
    assert [h["run_id"] for h in history] == [snapshot["run_id"]]
    assert_problem(client.get(f"{base}/annotators/confusion", headers=bearer(reviewer)), 403)
    assert "topic" in client.get(f"{base}/annotators/confusion", headers=bearer(steward)).json()["questions"]
    # a model that agrees with every final label but one, on which it is sure of the other class
    final = {r["record_id"]: r["value"]["label"] for r in service.final_labels(project, limit=100)[0]}
    odd = min(final)
    other = {"sport": "tech", "tech": "sport"}
    probs = [
        {"record_id": rid, "probs": {x: 0.96 if x == (other[label] if rid == odd else label) else 0.01 for x in LABELS}}
        for rid, label in final.items()
    ]
    scan = client.post(f"{base}/label-errors", json={"predictions": probs}, headers=bearer(steward)).json()
    assert scan["new_flags"] == 1 and scan["top"][0]["record_id"] == odd
    item = client.post(f"{base}/label-errors/next", headers=bearer(reviewer)).json()
    assert item["kind"] == "label_error" and item["reason"] == "suspected_label_error"
    assert "annotation_id" in client.post(f"{base}/review/next", headers=bearer(reviewer)).json()
    assert_problem(
        client.post(f"/api/v1/label-errors/{item['flag_id']}", json={"decision": "maybe"}, headers=bearer(reviewer)),
        422,
    )
    decided = client.post(
        f"/api/v1/label-errors/{item['flag_id']}",
        json={"decision": "confirm", "value": answer("tech")},
        headers=bearer(reviewer),
    )
    assert decided.status_code == 200 and decided.json()["status"] == "confirmed"
    assert client.get(f"{base}/label-errors", headers=bearer(reviewer)).json()["confirmed"] == 1
    assert_problem(
        client.post(f"/api/v1/label-errors/{item['flag_id']}", json={"decision": "dismiss"}, headers=bearer(reviewer)),
        409,
    )
    assert_problem(client.post(f"{base}/drift", json={"reference_start": 0, "reference_end": 1, "current_start": 1,
                                                       "current_end": 2}, headers=bearer(steward)), 422)  # fmt: skip

    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    from labelloop.cli.main import app

    result = runner.invoke(app, ["agreement", "--json", "--bootstrap", "20", "-C", str(project.dir)])
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert {"krippendorff_alpha", "per_label", "per_annotator"} <= set(data)
    result = runner.invoke(app, ["aggregate", "--json", "-C", str(project.dir)])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["labels"] == 10
    result = runner.invoke(app, ["label-errors", "report", "--json", "-C", str(project.dir)])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["confirmed"] == 1
    result = runner.invoke(app, ["drift", "--reference", "yesterday..now", "-C", str(project.dir)])
    assert result.exit_code == 1 and "cannot read time" in result.output


def test_aggregation_never_overwrites_newer_work_nor_labels_reopened_tasks(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.labeling.review import review_annotation
    from labelloop.store import quality as qrepo

    project = make_project(quality_config(overlap=1, k_max=1))
    seed_records(project, 6)
    create_tasks(project, overlap=1)
    ann = principal(project, "ann")
    ids = record_ids(project)
    given = {rid: ["sport", "tech"][i % 2] for i, rid in enumerate(ids)}
    label_all(project, [ann], lambda _, rid: given[rid])
    service.aggregate(project)
    sure = {rid: ("tech" if rid == ids[0] else label) for rid, label in given.items()}  # disagrees on ids[0] only
    probs = {rid: {x: (0.96 if x == sure[rid] else 0.01) for x in LABELS} for rid in ids}
    assert service.scan_label_errors(project, predictions=probs)["new_flags"] == 1
    # an aggregation that read the answers before a reviewer's correction landed must not undo it
    with project.store.read() as conn:
        stale = qrepo.annotation_rows(conn, project.id)
    reviewer = principal(project, "rev", "reviewer")
    item = service.next_label_error(project, reviewer)
    assert item is not None
    service.decide_label_error(project, reviewer, item["flag_id"], "confirm", answer("tech"))
    real = qrepo.annotation_rows
    monkeypatch.setattr(qrepo, "annotation_rows", lambda conn, pid: stale)
    late = service.aggregate(project)
    monkeypatch.setattr(qrepo, "annotation_rows", real)
    assert late["skipped_changed"] == 1
    labeled = finals(project)
    assert labeled[ids[0]]["method"] == "corrected" and labeled[ids[0]]["value"] == {"label": "tech"}
    # a reviewer rejects an answer: the task is open again and loses its final label
    with project.store.read() as conn:
        annotation_id = conn.execute(
            text("SELECT id FROM annotations WHERE record_id = :r AND status = 'submitted'"), {"r": ids[1]}
        ).scalar_one()
    review_annotation(project, reviewer, int(annotation_id), "reject", "wrong_label")
    cleared = service.aggregate(project)
    assert cleared["cleared"] == 1 and ids[1] not in finals(project)


def test_a_fix_votes_in_place_of_the_answer_it_corrects() -> None:
    from labelloop.quality.votes import live_votes
    from labelloop.store.quality import AnnotationRow

    def row(id_: int, user: int, label: str, status: str, lease: int | None, supersedes: int | None) -> AnnotationRow:
        value = orjson.dumps(answer(label)).decode()
        return AnnotationRow(
            id_, 1, 1, user, lease, value, status, supersedes, 1, 0.0, "complete", 3, 3, False, None, 1
        )

    rows = [
        row(1, 10, "sport", "superseded", 1, None),
        row(2, 11, "sport", "superseded", 2, None),
        row(3, 12, "tech", "submitted", 3, None),
        row(4, 99, "tech", "accepted", None, 1),  # reviewer 99 fixes ann's answer
        row(5, 99, "tech", "accepted", None, 2),  # ... and bob's
    ]
    votes = live_votes(rows)
    assert sorted((v.annotation_id, v.user_id) for v in votes) == [(3, 12), (4, 10), (5, 11)]


def test_label_error_scan_reads_large_payloads(make_project: ProjectFactory) -> None:
    config = quality_config(overlap=1, k_max=1)
    config["record"]["blob_threshold_bytes"] = 10  # every payload goes to the blob store
    project = make_project(config)
    words = {label: f"{label} {label}word {label}thing" for label in LABELS}
    rows = [{"id": f"r{i}", "text": f"{words[LABELS[i % 5]]} story {i} {words[LABELS[i % 5]]}"} for i in range(50)]
    push_records(project, orjson.dumps(rows))
    with project.store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM records WHERE payload IS NULL")).scalar_one() == 50
    ids = record_ids(project)
    create_tasks(project, overlap=1)
    label_all(project, [principal(project, "ann")], lambda _, rid: LABELS[ids.index(rid) % 5])
    service.aggregate(project)
    assert service.scan_label_errors(project, enqueue=False)["items"] == 50  # texts came from the blobs


def test_label_error_scan_refuses_texts_the_baseline_cannot_learn(make_project: ProjectFactory) -> None:
    empty = make_project(quality_config(overlap=1, k_max=1))
    push_records(empty, orjson.dumps([{"id": f"e{i}", "text": f"w{i}"} for i in range(20)]))
    create_tasks(empty, overlap=1)
    label_all(empty, [principal(empty, "ann")], lambda _, rid: LABELS[rid % 2])  # every word appears once
    service.aggregate(empty)
    with pytest.raises(InvalidInputError, match="baseline model cannot learn"):
        service.scan_label_errors(empty)
