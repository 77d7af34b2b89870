"""The dashboard's figures (``labelloop.metrics.dashboard``) on SQLite and PostgreSQL: known answers for
counts, latency percentiles, freshness, backlog ages, throughput and completeness on constructed times;
the same counts as ``labelloop status`` and the same α as the quality service; people's figures only
when asked for; the snapshot is reused until the store changes. Also the members service (roles,
passwords) behind the settings page.

``seed_dashboard`` builds a realistic project (two sources, annotators of different skill, gold items,
reviews, adjudication, final labels, recorded agreement, two releases with trained models, a drift
report) for the browser tests and the screenshots.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pytest
from sqlalchemy import text

from labelloop.config import ScheduleSpec
from labelloop.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from labelloop.governance import sessions
from labelloop.governance.service import (
    Principal,
    Role,
    add_user,
    list_members,
    set_password,
    set_role,
    verify_password,
)
from labelloop.governance.sessions import authenticate_session, log_in
from labelloop.ingest.service import push_records
from labelloop.ingest.status import project_status
from labelloop.labeling import queue as queue_module
from labelloop.labeling.gold import add_gold
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.review import adjudicate, next_for_adjudication, next_for_review, review_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.metrics import dashboard as dashboard_module
from labelloop.metrics import queries
from labelloop.metrics.dashboard import (
    AGE_BUCKETS,
    age_buckets,
    dashboard,
    forget_snapshots,
    kpis,
    percentile,
    wait_for_refresh,
)
from labelloop.project import Project
from labelloop.quality.service import aggregate, agreement, drift
from labelloop.releases.service import create_release
from labelloop.schedules.service import run_job
from labelloop.store import repo
from tests.conftest import DEFAULT_CONFIG, ProjectFactory

TOPICS = ["business", "entertainment", "politics", "sport", "tech"]
PASSWORD = "correct-horse-battery"
WORDS = {
    "business": "shares profit market bank deal",
    "entertainment": "film music star show award",
    "politics": "vote minister party election law",
    "sport": "match goal team coach league",
    "tech": "software phone chip data robot",
}


def dashboard_config(**labeling: Any) -> dict[str, Any]:
    """Two push sources, a topic question, overlap 2 growing to 3 on disagreement, drift on small windows."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["sources"] = [{"name": "email", "kind": "push"}, {"name": "chat", "kind": "push"}]
    config["label_schema"] = {
        "guidelines": "# Topic\n\nPick the **main** topic of the message.\n\n- *sport*: games, teams, results",
        "questions": [{"name": "topic", "type": "single", "labels": TOPICS}],
    }
    config["labeling"] = {"overlap": 2, "k_max": 3, "gold_rate": 0.25, **labeling}
    config["quality"] = {"drift": {"min_rows": 5, "min_slice_rows": 5, "text": True, "labels": True}}
    return config


def principal(project: Project, name: str, role: str, password: str | None = PASSWORD) -> Principal:
    """A member of ``project`` (who can log in with ``password``) as the services see them."""
    add_user(project, name, role, password=password)
    with project.store.read() as conn:
        user_id = conn.execute(
            text("SELECT id FROM users WHERE name = :n AND project_id = :p"), {"n": name, "p": project.id}
        ).scalar_one()
    return Principal(int(user_id), name, Role(role), project.id, project.name)


def answer(label: str) -> dict[str, Any]:
    return {"topic": {"label": label}}


def push(project: Project, source: str, start: int, n: int, long: bool = False) -> dict[str, str]:
    """``n`` messages into ``source``; returns external id -> true topic."""
    truth: dict[str, str] = {}
    rows = []
    for i in range(start, start + n):
        topic = TOPICS[(i * 7 + i // 5) % len(TOPICS)]
        extra = " ".join(WORDS[topic].split()[::-1]) * (3 if long else 1)
        rows.append(
            {"id": f"{source}-{i}", "text": f"{topic} message {i}: {WORDS[topic]} {extra}", "user": f"u{i % 9}"}
        )
        truth[f"{source}-{i}"] = topic
    assert push_records(project, orjson.dumps(rows), source=source)["new"] == n
    return truth


@dataclass
class Seeded:
    """What ``seed_dashboard`` made: the people by role and the true topic of every record id."""

    project: Project
    people: dict[str, Principal] = field(default_factory=dict)
    truth: dict[int, str] = field(default_factory=dict)


def _truth_by_record(project: Project, truth: dict[str, str]) -> dict[int, str]:
    with project.store.read() as conn:
        rows = conn.execute(text("SELECT id, external_id FROM records WHERE project_id = :p"), {"p": project.id}).all()
    return {int(rid): truth[str(ext)] for rid, ext in rows if str(ext) in truth}


def _label_round(seeded: Seeded, annotators: list[tuple[str, float]], rng: random.Random) -> int:
    """Annotators take tasks in turn until none has anything left; returns the answers given."""
    project = seeded.project
    given = 0
    busy = True
    while busy:
        busy = False
        for name, skill in annotators:
            lease = next_task(project, seeded.people[name])
            if lease is None:
                continue
            busy = True
            true = seeded.truth[int(lease["record"]["id"])]
            label = true if rng.random() < skill else rng.choice([t for t in TOPICS if t != true])
            submit_annotation(
                project, seeded.people[name], lease["task_id"], lease["lease_id"], answer(label), duration_ms=4000
            )
            given += 1
    return given


def seed_dashboard(project: Project, *, per_round: int = 16, rounds: int = 2, seed: int = 7) -> Seeded:
    """A project with something in every chart (see the module docstring); deterministic for a seed."""
    rng = random.Random(seed)
    queue_module._random.seed(seed)  # which leases are gold items
    seeded = Seeded(project)
    for name, role in [
        ("root", "admin"), ("ada", "steward"), ("vic", "viewer"), ("ann", "annotator"), ("bob", "annotator"),
        ("cyd", "annotator"), ("rex", "reviewer"), ("jay", "adjudicator"),
    ]:  # fmt: skip
        seeded.people[name] = principal(project, name, role)
    truth = push(project, "email", 0, 40)
    window_start = time.time()
    time.sleep(0.01)
    truth |= push(project, "chat", 100, 30)
    seeded.truth = _truth_by_record(project, truth)
    ids = sorted(seeded.truth)
    for rid in ids[:3]:  # gold items, answered by everyone once
        add_gold(project, rid, answer(seeded.truth[rid]))
    annotators = [("ann", 0.95), ("bob", 0.8), ("cyd", 0.55)]
    for round_no, release in enumerate(f"v{k + 1}" for k in range(rounds)):
        create_tasks(project, budget=per_round, seed=seed + round_no)
        _label_round(seeded, annotators, rng)
        for _ in range(6):  # a reviewer checks some answers: fixes the wrong ones
            item = next_for_review(project, seeded.people["rex"])
            if item is None:
                break
            given = item["value"]["topic"]["label"]
            right = seeded.truth[item["record_id"]]
            if given == right:
                review_annotation(project, seeded.people["rex"], item["annotation_id"], "accept")
            else:
                code = "wrong_label" if rng.random() < 0.7 else "guideline_unclear"
                review_annotation(
                    project, seeded.people["rex"], item["annotation_id"], "fix", code, value=answer(right)
                )
        while (task := next_for_adjudication(project, seeded.people["jay"])) is not None:
            adjudicate(
                project, seeded.people["jay"], task["task_id"], answer(seeded.truth[task["record"]["id"]]), "clear"
            )
        aggregate(project)
        agreement(project, record=True, bootstrap=50)
        create_release(project, release)
        run_job(project, ScheduleSpec(job="train", cron="0 * * * *", min_new_labels=1), scheduled_for=1000.0 + round_no)
    middle = time.time()
    time.sleep(0.01)
    push(project, "chat", 200, 12, long=True)  # a later batch that reads differently: drift
    drift(project, reference=(window_start - 60, middle), current=(middle, time.time() + 1))
    create_tasks(project, budget=10, seed=seed + 9)  # a backlog left open
    return seeded


def backdate(project: Project, days: int = 21, seed: int = 7) -> None:
    """Spread a seeded project's activity over the last ``days`` days, as a real project's would be (the
    seed runs in seconds): records ingested day after day, tasks created after them and labeled hours
    later, answers in between, recorded quality runs and releases in their order."""
    rng = random.Random(seed)
    now = time.time()
    span = days * 86_400.0
    with project.store.write() as conn:
        p = {"p": project.id}
        records = conn.execute(text("SELECT id FROM records WHERE project_id = :p ORDER BY id"), p).scalars().all()
        ingested: dict[int, float] = {}
        for k, rid in enumerate(records):
            ingested[int(rid)] = now - span + span * 0.92 * k / max(1, len(records))
            conn.execute(
                text("UPDATE records SET ingested_at = :t WHERE id = :id"), {"t": ingested[int(rid)], "id": rid}
            )
        tasks = conn.execute(
            text("SELECT id, record_id, state, completed_at FROM tasks WHERE project_id = :p ORDER BY id"), p
        ).all()
        for tid, rid, state, completed in tasks:
            created = min(ingested[int(rid)] + rng.uniform(0.05, 1.5) * 86_400, now - 600)
            done = None if completed is None else min(created + rng.lognormvariate(1.5, 0.9) * 3_600, now - 60)
            if state == "open" and completed is None:
                created = now - rng.uniform(0.1, 6) * 86_400 * rng.random()
            conn.execute(
                text("UPDATE tasks SET created_at = :c, completed_at = :d WHERE id = :id"),
                {"c": created, "d": done, "id": tid},
            )
            end = done if done is not None else now - 60
            answers = conn.execute(text("SELECT id FROM annotations WHERE task_id = :t ORDER BY id"), {"t": tid}).all()
            for (aid,) in answers:
                conn.execute(
                    text("UPDATE annotations SET created_at = :c WHERE id = :id"),
                    {"c": rng.uniform(created, max(created, end)), "id": aid},
                )
        for table, column in (("quality_runs", "finished_at"), ("releases", "created_at"), ("job_runs", "finished_at")):
            ids = conn.execute(text(f"SELECT id FROM {table} WHERE project_id = :p ORDER BY id"), p).scalars().all()
            for k, row_id in enumerate(ids):
                at = now - span * 0.6 + span * 0.58 * (k + 1) / len(ids)
                conn.execute(text(f"UPDATE {table} SET {column} = :t WHERE id = :id"), {"t": at, "id": row_id})


# -- pure figures ---------------------------------------------------------------------------------------


def test_percentile_and_age_buckets_known_answers() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([], 50) is None
    now = 1_000_000.0
    times = np.sort(np.asarray([now - 10, now - 3_599, now - 3_600, now - 7_200, now - 86_400 * 3, now - 86_400 * 30]))
    buckets = age_buckets(times, now)
    assert list(buckets) == [label for _, label in AGE_BUCKETS]
    assert list(buckets.values()) == [2, 2, 1, 1]
    assert sum(age_buckets(np.asarray([], dtype=np.float64), now).values()) == 0


# -- the service on a store -----------------------------------------------------------------------------


def _set(project: Project, sql: str, **params: Any) -> None:
    with project.store.write() as conn:
        conn.execute(text(sql), params)


def test_known_answers_on_constructed_times(make_project: ProjectFactory) -> None:
    project = make_project(dashboard_config(overlap=1, k_max=1))
    push(project, "email", 0, 4)
    push(project, "chat", 10, 3)
    create_tasks(project)
    ann = principal(project, "ann", "annotator")
    done_tasks = []
    for _ in range(5):  # five of seven tasks answered (overlap 1: each is complete)
        lease = next_task(project, ann)
        assert lease is not None
        submit_annotation(project, ann, lease["task_id"], lease["lease_id"], answer("sport"))
        done_tasks.append(lease["task_id"])

    # constructed times: records ingested at T0; tasks labeled 10/20/30/40 s (email) and 100 s (chat) later
    t0 = 1_700_000_000.0
    now = t0 + 86_400 * 2
    _set(project, "UPDATE records SET ingested_at = :t WHERE project_id = :p", t=t0, p=project.id)
    with project.store.read() as conn:
        rows = conn.execute(
            text(
                "SELECT t.id, s.name FROM tasks t JOIN records r ON r.id = t.record_id "
                "JOIN sources s ON s.id = r.source_id WHERE t.project_id = :p ORDER BY t.id"
            ),
            {"p": project.id},
        ).all()
    email_done = [tid for tid, src in rows if src == "email" and tid in done_tasks]
    chat_done = [tid for tid, src in rows if src == "chat" and tid in done_tasks]
    assert len(email_done) + len(chat_done) == 5
    # whatever the queue's order, the completed tasks get these latencies
    for tid, seconds in zip(email_done + chat_done, [10.0, 20.0, 30.0, 40.0, 100.0], strict=True):
        _set(project, "UPDATE tasks SET completed_at = :c WHERE id = :id", c=t0 + seconds, id=tid)
    # the newest labeled record of email was ingested 1 hour after T0
    _set(
        project,
        "UPDATE records SET ingested_at = :t WHERE id = (SELECT record_id FROM tasks WHERE id = :id)",
        t=t0 + 3_600,
        id=email_done[0],
    )
    _set(project, "UPDATE tasks SET completed_at = :c WHERE id = :id", c=t0 + 3_600 + 10, id=email_done[0])
    # open tasks: created 2 h and 3 days before now; answers on two UTC days
    open_ids = [tid for tid, _ in rows if tid not in done_tasks]
    _set(project, "UPDATE tasks SET created_at = :c WHERE id = :id", c=now - 7_200, id=open_ids[0])
    _set(project, "UPDATE tasks SET created_at = :c WHERE id = :id", c=now - 3 * 86_400, id=open_ids[1])
    today = (now // 86_400) * 86_400
    _set(project, "UPDATE annotations SET created_at = :c WHERE project_id = :p", c=today + 60, p=project.id)
    _set(
        project,
        "UPDATE annotations SET created_at = :c WHERE task_id = :id",
        c=today - 86_400 + 60,
        id=done_tasks[0],
    )

    found = dashboard(project, people=True, now=now, refresh_s=0)

    status = project_status(project)
    assert found["counts"]["records"] == status["records"] == 7
    assert found["counts"]["labeled"] == status["labeled"] == 5
    assert found["kpis"]["coverage"] == status["coverage"] == pytest.approx(5 / 7)
    assert found["counts"]["tasks"] == {"open": 2, "complete": 5, "adjudication": 0, "total": 7}
    assert found["counts"]["annotations"] == 5

    lat = found["latency"]
    assert lat["by_source"]["email"]["labels"] == len(email_done)
    assert lat["overall"]["labels"] == 5
    assert lat["overall"]["p50_s"] == pytest.approx(30.0)  # [10, 20, 30, 40, 100]
    assert lat["overall"]["p95_s"] == pytest.approx(88.0)  # 40 + 0.8 * 60
    assert lat["by_source"]["chat"]["p50_s"] == pytest.approx(100.0)
    assert found["kpis"]["label_latency_p50_s"] == pytest.approx(30.0)

    fresh = found["freshness"]["by_source"]
    assert fresh["email"]["age_s"] == pytest.approx(now - (t0 + 3_600))
    assert fresh["chat"]["age_s"] == pytest.approx(now - t0)
    assert found["kpis"]["freshness_s"] == pytest.approx(now - (t0 + 3_600))

    annotate = next(q for q in found["backlog"] if q["queue"] == "annotate")
    assert annotate["items"] == 2
    assert annotate["oldest_age_s"] == pytest.approx(3 * 86_400)
    assert annotate["by_age"] == {"under 1 hour": 0, "1 hour to 1 day": 1, "1 to 7 days": 1, "over 7 days": 0}
    review = next(q for q in found["backlog"] if q["queue"] == "review")
    assert review["items"] == 5  # nobody reviewed: every answer waits

    comp = found["completeness"]
    assert (comp["tasks"], comp["at_overlap"], comp["complete"], comp["adjudicated"]) == (7, 5, 5, 0)
    assert comp["share_at_overlap"] == pytest.approx(5 / 7)
    assert comp["adjudicated_share"] == 0.0

    cov = found["coverage"]["by_source"]
    assert cov["email"] == {
        "labeled": len(email_done),
        "accepted": 4,
        "coverage": len(email_done) / 4,
        "target": None,
        "met": None,
    }
    assert found["coverage"]["targets"] is None and "No coverage targets" in found["coverage"]["targets_note"]

    through = found["throughput"]
    assert through["answers"] == 5
    assert through["total"][-1] == 4 and through["total"][-2] == 1  # today and yesterday (UTC)
    assert through["by_annotator"] == {"ann": through["total"]}

    assert kpis(project, now=now)["label_latency_p95_s"] == pytest.approx(88.0)


def test_counts_alpha_and_people_match_the_services(make_project: ProjectFactory) -> None:
    project = make_project(dashboard_config())
    seeded = seed_dashboard(project, per_round=8)
    steward = dashboard(project, people=True, refresh_s=0)
    viewer = dashboard(project, people=False, refresh_s=0)

    status = project_status(project)
    for key in ("records", "labeled", "coverage"):
        assert steward["counts"][key] == viewer["counts"][key] == status[key]
    now = agreement(project, record=False, bootstrap=0)
    assert steward["kpis"]["krippendorff_alpha"] == now["krippendorff_alpha"] is not None
    assert steward["agreement"]["now"]["per_label"] == now["per_label"]
    assert len(steward["agreement"]["history"]) == 2  # one recorded per round

    # people's figures: stewards and admins only
    assert set(steward["agreement"]["now"]["per_annotator"]) >= {"ann", "bob", "cyd"}
    assert viewer["agreement"]["now"]["per_annotator"] is None and viewer["agreement"]["now"]["pairs"] is None
    assert "by_annotator" in steward["throughput"] and "by_annotator" not in viewer["throughput"]
    assert {g["user"] for g in steward["gold"]} >= {"ann", "bob", "cyd"}
    assert all(0 <= g["interval"][0] <= g["accuracy"] <= g["interval"][1] <= 1 for g in steward["gold"])
    assert viewer["gold"] is None
    assert steward["errors"]["by_annotator"] and viewer["errors"]["by_annotator"] is None
    assert steward["errors"]["reviews"] == viewer["errors"]["reviews"] > 0

    releases = steward["learning"]["releases"]
    assert [r["name"] for r in releases] == ["v1", "v2"]
    assert releases[0]["records"] < releases[1]["records"]
    assert steward["drift"]["runs"], "the seeded drift report is listed"
    assert seeded.people["vic"].role is Role.VIEWER


def test_the_snapshot_is_reused_until_the_store_changes(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(dashboard_config(overlap=1, k_max=1))
    push(project, "email", 0, 3)
    create_tasks(project)
    ann = principal(project, "ann", "annotator")
    reads: list[int] = []
    real = queries.task_groups

    def counted(conn: Any, project_id: int) -> Any:
        reads.append(project_id)
        return real(conn, project_id)

    def answer_one(label: str) -> None:
        lease = next_task(project, ann)
        assert lease is not None
        submit_annotation(project, ann, lease["task_id"], lease["lease_id"], answer(label))

    monkeypatch.setattr(queries, "task_groups", counted)
    first = dashboard(project)
    again = dashboard(project)
    assert len(reads) == 1 and again["counts"] == first["counts"]  # nothing changed: nothing read

    answer_one("tech")  # a small project is read again before the view answers: always current
    after = dashboard(project)
    assert len(reads) == 2 and after["stale"] is False and after["completeness"]["complete"] == 1

    # a large project (its read took at least SLOW_READ_S) answers from its snapshot and reads in the background
    monkeypatch.setattr(dashboard_module, "SLOW_READ_S", 0.0)
    answer_one("sport")
    within = dashboard(project, refresh_s=3_600)  # changed, but read less than refresh_s ago: no new read
    assert within["stale"] is True and within["completeness"]["complete"] == 1
    assert within["counts"]["labeled"] == 2  # counts come from the counters: never stale
    wait_for_refresh(project)
    assert len(reads) == 2
    stale = dashboard(project, refresh_s=0)  # answers at once, and starts a read
    assert stale["stale"] is True and stale["completeness"]["complete"] == 1
    wait_for_refresh(project)
    assert len(reads) == 3
    fresh = dashboard(project, refresh_s=0)
    assert fresh["stale"] is False and fresh["completeness"]["complete"] == 2
    forget_snapshots(project)
    dashboard(project, refresh_s=3_600)  # nothing kept: read before answering
    assert len(reads) == 4


def test_large_projects_show_the_recorded_agreement(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(dashboard_config())
    push(project, "email", 0, 6)
    create_tasks(project)
    ann, bob = principal(project, "ann", "annotator"), principal(project, "bob", "annotator")
    for person in (ann, bob):
        while (lease := next_task(project, person)) is not None:
            submit_annotation(project, person, lease["task_id"], lease["lease_id"], answer("sport"))
    monkeypatch.setattr(dashboard_module, "LIVE_AGREEMENT_MAX", 3)
    none_yet = dashboard(project, refresh_s=0)
    assert none_yet["agreement"]["now"] is None and "labelloop agreement" in none_yet["agreement"]["note"]
    recorded = agreement(project, record=True, bootstrap=0)
    found = dashboard(project, refresh_s=0)
    assert found["agreement"]["now"]["source"] == "recorded"
    assert found["kpis"]["krippendorff_alpha"] == recorded["krippendorff_alpha"]
    assert "as recorded at" in found["agreement"]["note"]


def test_an_empty_project_has_empty_figures(make_project: ProjectFactory) -> None:
    project = make_project(dashboard_config())
    found = dashboard(project, people=True, refresh_s=0)
    assert found["counts"]["records"] == 0
    assert found["kpis"]["label_latency_p50_s"] is None and found["kpis"]["freshness_s"] is None
    assert found["agreement"]["now"] is None and found["agreement"]["note"]
    assert found["learning"]["releases"] == [] and "No model accuracy" in found["learning"]["note"]
    assert all(q["items"] == 0 for q in found["backlog"])


# -- members (governance service) -----------------------------------------------------------------------


def test_members_roles_and_passwords_are_audited(make_project: ProjectFactory) -> None:
    project = make_project(dashboard_config())
    add_user(project, "root", "admin", password=PASSWORD)
    add_user(project, "ada", "annotator", password=PASSWORD)
    add_user(project, "bot", "viewer")
    members = {m["name"]: m for m in list_members(project)}
    assert members["ada"]["role"] == "annotator" and members["ada"]["has_password"] is True
    assert members["bot"]["has_password"] is False and members["bot"]["live_tokens"] == 1

    assert set_role(project, "ada", "steward", actor="user:root")["previous"] == "annotator"
    assert {m["name"]: m["role"] for m in list_members(project)}["ada"] == "steward"
    assert set_role(project, "ada", "steward", actor="user:root")["changed"] is False
    with pytest.raises(InvalidInputError, match="unknown role 'boss'"):
        set_role(project, "ada", "boss")
    with pytest.raises(NotFoundError):
        set_role(project, "nobody", "viewer")
    with pytest.raises(ConflictError, match="last admin"):
        set_role(project, "root", "viewer")
    set_role(project, "ada", "admin", actor="user:root")
    set_role(project, "root", "viewer", actor="user:ada")  # another admin exists now

    session = log_in(project.store, "ada", PASSWORD)
    with pytest.raises(InvalidInputError, match="8 to 1024 characters"):
        set_password(project, "ada", "short")
    assert set_password(project, "ada", "a-new-password", actor="user:root")["sessions_ended"] == 1
    with project.store.read() as conn:
        stored = repo.find_user(conn, project.id, "ada")
        entries = [(e["action"], e["target"]) for e in repo.audit_entries(conn, project.id)]
    assert stored is not None and verify_password("a-new-password", stored["password_hash"])
    sessions._cache.clear()  # the session cache would keep it a few seconds in this process
    with pytest.raises(AuthenticationError, match="session has ended"):
        authenticate_session(project.store, session.token)
    assert ("user.role", "ada") in entries and ("user.role", "root") in entries
    assert ("user.password", "ada") in entries


def test_the_api_and_status_report_the_labeling_kpis(make_project: ProjectFactory, db_url: str) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from labelloop.api.app import create_app
    from labelloop.cli.main import app
    from labelloop.governance.service import new_token

    project = make_project(dashboard_config())
    seed_dashboard(project, per_round=8)
    expected = kpis(project)
    for key in ("completeness", "freshness_s", "label_latency_p50_s", "label_latency_p95_s"):
        assert expected[key] is not None and expected[key] >= 0, key
    token = new_token(project, "ada")["token"]
    with TestClient(create_app(project)) as client:
        answered = client.get(
            f"/api/v1/projects/{project.name}/metrics", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert answered["completeness"] == expected["completeness"]
    assert answered["label_latency_p50_s"] == expected["label_latency_p50_s"]
    result = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url}).invoke(
        app, ["status", "--json", "--project-dir", str(project.dir)]
    )
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert shown["completeness"] == expected["completeness"]
    assert shown["label_latency_p95_s"] == expected["label_latency_p95_s"]


def test_labelloop_train_draws_the_learning_curve(make_project: ProjectFactory) -> None:
    from labelloop.learning.service import train_baseline
    from labelloop.releases.service import create_release

    project = make_project(dashboard_config())
    seed_dashboard(project, per_round=8)
    before = {
        r["name"]: r["test_accuracy"] for r in dashboard(project, people=True, refresh_s=0)["learning"]["releases"]
    }
    create_release(project, "v3", train=0.5, validation=0.1, test=0.4, salt="curve", actor="test")
    trained = train_baseline(project)
    assert trained["trained_from"] == "v3"
    forget_snapshots(project)
    after = dashboard(project, people=True, refresh_s=0)["learning"]["releases"]
    curve = {r["name"]: r for r in after}
    assert set(curve) == {*before, "v3"}
    assert trained["tested_on"] > 0  # the release has test rows
    assert curve["v3"]["test_accuracy"] == trained["test_accuracy"]
    assert curve["v3"]["model_version"] == trained["model_version"]


def test_coverage_is_measured_against_the_configured_targets(make_project: ProjectFactory) -> None:
    config = dashboard_config()
    config["dashboard"] = {"class_targets": {TOPICS[0]: 1, TOPICS[1]: 10_000}, "source_targets": {"email": 0.99}}
    project = make_project(config)
    seed_dashboard(project, per_round=8)
    coverage = dashboard(project, people=True, refresh_s=0)["coverage"]
    assert coverage["targets"] == {"classes": {TOPICS[0]: 1, TOPICS[1]: 10_000}, "sources": {"email": 0.99}}
    assert coverage["targets_note"] is None
    first, second = coverage["by_class"][TOPICS[0]], coverage["by_class"][TOPICS[1]]
    assert first["labels"] >= 1 and first["met"] is True and first["missing"] == 0
    assert second["met"] is False and second["missing"] == 10_000 - second["labels"]
    assert coverage["by_class"][TOPICS[2]]["target"] is None and coverage["by_class"][TOPICS[2]]["met"] is None
    email = coverage["by_source"]["email"]
    assert email["target"] == 0.99 and email["met"] is (email["coverage"] >= 0.99)
    assert coverage["by_source"]["chat"]["target"] is None


def test_targets_are_validated(make_project: ProjectFactory) -> None:
    from labelloop.errors import ConfigError

    config = dashboard_config()
    config["dashboard"] = {"source_targets": {"email": 1.5}}
    with pytest.raises(ConfigError, match="source_targets"):
        make_project(config)
