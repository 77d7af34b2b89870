"""The labeling workflow end to end on SQLite and PostgreSQL: schema versions, tasks, the queue
with leases (expiry, fencing, skip, renew, caps), submits (validation, idempotency), dynamic overlap,
and a 32-client concurrency test whose recorded history is checked for lost or doubled work."""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.api.app import create_app
from labelloop.errors import ConflictError, InvalidInputError
from labelloop.governance.service import Principal, Role, add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.integration.test_api import assert_problem, bearer

LABELS = ["business", "entertainment", "politics", "sport", "tech"]


def labeling_config(**labeling: Any) -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["label_schema"] = {
        "guidelines": "Pick the main topic.",
        "questions": [{"name": "topic", "type": "single", "labels": LABELS}],
    }
    config["labeling"] = labeling
    return config


def seed_records(project: Project, n: int) -> None:
    rows = [{"id": f"r{i}", "text": f"article number {i} about things"} for i in range(n)]
    assert push_records(project, orjson.dumps(rows))["new"] == n


def principal(project: Project, name: str, role: str = "annotator") -> Principal:
    add_user(project, name, role)
    with project.store.read() as conn:
        row = conn.execute(text("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar_one()
    return Principal(int(row), name, Role(role), project.id, project.name)


def answer(label: str) -> dict[str, Any]:
    return {"topic": {"label": label}}


# -- service level ---------------------------------------------------------------------------------


def test_overlap_agreement_completes_and_disagreement_escalates(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config(overlap=2, k_max=3))
    seed_records(project, 2)
    assert create_tasks(project, overlap=2, k_max=3)["created"] == 2
    a, b, c = (principal(project, n) for n in ("ann", "bob", "cyd"))

    first = next_task(project, a)
    assert first is not None
    assert set(first) >= {"task_id", "lease_id", "lease_expires_at", "record", "schema_version", "guidelines_version"}
    assert first["record"]["text"].startswith("article number")
    second = next_task(project, a)
    assert second is not None and second["task_id"] != first["task_id"]  # never the same task twice
    assert next_task(project, a) is None  # both tasks: a holds one lease of each, nothing else is due

    # task 1: a and b agree -> complete
    submit_annotation(project, a, first["task_id"], first["lease_id"], answer("sport"))
    lease_b = next_task(project, b)
    assert lease_b is not None and lease_b["task_id"] == first["task_id"]
    done = submit_annotation(project, b, first["task_id"], lease_b["lease_id"], answer("sport"))
    assert done["task_state"] == "complete"

    # task 2: a and b disagree -> one more person; c disagrees too -> adjudication
    submit_annotation(project, a, second["task_id"], second["lease_id"], answer("tech"))
    lease_b2 = next_task(project, b)
    assert lease_b2 is not None and lease_b2["task_id"] == second["task_id"]
    grown = submit_annotation(project, b, second["task_id"], lease_b2["lease_id"], answer("politics"))
    assert grown["task_state"] == "open"
    lease_c = next_task(project, c)
    assert lease_c is not None and lease_c["task_id"] == second["task_id"]
    final = submit_annotation(project, c, second["task_id"], lease_c["lease_id"], answer("business"))
    assert final["task_state"] == "adjudication"
    assert next_task(project, c) is None


def test_submit_is_fenced_by_the_callers_live_lease(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(labeling_config(overlap=2, lease_seconds=60))
    seed_records(project, 1)
    create_tasks(project)
    a, b = principal(project, "ann"), principal(project, "bob")
    lease_a = next_task(project, a)
    assert lease_a is not None
    task_id = lease_a["task_id"]

    with pytest.raises(InvalidInputError, match="cooking"):
        submit_annotation(project, a, task_id, lease_a["lease_id"], answer("cooking"))
    with pytest.raises(ConflictError, match="not yours"):
        submit_annotation(project, b, task_id, lease_a["lease_id"], answer("sport"))
    first = submit_annotation(project, a, task_id, lease_a["lease_id"], answer("sport"), idempotency_key="k-1")
    retry = submit_annotation(project, a, task_id, lease_a["lease_id"], answer("sport"), idempotency_key="k-1")
    assert retry["annotation_id"] == first["annotation_id"] and retry["replayed"] is True
    with pytest.raises(ConflictError, match="submitted"):
        submit_annotation(project, a, task_id, lease_a["lease_id"], answer("sport"))

    # b's lease expires: a late submit is refused and the task goes back to the pool
    lease_b = next_task(project, b)
    assert lease_b is not None
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    with pytest.raises(ConflictError, match="expired"):
        submit_annotation(project, b, task_id, lease_b["lease_id"], answer("sport"))
    c = principal(project, "cyd")
    lease_c = next_task(project, c)
    assert lease_c is not None and lease_c["task_id"] == task_id
    with project.store.read() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM annotations")).scalar_one()
    assert count == 1  # nothing double-counted


def test_skip_renew_and_caps(make_project: ProjectFactory) -> None:
    from labelloop.labeling.queue import renew_lease, skip_task

    project = make_project(labeling_config(max_leases_per_user=1, daily_cap=1))
    seed_records(project, 3)
    create_tasks(project)
    a = principal(project, "ann")
    lease = next_task(project, a)
    assert lease is not None
    with pytest.raises(ConflictError, match="hold 1"):
        next_task(project, a)
    renewed = renew_lease(project, a, lease["task_id"], lease["lease_id"])
    assert renewed["lease_expires_at"] >= lease["lease_expires_at"]
    with pytest.raises(InvalidInputError):
        skip_task(project, a, lease["task_id"], lease["lease_id"], "  ")
    skip_task(project, a, lease["task_id"], lease["lease_id"], "not sure about the topic")
    again = next_task(project, a)
    assert again is not None and again["task_id"] != lease["task_id"]
    submit_annotation(project, a, again["task_id"], again["lease_id"], answer("tech"))
    with pytest.raises(ConflictError, match="daily cap"):
        next_task(project, a)


def test_tasks_only_from_live_first_copies(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config())
    rows = [
        {"id": "a", "text": "same words here"},
        {"id": "b", "text": "same words here"},  # exact duplicate: never a task
        {"id": "c", "text": "other words"},
    ]
    push_records(project, orjson.dumps(rows))
    assert create_tasks(project, flag="wrong_language")["created"] == 0  # no record carries that flag
    assert create_tasks(project, since=time.time() + 3600)["created"] == 0  # none ingested in the future
    assert create_tasks(project)["created"] == 2
    assert create_tasks(project)["created"] == 0  # one task per record and schema version
    with pytest.raises(InvalidInputError, match="cannot get a task"):
        create_tasks(project, ids=[999])


# -- concurrency -----------------------------------------------------------------------------------


def test_32_concurrent_annotators_lose_and_double_nothing(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config(overlap=2, max_leases_per_user=1))
    seed_records(project, 120)
    create_tasks(project, overlap=2)
    people = [principal(project, f"p{i:02d}") for i in range(32)]
    history: list[tuple[str, int, int, int]] = []  # (person, task, lease, annotation)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(person: Principal) -> None:
        try:
            while True:
                leased = next_task(project, person)
                if leased is None:
                    return
                done = submit_annotation(
                    project, person, leased["task_id"], leased["lease_id"], answer("sport"), duration_ms=5
                )
                with lock:
                    history.append((person.name, leased["task_id"], leased["lease_id"], done["annotation_id"]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    per_task: dict[int, list[str]] = defaultdict(list)
    for name, task_id, _lease, _ann in history:
        per_task[task_id].append(name)
    assert len(per_task) == 120
    assert all(len(names) == 2 and len(set(names)) == 2 for names in per_task.values())
    with project.store.read() as conn:
        stored = conn.execute(text("SELECT id, task_id, user_id FROM annotations")).all()
        states = Counter(r[0] for r in conn.execute(text("SELECT state FROM tasks")))
        live = conn.execute(text("SELECT COUNT(*) FROM leases WHERE state = 'active'")).scalar_one()
    assert sorted(r[0] for r in stored) == sorted(h[3] for h in history)  # every 201 stored, nothing else
    assert states == {"complete": 120}
    assert live == 0


# -- HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def client(make_project: ProjectFactory) -> Iterator[tuple[TestClient, Project]]:
    project = make_project(labeling_config(overlap=1))
    seed_records(project, 2)
    with TestClient(create_app(project)) as test_client:
        yield test_client, project


def test_http_queue_flow_and_errors(client: tuple[TestClient, Project]) -> None:
    http, project = client
    steward = bearer(add_user(project, "stew", "steward")["token"])
    annotator = bearer(add_user(project, "ann", "annotator")["token"])
    viewer = bearer(add_user(project, "vic", "viewer")["token"])

    assert_problem(http.post("/api/v1/projects/tickets/tasks", json={}, headers=annotator), 403)
    made = http.post("/api/v1/projects/tickets/tasks", json={"budget": 2, "seed": 1}, headers=steward)
    assert made.status_code == 201 and made.json()["created"] == 2
    assert http.get("/api/v1/projects/tickets/schema", headers=viewer).json()["version"] == 1

    assert_problem(http.post("/api/v1/projects/tickets/queue/next", headers=viewer), 403)
    leased = http.post("/api/v1/projects/tickets/queue/next", headers=annotator)
    assert leased.status_code == 200, leased.text
    body = leased.json()
    url = f"/api/v1/tasks/{body['task_id']}/annotations"
    bad = http.post(url, json={"lease_id": body["lease_id"], "value": {"topic": {"label": "x"}}}, headers=annotator)
    assert "not a label" in assert_problem(bad, 422)["detail"]
    ok = http.post(
        url, json={"lease_id": body["lease_id"], "value": answer("tech"), "duration_ms": 900}, headers=annotator
    )
    assert ok.status_code == 201 and isinstance(ok.json()["annotation_id"], int)
    assert_problem(http.post(url, json={"lease_id": body["lease_id"], "value": answer("tech")}, headers=annotator), 409)
    assert_problem(
        http.post("/api/v1/tasks/999999/annotations", json={"lease_id": 1, "value": {}}, headers=annotator), 404
    )

    second = http.post("/api/v1/projects/tickets/queue/next", headers=annotator).json()
    http.post(
        f"/api/v1/tasks/{second['task_id']}/annotations",
        json={"lease_id": second["lease_id"], "value": answer("sport")},
        headers=annotator,
    )
    nothing = http.post("/api/v1/projects/tickets/queue/next", headers=annotator)
    assert nothing.status_code == 204 and nothing.content == b""
    tasks = http.get("/api/v1/projects/tickets/tasks", params={"state": "complete"}, headers=viewer).json()["tasks"]
    assert len(tasks) == 2


# -- schema versions -------------------------------------------------------------------------------


def test_publishing_a_new_schema_version_migrates_and_requeues(make_project: ProjectFactory) -> None:
    import yaml

    from labelloop.labeling.schemas import publish_schema

    project = make_project(labeling_config(overlap=1))
    seed_records(project, 3)
    create_tasks(project)
    a = principal(project, "ann")
    labels = {}
    for label in ("sport", "tech", "business"):
        leased = next_task(project, a)
        assert leased is not None
        submit_annotation(project, a, leased["task_id"], leased["lease_id"], answer(label))
        labels[leased["record"]["id"]] = label

    # v2: sport renamed to sports, tech split into hardware and software
    config = labeling_config(overlap=1)
    config["label_schema"]["questions"][0]["labels"] = [
        "business", "entertainment", "politics", "sports", "hardware", "software",
    ]  # fmt: skip
    config["label_schema"]["change"] = {
        "renamed": {"topic": {"sport": "sports"}},
        "split": {"topic": {"tech": ["hardware", "software"]}},
    }
    (project.dir / "labelloop.yaml").write_text(yaml.safe_dump(config))  # type: ignore[operator]
    from labelloop.config import Settings
    from labelloop.project import open_project

    reopened = open_project(project.dir, Settings(database_url=project.store.url))  # type: ignore[arg-type]
    try:
        result = publish_schema(reopened, actor="test")
        assert result["version"] == 2
        assert result["migrated"] == 2  # sport -> sports, business unchanged but carried to v2
        assert result["requeued"] == 1  # the 'tech' record is labeled again
        with reopened.store.read() as conn:
            rows = conn.execute(
                text("SELECT record_id, value, status, schema_version, supersedes FROM annotations ORDER BY id")
            ).all()
        originals = [r for r in rows if r.schema_version == 1]
        assert all(r.status == "superseded" for r in originals if labels[r.record_id] != "tech")
        migrated = {r.record_id: orjson.loads(r.value) for r in rows if r.schema_version == 2}
        sport_record = next(rid for rid, lab in labels.items() if lab == "sport")
        assert migrated[sport_record] == {"topic": {"label": "sports"}}
        assert all(r.supersedes is not None for r in rows if r.schema_version == 2)
        relabel = next_task(reopened, principal(reopened, "bob"))
        assert relabel is not None and relabel["schema_version"] == 2
        assert relabel["record"]["id"] == next(rid for rid, lab in labels.items() if lab == "tech")
        with pytest.raises(ConflictError, match="nothing to publish"):
            publish_schema(reopened, actor="test")
    finally:
        reopened.store.dispose()


# -- review and adjudication -----------------------------------------------------------------------


def test_review_accept_reject_fix_and_adjudication(make_project: ProjectFactory) -> None:
    from labelloop.errors import PermissionDeniedError
    from labelloop.labeling.review import adjudicate, next_for_adjudication, next_for_review, review_annotation

    project = make_project(labeling_config(overlap=1, k_max=1))
    seed_records(project, 3)
    create_tasks(project)
    a, b = principal(project, "ann"), principal(project, "bob")
    rev = principal(project, "rita", "reviewer")
    judge = principal(project, "jude", "adjudicator")
    ids = []
    for label in ("sport", "tech", "business"):
        leased = next_task(project, a)
        assert leased is not None
        ids.append(submit_annotation(project, a, leased["task_id"], leased["lease_id"], answer(label))["annotation_id"])

    with pytest.raises(PermissionDeniedError):
        review_annotation(project, a, ids[0], "accept")  # nobody reviews their own work
    first = next_for_review(project, rev)
    assert first is not None and first["annotation_id"] == ids[0] and first["value"] == answer("sport")
    review_annotation(project, rev, ids[0], "accept")
    with pytest.raises(ConflictError):
        review_annotation(project, rev, ids[0], "reject", "wrong_label")
    with pytest.raises(InvalidInputError, match="taxonomy"):
        review_annotation(project, rev, ids[1], "reject")
    review_annotation(project, rev, ids[1], "reject", "wrong_label")
    # the task asks again, from someone other than the author (rejected_to: others)
    assert next_task(project, a) is None
    again = next_task(project, b)
    assert again is not None
    fixed = review_annotation(project, rev, ids[2], "fix", "wrong_label", value=answer("politics"))
    with project.store.read() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT id, status, supersedes, value FROM annotations"))}
        codes = conn.execute(text("SELECT decision, reason_code FROM reviews ORDER BY id")).all()
    assert rows[ids[2]].status == "superseded"
    assert rows[fixed["fixed_by"]].supersedes == ids[2] and orjson.loads(rows[fixed["fixed_by"]].value) == answer(
        "politics"
    )
    assert [tuple(c) for c in codes] == [("accept", None), ("reject", "wrong_label"), ("fix", "wrong_label")]
    from labelloop.labeling.review import error_types

    summary = error_types(project)
    assert summary["by_code"] == {"accept": 1, "wrong_label": 2}
    assert summary["by_label"] == {"sport": {"accept": 1}, "tech": {"wrong_label": 1}, "business": {"wrong_label": 1}}
    assert summary["by_annotator"] == {"ann": {"accept": 1, "wrong_label": 2}}

    # escalate b's answer: the task waits for an adjudicator who did not answer it
    review_annotation(project, rev, submit_annotation(project, b, again["task_id"], again["lease_id"], answer("tech"))[
        "annotation_id"
    ], "escalate")  # fmt: skip
    pending = next_for_adjudication(project, judge)
    assert pending is not None and pending["task_id"] == again["task_id"]
    assert [x["author_id"] for x in pending["annotations"]] == [a.user_id, b.user_id]
    with pytest.raises(InvalidInputError):
        adjudicate(project, judge, again["task_id"], answer("tech"), "  ")
    done = adjudicate(project, judge, again["task_id"], answer("sport"), "guidelines: the match report is sport")
    assert done["state"] == "complete"
    assert next_for_adjudication(project, judge) is None
    with pytest.raises(ConflictError):
        adjudicate(project, judge, again["task_id"], answer("sport"), "again")


# -- audit chain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_audit_chain_detects_tampering(make_project: ProjectFactory, tamper: str) -> None:
    from labelloop.governance.audit import verify_audit

    project = make_project(labeling_config())
    seed_records(project, 3)
    for i in range(3):
        add_user(project, f"user{i}", "annotator")
    create_tasks(project)
    before = verify_audit(project)
    assert before["ok"] and before["entries"] >= 5
    with project.store.write() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]
        if tamper == "edit":
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :i"), {"i": ids[2]})
        elif tamper == "delete":
            conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[2]})
        else:  # swap two entries' contents and hashes: each still self-consistent, the order is not
            a, b = (
                conn.execute(text("SELECT * FROM audit_log WHERE id = :i"), {"i": i}).mappings().one() for i in ids[1:3]
            )
            for target, source in ((ids[1], b), (ids[2], a)):
                conn.execute(
                    text("UPDATE audit_log SET actor = :actor, action = :action, target = :target, at = :at, "
                         "details = :details, prev_hash = :prev_hash, hash = :hash WHERE id = :id"),
                    {**{k: source[k] for k in ("actor", "action", "target", "at", "details", "prev_hash", "hash")},
                     "id": target},
                )  # fmt: skip
    after = verify_audit(project)
    assert not after["ok"]
    assert after["first_bad"] in ids[1:4]


# -- gold ------------------------------------------------------------------------------------------


def test_gold_items_measure_annotators_and_pause_the_inaccurate(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from labelloop.labeling import queue
    from labelloop.labeling.gold import add_gold, gold_report, resume_annotator, wilson

    monkeypatch.setattr(queue, "_random", random.Random(3))  # which leases are gold: fixed for the test
    project = make_project(
        labeling_config(overlap=2, gold_rate=0.5, gold_min_answers=3, gold_min_accuracy=0.9, gold_feedback=True)
    )
    seed_records(project, 30)
    with project.store.read() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]
    for rid in ids[:4]:
        add_gold(project, rid, answer("sport"))
    with pytest.raises(InvalidInputError):
        add_gold(project, ids[0], answer("sport"))  # already an item
    with pytest.raises(InvalidInputError):
        add_gold(project, ids[5], answer("cooking"))  # not a label
    assert create_tasks(project)["created"] == 26  # gold records are not regular tasks

    good, bad = principal(project, "good"), principal(project, "bad")
    seen_gold = {"good": 0, "bad": 0}
    for person, label in ((bad, "tech"), (good, "sport")):
        for _ in range(20):
            try:
                leased = next_task(project, person)
            except ConflictError as exc:
                assert person is bad and "paused" in str(exc)
                break
            if leased is None:
                break
            assert "is_gold" not in leased and "gold_value" not in str(leased)  # indistinguishable
            done = submit_annotation(project, person, leased["task_id"], leased["lease_id"], answer(label))
            if "gold" in done:
                seen_gold[person.name] += 1
                assert done["gold"]["correct"] is (label == "sport")
    report = {r["user"]: r for r in gold_report(project)}
    assert report["good"]["correct"] == report["good"]["answers"] == seen_gold["good"] >= 1
    assert report["bad"]["correct"] == 0 and report["bad"]["answers"] >= 3
    assert report["bad"]["paused"] is True and report["good"]["paused"] is False
    low, high = wilson(0, 3)
    assert low == 0.0 and 0.5 < high < 0.6
    resume_annotator(project, "bad")
    assert next_task(project, bad) is not None  # resumed: leases again
    with project.store.read() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_log ORDER BY id"))]
    assert "annotator.paused" in actions and "annotator.resumed" in actions


# -- tokens ----------------------------------------------------------------------------------------


def test_tokens_expire_and_can_be_revoked(make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from labelloop.errors import AuthenticationError
    from labelloop.governance import service
    from labelloop.governance.service import authenticate_token, new_token, revoke_tokens

    project = make_project(labeling_config())
    made = add_user(project, "tess", "annotator", token_days=1)
    assert made["token_expires_at"] > time.time() + 86_000
    assert authenticate_token(project.store, made["token"]).name == "tess"
    second = new_token(project, "tess")["token"]
    assert revoke_tokens(project, "tess")["revoked"] == 2
    for token in (made["token"], second):
        with pytest.raises(AuthenticationError):
            authenticate_token(project.store, token)  # revoked: at once in this process, cache included
    later = new_token(project, "tess", token_days=1)["token"]
    real = time.time
    monkeypatch.setattr(service, "TOKEN_TTL_S", 0.0)
    monkeypatch.setattr(time, "time", lambda: real() + 2 * 86_400)
    with pytest.raises(AuthenticationError):
        authenticate_token(project.store, later)  # expired


@pytest.mark.parametrize("tamper", ["edit_value", "delete_first", "delete_last"])
def test_annotation_chains_detect_tampering(make_project: ProjectFactory, tamper: str) -> None:
    from labelloop.governance.audit import verify_audit
    from labelloop.labeling.review import review_annotation

    project = make_project(labeling_config(overlap=3, k_max=3))
    seed_records(project, 1)
    create_tasks(project)
    people = [principal(project, f"p{i}") for i in range(3)]
    ids = []
    for person, label in zip(people, ("sport", "sport", "tech"), strict=True):
        leased = next_task(project, person)
        assert leased is not None
        ids.append(
            submit_annotation(project, person, leased["task_id"], leased["lease_id"], answer(label))["annotation_id"]
        )
    review_annotation(project, principal(project, "rev", "reviewer"), ids[2], "fix", "wrong_label", answer("sport"))
    clean = verify_audit(project)
    assert clean["ok"] and clean["annotations"] == 4  # three answers and the fix, one chain
    with project.store.write() as conn:
        if tamper == "edit_value":
            conn.execute(
                text("UPDATE annotations SET value = :v WHERE id = :i"),
                {"v": '{"topic":{"label":"politics"}}', "i": ids[1]},
            )
        elif tamper == "delete_first":
            conn.execute(text("DELETE FROM annotations WHERE id = :i"), {"i": ids[0]})
        else:
            conn.execute(text("DELETE FROM annotations WHERE id = (SELECT MAX(id) FROM annotations)"))
    broken = verify_audit(project)
    assert not broken["ok"]
    if tamper == "delete_last":
        assert "lost annotations" in broken["problem"]
    else:
        assert broken["first_bad_annotation"] in ids


def test_tasks_by_flag_filter(make_project: ProjectFactory) -> None:
    config = labeling_config()
    config["stages"] = {"rules": [{"field": "text", "language": ["en"], "severity": "flag"}]}
    project = make_project(config)
    rows = [
        {"id": "en", "text": "The team won the final match of the season in London."},
        {"id": "de", "text": "Die Mannschaft hat das Spiel in der letzten Minute gewonnen und ist sehr froh."},
    ]
    push_records(project, orjson.dumps(rows))
    made = create_tasks(project, flag="wrong_language")
    assert made["created"] == 1
    with project.store.read() as conn:
        key = conn.execute(text("SELECT r.source_key FROM tasks t JOIN records r ON r.id = t.record_id")).scalar_one()
    assert key == "de"


def test_tasks_by_payload_fields(make_project: ProjectFactory) -> None:
    config = labeling_config()
    config["record"]["fields"]["channel"] = {"type": "string"}
    project = make_project(config)
    rows = [{"id": f"c{i}", "text": f"message {i}", "channel": "email" if i % 3 == 0 else "chat"} for i in range(9)]
    push_records(project, orjson.dumps(rows))
    with pytest.raises(InvalidInputError, match="not fields"):
        create_tasks(project, where={"nope": 1})
    made = create_tasks(project, where={"channel": "email"})
    assert made["created"] == 3
    with project.store.read() as conn:
        keys = sorted(
            r[0] for r in conn.execute(text("SELECT r.source_key FROM tasks t JOIN records r ON r.id = t.record_id"))
        )
    assert keys == ["c0", "c3", "c6"]


def test_a_held_task_is_given_back_instead_of_a_new_lease(make_project: ProjectFactory) -> None:
    from labelloop.labeling.queue import held_task

    project = make_project(labeling_config())
    seed_records(project, 3)
    create_tasks(project)
    ann = principal(project, "ann")
    assert held_task(project, ann) is None
    first = next_task(project, ann)
    assert first is not None
    again = held_task(project, ann)
    assert again == first  # the same task, lease and expiry: nothing new was leased
    second = next_task(project, ann)
    assert second is not None and held_task(project, ann) == first  # the oldest live lease comes first
    submit_annotation(project, ann, first["task_id"], first["lease_id"], answer("sport"))
    assert held_task(project, ann) == second
    token = add_user(project, "viewer1", "viewer")["token"]
    ann_token = add_user(project, "ann2", "annotator")["token"]
    with TestClient(create_app(project)) as client:
        url = f"/api/v1/projects/{project.name}/queue/held"
        assert client.get(url, headers=bearer(ann_token)).status_code == 204
        leased = client.post(f"/api/v1/projects/{project.name}/queue/next", headers=bearer(ann_token)).json()
        held = client.get(url, headers=bearer(ann_token))
        assert held.status_code == 200 and held.json()["lease_id"] == leased["lease_id"]
        assert_problem(client.get(url, headers=bearer(token)), 403)


def test_next_with_resume_gives_the_held_task_first_then_a_new_lease(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config())
    seed_records(project, 4)  # ann labels three, ann2 the last
    create_tasks(project)
    ann = principal(project, "ann")
    first = next_task(project, ann, resume=True)  # nothing held: a new lease
    assert first is not None
    assert next_task(project, ann, resume=True) == first  # held: the same task, lease and expiry
    second = next_task(project, ann)  # without resume a second lease, as before
    assert second is not None and second["task_id"] != first["task_id"]
    assert next_task(project, ann, resume=True) == first  # the oldest live lease comes first
    submit_annotation(project, ann, first["task_id"], first["lease_id"], answer("sport"))
    assert next_task(project, ann, resume=True) == second
    submit_annotation(project, ann, second["task_id"], second["lease_id"], answer("tech"))
    third = next_task(project, ann, resume=True)
    assert third is not None and third["task_id"] not in (first["task_id"], second["task_id"])
    with project.store.read() as conn:
        live = conn.execute(text("SELECT COUNT(*) FROM leases WHERE state = 'active'")).scalar_one()
    assert live == 1
    ann_token = add_user(project, "ann2", "annotator")["token"]
    with TestClient(create_app(project)) as client:
        url = f"/api/v1/projects/{project.name}/queue/next"
        leased = client.post(url, params={"resume": "true"}, headers=bearer(ann_token))
        assert leased.status_code == 200
        again = client.post(url, params={"resume": "true"}, headers=bearer(ann_token))
        assert again.status_code == 200 and again.json() == leased.json()
        other = client.post(url, headers=bearer(ann_token))
        assert other.status_code == 204  # four tasks, overlap 1: none left for a second lease
        assert_problem(client.post(url, params={"resume": "maybe"}, headers=bearer(ann_token)), 422)
