"""Erasure of a data subject (DELETE /api/v1/projects/{project}/subjects/{subject_id}), on both backends."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, text
from typer.testing import CliRunner

from labelloop.api.app import create_app
from labelloop.governance.erasure import erase_subject
from labelloop.governance.service import add_user
from labelloop.ingest.service import push_records
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.service import import_predictions
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory

LABELS = ["sport", "tech"]


def erasure_config() -> dict[str, Any]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["label_schema"] = {"questions": [{"name": "topic", "type": "single", "labels": LABELS}]}
    config["record"]["blob_threshold_bytes"] = 2048
    return config


def seeded(make_project: ProjectFactory) -> Project:
    project = make_project(erasure_config())
    rows = [
        {"id": "a1", "text": "Alice wrote about the cup final.", "user": "alice"},
        {"id": "a2", "text": "Alice again: " + "a long letter " * 400, "user": "alice"},  # goes to the blob store
        {"id": "b1", "text": "Bob wrote about a phone chip.", "user": "bob"},
        {"id": "a3", "user": "alice"},  # no text: quarantined with its raw row
    ]
    summary = push_records(project, orjson.dumps(rows))
    assert summary["new"] == 3 and summary["quarantined"] == 1, summary
    create_tasks(project)
    scored = [{"record_id": rid, "model": "m", "model_version": "1", "probs": {"sport": 0.6, "tech": 0.4}}
              for rid in ids(project)]  # fmt: skip
    import_predictions(project, scored)
    return project


def ids(project: Project, where: str = "status = 'accepted'") -> list[int]:
    with project.store.read() as conn:
        return [int(r[0]) for r in conn.execute(text(f"SELECT id FROM records WHERE {where} ORDER BY id"))]


def scalar(project: Project, sql: str, **params: Any) -> Any:
    with project.store.read() as conn:
        return conn.execute(text(sql), params).scalar()


def blob_refs(project: Project) -> list[str]:
    with project.store.read() as conn:
        return [str(r[0]) for r in conn.execute(text("SELECT blob_ref FROM records WHERE blob_ref IS NOT NULL"))]


def test_erasure_removes_the_subjects_content_everywhere(make_project: ProjectFactory) -> None:
    project = seeded(make_project)
    [blob] = blob_refs(project)
    assert project.blobs.get(blob)  # the long letter is in the blob store
    alice = ids(project, "external_id LIKE 'a%' OR status = 'quarantined'")  # the held row has no id yet
    assert len(alice) == 3

    done = erase_subject(project, "alice", actor="dpo")
    assert done == {"subject": "alice", "records": 3, "tasks_cancelled": 2, "predictions": 2, "blobs_deleted": 1}
    with project.store.read() as conn:
        rows = conn.execute(
            text("SELECT status, payload, blob_ref, subject_id, consent FROM records WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": alice},
        ).all()
        assert [tuple(r) for r in rows] == [("deleted", None, None, None, None)] * 3
        raw = conn.execute(text("SELECT raw, raw_blob_ref FROM quarantine")).all()
        assert [tuple(r) for r in raw] == [(None, None)]
        states = {
            str(r[0])
            for r in conn.execute(
                text("SELECT state FROM tasks t JOIN records r ON r.id = t.record_id WHERE r.external_id LIKE 'a%'")
            )
        }
        assert states == {"cancelled"}
        events = conn.execute(text("SELECT COUNT(*) FROM lineage_events WHERE kind = 'erased'")).scalar_one()
        assert events == 3
        audit = conn.execute(text("SELECT action FROM audit_log WHERE action = 'subject.erase'")).scalars().all()
        assert audit == ["subject.erase"]
    with pytest.raises(Exception):  # noqa: B017 - the blob store raises its own not-found error
        project.blobs.get(blob)
    assert scalar(project, "SELECT COUNT(*) FROM predictions") == 1  # bob's
    # bob is untouched
    assert scalar(project, "SELECT payload FROM records WHERE external_id = 'b1'") is not None
    bob_task = "SELECT state FROM tasks t JOIN records r ON r.id = t.record_id WHERE r.external_id = 'b1'"
    assert scalar(project, bob_task) == "open"
    # the counters follow (no COUNT(*) needed for the status figures)
    from labelloop.ingest.status import project_status

    status = project_status(project)
    assert status["by_status"]["deleted"] == 3 and status["by_status"].get("quarantined", 0) == 0
    # a second erasure finds nothing: idempotent
    assert erase_subject(project, "alice", actor="dpo")["records"] == 0


def test_erasure_over_http_and_the_cli(make_project: ProjectFactory, db_url: str, tmp_path: Path) -> None:
    project = seeded(make_project)
    steward = add_user(project, "dpo", "steward")["token"]
    annotator = add_user(project, "ann", "annotator")["token"]
    with TestClient(create_app(project)) as client:
        refused = client.delete(
            f"/api/v1/projects/{project.name}/subjects/alice", headers={"Authorization": f"Bearer {annotator}"}
        )
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        erased = client.delete(
            f"/api/v1/projects/{project.name}/subjects/alice", headers={"Authorization": f"Bearer {steward}"}
        )
        assert erased.status_code == 200 and erased.json()["records"] == 3
        blank = client.delete(
            f"/api/v1/projects/{project.name}/subjects/%20", headers={"Authorization": f"Bearer {steward}"}
        )
        assert blank.status_code == 422 and "subject id" in blank.json()["detail"]
    from labelloop.cli.main import app

    runner = CliRunner(env={"LABELLOOP_DATABASE_URL": db_url})
    result = runner.invoke(app, ["consent", "erase", "--subject", "bob", "--json", "-C", str(project.dir)])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["records"] == 1
    result = runner.invoke(app, ["consent", "erase", "--subject", " ", "-C", str(project.dir)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
