"""The ``labelloop`` command as a user runs it: a real subprocess against a real store.

Contract checked here: with ``--json`` exactly one JSON object on stdout; exit 0
on success, 1 on a user error with one line on stderr and no traceback, 2 on a
usage error. Commands that touch the store run on SQLite and PostgreSQL
(``LABELLOOP_DATABASE_URL`` points the command at the test's database).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from labelloop.api.app import create_app
from labelloop.governance.service import add_user
from labelloop.ingest.quarantine import list_records
from labelloop.project import Project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.contract import INGEST_KEYS as COUNT_KEYS
from tests.contract import KPI_KEYS, RECORD_KEYS

CLI = [sys.executable, "-m", "labelloop.cli.main"]

#: Seven lines: three new, one exact duplicate of the first, three bad ones.
TICKETS = [
    orjson.dumps({"id": "t1", "text": "The printer on floor 3 is jammed again", "user": "u1"}),
    orjson.dumps({"id": "t2", "text": "VPN drops every hour since Monday", "user": "u2"}),
    orjson.dumps({"id": "t3", "text": "The printer on floor 3 is jammed again", "user": "u3"}),
    b'{"id": "t4", "text": "cut off',
    orjson.dumps({"id": "t5", "user": "u5"}),
    b"[1, 2, 3]",
    orjson.dumps({"id": "t6", "text": "Password reset link has expired", "consent": ["training"]}),
]


# -- helpers ----------------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LABELLOOP_DEBUG", None)
    env.pop("LABELLOOP_DATABASE_URL", None)
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _argv(args: list[Any]) -> list[str]:
    return [*CLI, *(str(a) for a in args)]


def run(args: list[Any], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(args), env=env, input=stdin, capture_output=True, text=True, timeout=120)


def run_parallel(env: dict[str, str], *jobs: list[Any]) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time (each is a cold Python start); results in order."""
    procs = [
        subprocess.Popen(
            _argv(args), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in jobs
    ]
    results = []
    for args, proc in zip(jobs, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results.append(subprocess.CompletedProcess(_argv(args), proc.returncode, out, err))
    return results


def ok_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Exit 0 and stdout is exactly one JSON object."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    data = json.loads(result.stdout)  # raises on anything but one JSON document
    assert isinstance(data, dict), result.stdout
    return data


def user_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1, one line on stderr, no traceback; returns that line."""
    assert result.returncode == 1, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == "", result.stdout
    return lines[0]


def init(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    return ok_json(run(["init", folder, "--name", "support-tickets", "--json"], env))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    return {**base_env(), "LABELLOOP_DATABASE_URL": db_url}


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    """Project ``tickets`` with :data:`TICKETS` in ``data/``, open in this process on the test's store."""
    return make_project(files={"data/tickets.jsonl": b"\n".join(TICKETS) + b"\n"})


@pytest.fixture
def ingested(project: Project, env: dict[str, str]) -> dict[str, Any]:
    """The answer of a first ``labelloop ingest --json`` of :data:`TICKETS`."""
    return ok_json(run(["ingest", "--project-dir", project.dir, "--json"], env))


# -- init and user errors ---------------------------------------------------------------------------------


def test_init_then_user_errors_exit_1(tmp_path: Path, env: dict[str, str], db_url: str) -> None:
    folder = tmp_path / "support"
    data = init(folder, env)
    assert set(data) >= {"project_dir", "project"}
    assert data["project"] == "support-tickets"
    assert Path(data["project_dir"]).resolve() == folder.resolve()
    assert (folder / "labelloop.yaml").is_file()
    if db_url.startswith("postgresql"):
        assert not (folder / ".labelloop" / "labelloop.db").exists(), "LABELLOOP_DATABASE_URL was not used"

    no_project = tmp_path / "no-project-here"
    no_project.mkdir()
    status, init_again, no_source, bad_role, no_file = run_parallel(
        env,
        ["status", "--project-dir", folder, "--json"],
        ["init", folder, "--name", "support-tickets", "--json"],
        ["ingest", "--source", "nope", "--project-dir", folder, "--json"],
        ["user", "add", "bob", "--role", "wizard", "--project-dir", folder, "--json"],
        ["status", "--project-dir", no_project, "--json"],
    )
    kpis = ok_json(status)
    assert kpis.keys() >= KPI_KEYS, kpis
    assert kpis["records"] == 0
    assert "labelloop.yaml" in user_error(init_again)
    assert (folder / "labelloop.yaml").read_text().startswith("name: support-tickets")
    assert "nope" in user_error(no_source)
    assert "wizard" in user_error(bad_role)
    assert "labelloop.yaml" in user_error(no_file)
    assert not (no_project / "labelloop.yaml").exists()


# -- ingest, records, quarantine, status, users ------------------------------------------------------------


def test_ingest_counts_and_is_idempotent(project: Project, ingested: dict[str, Any], env: dict[str, str]) -> None:
    assert ingested.keys() >= COUNT_KEYS, ingested
    assert {k: ingested[k] for k in COUNT_KEYS - {"run_id"}} == {
        "read": 7,
        "new": 3,
        "exact_duplicates": 1,
        "near_duplicates": 0,
        "quarantined": 3,
        "redacted": 0,
        "consent_dropped": 0,
    }

    second = ok_json(run(["ingest", "--project-dir", project.dir, "--source", "inbox", "--json"], env))
    assert second.keys() >= COUNT_KEYS, second
    assert second["run_id"] != ingested["run_id"]
    assert second["new"] == 0
    assert second["exact_duplicates"] == 0
    assert second["quarantined"] == 0

    status = ok_json(run(["status", "--project-dir", project.dir, "--json"], env))
    assert status.keys() >= KPI_KEYS, status
    assert status["records"] == 3 + 1
    assert status["labeled"] == 0
    everything, _ = list_records(project, limit=100)
    assert len(everything) == 7


def test_records_and_quarantine_decisions(project: Project, ingested: dict[str, Any], env: dict[str, str]) -> None:
    folder = project.dir
    held = ok_json(run(["records", "--status", "quarantined", "--project-dir", folder, "--json"], env))["records"]
    assert len(held) == 3
    for record in held:
        assert record.keys() >= RECORD_KEYS, record
        assert record["status"] == "quarantined"
        assert record["source"] == "inbox"
        assert record["duplicate_of"] is None
        assert record["reasons"] and {"code", "message"} <= record["reasons"][0].keys()
    by_reason = {r["reasons"][0]["code"]: r for r in held}
    assert set(by_reason) == {"invalid_json", "missing_required_field", "not_an_object"}

    target = by_reason["missing_required_field"]["id"]
    invalid = by_reason["invalid_json"]["id"]
    dropped, release, unknown = run_parallel(
        env,
        ["quarantine", "drop", target, "--project-dir", folder, "--json"],
        ["quarantine", "release", invalid, "--project-dir", folder, "--json"],
        ["quarantine", "drop", 987654, "--project-dir", folder, "--json"],
    )
    assert ok_json(dropped) == {"id": target, "status": "deleted"}
    user_error(release)
    user_error(unknown)
    again = user_error(run(["quarantine", "drop", target, "--project-dir", folder, "--json"], env))
    assert str(target) in again

    still, _ = list_records(project, status="quarantined")
    assert sorted(r["id"] for r in still) == sorted(r["id"] for r in held if r["id"] != target)
    deleted, _ = list_records(project, status="deleted")
    assert [r["id"] for r in deleted] == [target]


def test_user_add_prints_a_working_token(project: Project, env: dict[str, str]) -> None:
    created = ok_json(
        run(
            ["user", "add", "alice", "--role", "annotator", "--password-stdin", "--project-dir", project.dir, "--json"],
            env,
            stdin="correct horse battery staple\n",
        )
    )
    expires = created.pop("token_expires_at")
    assert created == {"user": "alice", "role": "annotator", "token": created["token"]}
    assert 89 * 86_400 < expires - time.time() <= 90 * 86_400  # the default lifetime
    assert isinstance(created["token"], str) and len(created["token"]) >= 20

    duplicate = user_error(run(["user", "add", "alice", "--role", "viewer", "--project-dir", project.dir], env))
    assert "alice" in duplicate

    with TestClient(create_app(project)) as client:
        headers = {"Authorization": f"Bearer {created['token']}"}
        page = client.get("/api/v1/projects/tickets/records", headers=headers)
        assert page.status_code == 200, page.text
        push = client.post("/api/v1/projects/tickets/records", json=[], headers=headers)
        assert push.status_code == 403, push.text  # an annotator may read, not push


# -- errors that never reach a store ----------------------------------------------------------------------


def test_broken_project_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    config = {**DEFAULT_CONFIG, "colour_scheme": "dark"}
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    line = user_error(run(["ingest", "--project-dir", folder, "--json"], base_env()))
    assert "labelloop.yaml" in line
    assert "colour_scheme" in line
    assert not (folder / ".labelloop").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    cases = {
        "unknown option": ["status", "--no-such-option"],
        "missing argument": ["quarantine", "drop"],
        "missing --role": ["user", "add", "bob"],
        "argument not an int": ["quarantine", "drop", "not-a-number"],
    }
    results = run_parallel(base_env(), *([*args, "--project-dir", tmp_path] for args in cases.values()))
    for name, result in zip(cases, results, strict=True):
        assert result.returncode == 2, f"{name}: exit {result.returncode}\nstderr: {result.stderr}"
        assert "Traceback" not in result.stderr, name
        assert result.stderr.strip(), name
        assert result.stdout == "", name
    assert not (tmp_path / ".labelloop").exists()


# -- demo -------------------------------------------------------------------------------------------------


def test_demo_ingests_the_bundled_articles_and_is_idempotent(tmp_path: Path) -> None:
    """SQLite only: the demo's own store, no LABELLOOP_DATABASE_URL."""
    folder = tmp_path / "demo"
    first = ok_json(run(["demo", "--json", "--rounds", "0", "--project-dir", folder], base_env()))
    ingest = first["ingest"]
    assert ingest.keys() >= COUNT_KEYS, ingest
    assert ingest["read"] == 2225
    assert ingest["exact_duplicates"] > 50
    assert ingest["quarantined"] >= 1
    # the news template runs the data-health stages: BBC News has near-duplicate articles
    # and helpline phone numbers (masked)
    assert ingest["near_duplicates"] > 20
    assert ingest["redacted"] >= 1
    stored = ingest["new"] + ingest["exact_duplicates"] + ingest["near_duplicates"]
    assert stored + ingest["quarantined"] == 2225
    assert first["records"] == 2225 - ingest["quarantined"]
    assert (folder / "labelloop.yaml").is_file()

    second = ok_json(run(["demo", "--json", "--rounds", "0", "--project-dir", folder], base_env()))
    assert second["ingest"]["new"] == 0
    assert second["ingest"]["quarantined"] == 0
    assert second["records"] == first["records"]
    assert "rounds" not in second


def test_demo_rounds_run_the_loop_and_resume(tmp_path: Path) -> None:
    """A small-round demo: the contract's keys, a curve that grows with labels spent, both label
    accuracies against the truth, a report, and a second run that continues the same project."""
    folder = tmp_path / "demo"
    first = ok_json(run(["demo", "--json", "--rounds", "3", "--budget", "30", "--project-dir", folder], base_env()))
    assert first["strategy"] == "hybrid"
    for series in ("rounds", "baseline"):
        rounds = first[series]
        assert len(rounds) == 3
        for r in rounds:
            assert {"labels", "accuracy", "macro_f1", "label_accuracy_mv", "label_accuracy_ds", "alpha"} <= r.keys()
            assert 0 <= r["label_accuracy_mv"] <= 1 and 0 <= r["label_accuracy_ds"] <= 1
            assert 0.2 < r["accuracy"] <= 1  # better than guessing among 5 topics
        assert [r["labels"] for r in rounds] == [30, 60, 90]  # labels spent only grow
        assert [r["annotations"] for r in rounds] == [90, 180, 270]  # three answers an item
        assert [r["release"] for r in rounds] == ["labels-00030", "labels-00060", "labels-00090"]
        assert len({r["manifest_sha256"] for r in rounds}) == 3
    # the simulated crowd has an adversarial and a careless annotator: Dawid-Skene sees through them
    assert first["rounds"][-1]["label_accuracy_ds"] > first["rounds"][-1]["label_accuracy_mv"]
    assert Path(first["report"]).is_file() and Path(first["report"]).stat().st_size > 100_000
    # every chosen item's task records why it was chosen
    with sqlite3.connect(folder / ".labelloop" / "labelloop.db") as db:
        reasons = [json.loads(r[0])["reason"] for r in db.execute("SELECT selection FROM tasks")]
    assert {r["strategy"] for r in reasons} == {"random", "hybrid"}
    scores = [json.loads(r[0]).get("score") for r in sqlite3.connect(folder / ".labelloop" / "labelloop.db").execute(
        "SELECT selection FROM tasks WHERE selection LIKE '%hybrid%'")]  # fmt: skip
    # each chosen item keeps its score (None for an item a per-class quota took, whose score is unbounded)
    assert scores and all(s is None or isinstance(s, float) for s in scores)
    assert sum(isinstance(s, float) for s in scores) >= len(scores) / 2
    # each round's model is recorded with the release it learned from: the dashboard's learning curve
    with sqlite3.connect(folder / ".labelloop" / "labelloop.db") as db:
        trained = [json.loads(r[0]) for r in db.execute("SELECT summary FROM quality_runs WHERE kind = 'train'")]
    assert [(t["trained_from"], t["test_accuracy"]) for t in trained] == [
        (r["release"], r["accuracy"]) for r in first["rounds"]
    ]

    again = ok_json(run(["demo", "--json", "--rounds", "1", "--budget", "30", "--project-dir", folder], base_env()))
    assert again["rounds"][0]["labels"] == 120  # it continued where the first run stopped


# -- serve ------------------------------------------------------------------------------------------------


def test_serve_answers_health_and_push(make_project: ProjectFactory, env: dict[str, str], tmp_path: Path) -> None:
    project = make_project()
    token = add_user(project, "pusher", "steward")["token"]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--project-dir", str(project.dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 15
            while True:
                assert server.poll() is None, f"serve exited with {server.returncode}: {log.read_text()}"
                try:
                    if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"serve did not answer within 15 s: {log.read_text()}"
                time.sleep(0.1)

            url = f"{base}/api/v1/projects/tickets/records"
            headers = {"Authorization": f"Bearer {token}"}
            body = [{"id": "s1", "text": "served one"}, {"id": "s2", "text": "served two"}, "bad"]
            response = httpx.post(url, json=body, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer.keys() >= COUNT_KEYS, answer
            assert (answer["read"], answer["new"], answer["quarantined"]) == (3, 2, 1)

            page = httpx.get(url, headers=headers, timeout=30).json()
            assert sorted(r["external_id"] for r in page["records"] if r["status"] == "accepted") == ["s1", "s2"]
            denied = httpx.post(url, json=body, timeout=30)
            assert denied.status_code == 401
            assert denied.headers["content-type"].startswith("application/problem+json")
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
