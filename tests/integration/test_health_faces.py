"""The data-health features through the CLI (a real subprocess) and the HTTP API, on SQLite and PostgreSQL:
per-stage counts in ``ingest --json``, ``records --flag``, ``quarantine list|release --force``,
``consent withdraw``, ``runs release``, and no personal data in anything printed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from labelloop.api.app import create_app
from labelloop.ingest.service import push_records
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.contract import INGEST_KEYS
from tests.integration.test_api import assert_problem, bearer, token_for
from tests.integration.test_cli import base_env, ok_json, run, user_error

EMAIL = "canary.cli@example.org"
CARD = "4111 1111 1111 1111"

ROWS: list[dict[str, Any]] = [
    {"id": "a1", "text": f"Please refund the order, write to {EMAIL} thanks", "user": "s1", "consent": ["labeling"]},
    {
        "id": "a2",
        "text": "Die Lieferung ist leider nicht angekommen, bitte helfen Sie mir",
        "user": "s1",
        "consent": ["labeling"],
    },
    {"id": "a3", "text": "short", "user": "s2", "consent": ["labeling"]},
    {"id": "a4", "text": f"My card {CARD} was charged twice this month", "user": "s3"},
]


def health_config() -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["stages"] = {
        "pii": {"email": "mask", "card": "mask"},
        "consent": {"required": ["labeling"], "action": "quarantine"},
        "rules": [
            {"field": "text", "min_length": 10},
            {"field": "text", "language": ["en"], "severity": "flag"},
        ],
    }
    return config


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    return {**base_env(), "LABELLOOP_DATABASE_URL": db_url}


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    body = b"".join(orjson.dumps(r) + b"\n" for r in ROWS) + b'{"id": "bad", "text": "' + EMAIL.encode() + b"\n"
    return make_project(health_config(), {"data/a.jsonl": body})


def test_cli_ingest_reports_stage_counts_and_prints_no_personal_data(project: Project, env: dict[str, str]) -> None:
    result = run(["ingest", "--project-dir", project.dir, "--json"], env)
    data = ok_json(result)
    assert data.keys() >= INGEST_KEYS
    assert (data["read"], data["new"], data["redacted"], data["quarantined"], data["flagged"]) == (5, 2, 1, 3, 1)
    assert data["quarantine_reasons"] == {"too_short": 1, "consent_missing": 1, "invalid_json": 1}
    assert data["stages"]["pii"]["entities"] == {"email": 1}
    assert data["stages"]["rules"] == {"flagged": 1, "quarantined": 1, "reasons": {"too_short": 1}}
    human = run(["ingest", "--project-dir", project.dir], env)  # nothing new: still a clean exit
    assert human.returncode == 0, human.stderr
    listed = ok_json(run(["quarantine", "list", "--project-dir", project.dir, "--json"], env))
    records = ok_json(run(["records", "--project-dir", project.dir, "--json", "--payload"], env))
    for output in (result.stdout, result.stderr, human.stdout, human.stderr, str(listed), str(records)):
        assert EMAIL not in output and CARD not in output and CARD.replace(" ", "") not in output


def test_cli_flag_filter_release_force_withdraw(project: Project, env: dict[str, str]) -> None:
    ok_json(run(["ingest", "--project-dir", project.dir, "--json"], env))
    flagged = ok_json(run(["records", "--flag", "wrong_language", "--project-dir", project.dir, "--json"], env))
    assert [r["source_key"] for r in flagged["records"]] == ["a2"]

    held = ok_json(run(["quarantine", "list", "--project-dir", project.dir, "--json"], env))["records"]
    by_key = {r["source_key"]: r for r in held}
    short = by_key["a3"]["id"]
    line = user_error(run(["quarantine", "release", short, "--project-dir", project.dir], env))
    assert "still invalid" in line and "short" not in line.split(":")[-1]  # the message never quotes the value
    forced = ok_json(run(["quarantine", "release", short, "--force", "--project-dir", project.dir, "--json"], env))
    assert forced["status"] == "accepted"
    # consent cannot be forced
    line = user_error(run(["quarantine", "release", by_key["a4"]["id"], "--force", "--project-dir", project.dir], env))
    assert "labeling" in line

    out = ok_json(
        run(
            ["consent", "withdraw", "--subject", "s1", "--purpose", "labeling", "--project-dir", project.dir, "--json"],
            env,
        )
    )
    assert (out["records"], out["left_queues"]) == (2, 2)
    gone = ok_json(run(["records", "--status", "withdrawn", "--project-dir", project.dir, "--json"], env))
    assert sorted(r["source_key"] for r in gone["records"]) == ["a1", "a2"]
    status = ok_json(run(["status", "--project-dir", project.dir, "--json"], env))
    assert status["by_status"]["withdrawn"] == 2
    assert status["health"]["redacted"] == 1
    usage = run(["consent", "withdraw", "--subject", "s1", "--project-dir", project.dir], env)
    assert usage.returncode == 2


def test_cli_runs_release_of_a_held_run(make_project: ProjectFactory, env: dict[str, str]) -> None:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["stages"] = {"anomalies": {"min_history": 2, "action": "hold"}}
    project = make_project(config)
    for week in range(2):
        rows = [{"id": f"w{week}-{i}", "text": f"ticket number {i} of week {week}"} for i in range(60)]
        push_records(project, orjson.dumps(rows))
    summary = push_records(project, orjson.dumps([{"id": "tiny", "text": "only one ticket this week"}]))
    assert summary["anomalies"]["api"]["held"] == 1
    status = ok_json(run(["status", "--project-dir", project.dir, "--json"], env))
    assert status["by_status"]["held"] == 1
    assert status["anomalies"][0]["anomalies"][0]["check"] == "volume"
    released = ok_json(run(["runs", "release", summary["run_id"], "--project-dir", project.dir, "--json"], env))
    assert released == {"run_id": summary["run_id"], "status": "accepted", "records": 1}
    assert "holds no records" in user_error(run(["runs", "drop", summary["run_id"], "--project-dir", project.dir], env))


# -- HTTP ------------------------------------------------------------------------------------------------


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(project)) as test_client:
        yield test_client


def test_api_quarantine_consent_and_runs_routes(project: Project, client: TestClient) -> None:
    steward = bearer(token_for(project, "steward"))
    viewer = bearer(token_for(project, "viewer"))
    pushed = client.post(
        "/api/v1/projects/tickets/records",
        content=b"".join(orjson.dumps(r) + b"\n" for r in ROWS),
        headers={**steward, "content-type": "application/x-ndjson"},
    )
    assert pushed.status_code == 200, pushed.text
    assert EMAIL not in pushed.text
    counts = pushed.json()
    assert (counts["redacted"], counts["quarantined"], counts["flagged"]) == (1, 2, 1)

    flagged = client.get("/api/v1/projects/tickets/records", params={"flag": "wrong_language"}, headers=viewer)
    assert [r["source_key"] for r in flagged.json()["records"]] == ["a2"]
    held = client.get("/api/v1/projects/tickets/records", params={"status": "quarantined"}, headers=viewer).json()
    short = next(r["id"] for r in held["records"] if r["reasons"][0]["code"] == "too_short")

    assert_problem(client.post(f"/api/v1/projects/tickets/quarantine/{short}/release", headers=viewer), 403)
    assert_problem(client.post(f"/api/v1/projects/tickets/quarantine/{short}/release", headers=steward), 409)
    forced = client.post(f"/api/v1/projects/tickets/quarantine/{short}/release", json={"force": True}, headers=steward)
    assert forced.status_code == 200 and forced.json()["status"] == "accepted"
    assert_problem(client.post("/api/v1/projects/tickets/quarantine/999999/drop", headers=steward), 404)

    withdraw = "/api/v1/projects/tickets/subjects/s1/consent/withdraw"
    assert_problem(client.post(withdraw, json={"purposes": []}, headers=steward), 422)
    assert_problem(client.post(withdraw, json={"purposes": ["labeling"]}, headers=viewer), 403)
    done = client.post(withdraw, json={"purposes": ["labeling"]}, headers=steward)
    assert done.status_code == 200 and done.json()["left_queues"] == 2

    runs = client.get("/api/v1/projects/tickets/runs/anomalies", headers=viewer)
    assert runs.status_code == 200 and runs.json() == {"runs": []}
    assert_problem(client.post("/api/v1/projects/tickets/runs/12345/release", headers=steward), 409)


def test_api_near_duplicate_cluster(make_project: ProjectFactory) -> None:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["stages"] = {"near_duplicates": {"threshold": 0.8}}
    project = make_project(config)
    base = " ".join(f"word{i}" for i in range(60))
    rows = [{"id": "root", "text": base}]
    rows += [{"id": f"copy{k}", "text": base.replace(f"word{10 * k}", f"other{k}")} for k in range(1, 4)]
    rows.append({"id": "unrelated", "text": " ".join(f"term{i}" for i in range(60))})
    assert push_records(project, orjson.dumps(rows))["near_duplicates"] == 3
    headers = bearer(token_for(project, "viewer"))
    with TestClient(create_app(project)) as client:
        page = client.get("/api/v1/projects/tickets/records", headers=headers).json()["records"]
        ids = {r["source_key"]: r["id"] for r in page}
        answer = client.get(f"/api/v1/records/{ids['copy2']}/cluster", headers=headers).json()
        assert answer["root"] == ids["root"]
        assert [m["id"] for m in answer["members"]] == [ids["copy1"], ids["copy2"], ids["copy3"]]
        assert all(0.8 <= m["similarity"] < 1 for m in answer["members"])
        alone = client.get(f"/api/v1/records/{ids['unrelated']}/cluster", headers=headers).json()
        assert alone == {"record_id": ids["unrelated"], "root": ids["unrelated"], "members": []}
        assert_problem(client.get("/api/v1/records/987654/cluster", headers=headers), 404)


def test_cli_audit_verify(project: Project, env: dict[str, str]) -> None:
    from sqlalchemy import text

    ok_json(run(["consent", "withdraw", "--subject", "s1", "--purpose", "labeling", "--project-dir", project.dir,
                 "--json"], env))  # fmt: skip
    intact = ok_json(run(["audit", "verify", "--project-dir", project.dir, "--json"], env))
    assert intact["ok"] is True and intact["entries"] >= 1
    with project.store.write() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    line = user_error(run(["audit", "verify", "--project-dir", project.dir], env))
    assert "audit log broken at entry" in line


def test_another_projects_ids_answer_404(project: Project, client: TestClient, tmp_path: Path, db_url: str) -> None:
    from tests.integration.test_api import open_other_project

    other = open_other_project(tmp_path / "other", db_url)
    try:
        push_records(other, orjson.dumps([{"id": "x1", "user": "u"}]))  # missing text: quarantined in 'billing'
        with other.store.read() as conn:
            from sqlalchemy import text

            foreign = conn.execute(text("SELECT record_id FROM quarantine")).scalar_one()
        steward = bearer(token_for(project, "steward"))
        for action in ("release", "drop"):
            answer = client.post(f"/api/v1/projects/tickets/quarantine/{foreign}/{action}", headers=steward)
            assert_problem(answer, 404)
        assert_problem(client.get(f"/api/v1/records/{foreign}/cluster", headers=steward), 404)
        assert_problem(client.get(f"/api/v1/records/{foreign}/lineage", headers=steward), 404)
    finally:
        other.store.dispose()


def test_dropping_a_large_quarantined_row_erases_its_blob_and_audits_its_digest(make_project: ProjectFactory) -> None:
    from sqlalchemy import text

    from labelloop.domain.audit import digest_of
    from labelloop.ingest.quarantine import drop_quarantined

    raw = b'{"id": "huge", "text": "' + b"x" * 100_000  # unterminated: invalid JSON, kept in the blob store
    project = make_project(files={"data/a.jsonl": raw + b"\n"})
    from labelloop.ingest.service import run_ingest

    assert run_ingest(project)["quarantined"] == 1
    with project.store.read() as conn:
        rid, ref = conn.execute(text("SELECT record_id, raw_blob_ref FROM quarantine")).one()
    assert ref is not None and project.blobs.get(ref) == raw
    drop_quarantined(project, int(rid))
    from labelloop.errors import NotFoundError

    with pytest.raises(NotFoundError):
        project.blobs.get(ref)  # erased
    with project.store.read() as conn:
        details = orjson.loads(
            conn.execute(text("SELECT details FROM audit_log WHERE action = 'quarantine.drop'")).scalar_one()
        )
    assert details["before"] == digest_of(raw)


def test_cli_tasks_create_filters_and_bad_filters(make_project: ProjectFactory, env: dict[str, str]) -> None:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["record"]["fields"]["channel"] = {"type": "string"}
    config["label_schema"] = {"questions": [{"name": "topic", "type": "single", "labels": ["a", "b"]}]}
    rows = [{"id": f"i{i}", "text": f"ticket {i}", "channel": ["email", "chat"][i % 2]} for i in range(6)]
    project = make_project(config, {"data/a.jsonl": b"".join(orjson.dumps(r) + b"\n" for r in rows)})
    ok_json(run(["ingest", "--project-dir", project.dir, "--json"], env))
    made = ok_json(run(["tasks", "create", "--where", "channel=email", "--project-dir", project.dir, "--json"], env))
    assert made["created"] == 3
    assert "FIELD=VALUE" in user_error(run(["tasks", "create", "--where", "bogus", "--project-dir", project.dir], env))
    assert "record ids" in user_error(run(["tasks", "create", "--ids", "1,x", "--project-dir", project.dir], env))
