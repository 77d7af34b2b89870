"""The HTTP API end to end: push ingestion, pages, lineage, metrics and errors, on SQLite and PostgreSQL.

Every test drives ``create_app(project)`` through a real ``TestClient`` against a
real store (see ``tests/conftest.py``); nothing is mocked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from labelloop.api.app import create_app
from labelloop.config import Settings
from labelloop.governance.service import add_user
from labelloop.ingest.quarantine import drop_quarantined, release_quarantined
from labelloop.project import Project, open_project
from tests.conftest import DEFAULT_CONFIG, ProjectFactory
from tests.contract import INGEST_KEYS as COUNT_KEYS
from tests.contract import KPI_KEYS

PROJECT = "tickets"
OTHER = "billing"
PUSH = f"/api/v1/projects/{PROJECT}/records"
PROBLEM = "application/problem+json"

#: Six rows: three new, one exact duplicate of the first (same content, other id and
#: subject), one missing its required text, one that is not an object at all.
BODY: list[Any] = [
    {"id": "t1", "text": "The printer on floor 3 is jammed again", "user": "u1"},
    {"id": "t2", "text": "VPN drops every hour since Monday", "user": "u2"},
    {"id": "t3", "text": "The printer on floor 3 is jammed again", "user": "u3"},
    {"id": "t4", "user": "u4"},
    42,
    {"id": "t5", "text": "Password reset link has expired", "consent": ["training"]},
]
BODY_COUNTS = {
    "read": 6,
    "new": 3,
    "exact_duplicates": 1,
    "near_duplicates": 0,
    "quarantined": 2,
    "redacted": 0,
    "consent_dropped": 0,
}


# -- helpers ----------------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(project: Project, role: str, name: str | None = None) -> str:
    return add_user(project, name or f"{role}-user", role)["token"]


def assert_counts(answer: dict[str, Any], expected: dict[str, int]) -> None:
    assert answer.keys() >= COUNT_KEYS, answer
    assert isinstance(answer["run_id"], int)
    assert {k: answer[k] for k in expected} == expected, answer


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body


def all_records(client: TestClient, headers: dict[str, str], project: str = PROJECT, **params: Any) -> list[dict]:
    """Every record, following ``next_cursor`` until it is null."""
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    pages = 0
    while cursor is not None:
        response = client.get(
            f"/api/v1/projects/{project}/records", params={**params, "cursor": cursor}, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        out.extend(page["records"])
        cursor = page["next_cursor"]
        pages += 1
        assert pages < 10_000, "paging never ends"
    return out


def open_other_project(folder: Path, db_url: str, name: str = OTHER) -> Project:
    """A second project in the same store: its own folder and name, the same database."""
    folder.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["name"] = name
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return open_project(folder, Settings(database_url=db_url))


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    return make_project()


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(project)) as test_client:
        yield test_client


@pytest.fixture
def steward(project: Project) -> dict[str, str]:
    return bearer(token_for(project, "steward"))


@pytest.fixture
def other(tmp_path: Path, db_url: str) -> Iterator[Project]:
    second = open_other_project(tmp_path / "other", db_url)
    yield second
    second.store.dispose()


# -- push -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["steward", "admin"])
def test_push_json_array_answers_counts_and_stores_rows(project: Project, client: TestClient, role: str) -> None:
    headers = bearer(token_for(project, role))
    response = client.post(PUSH, json=BODY, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_counts(answer, BODY_COUNTS)

    stored = all_records(client, headers)
    by_status: dict[str, list[dict[str, Any]]] = {}
    for record in stored:
        by_status.setdefault(record["status"], []).append(record)
    assert len(by_status["accepted"]) == 3
    assert len(by_status["duplicate"]) == 1
    assert len(by_status["quarantined"]) == 2
    assert {r["source"] for r in stored} == {"api"}
    (duplicate,) = by_status["duplicate"]
    first = next(r for r in by_status["accepted"] if r["external_id"] == "t1")
    assert duplicate["external_id"] == "t3"
    assert duplicate["duplicate_of"] == first["id"]
    reasons = sorted(r["reasons"][0]["code"] for r in by_status["quarantined"])
    assert reasons == ["missing_required_field", "not_an_object"]


def test_push_ndjson_answers_counts(project: Project, client: TestClient, steward: dict[str, str]) -> None:
    first = client.post(PUSH, json=BODY[:2], headers=steward)
    assert first.status_code == 200, first.text
    lines = [
        orjson.dumps({"id": "n1", "text": "Laptop battery swells"}),
        b"",
        orjson.dumps({"id": "n2", "text": "VPN drops every hour since Monday"}),  # same content as t2
        b'{"id": "n3", "text": ',  # broken line
        orjson.dumps({"id": "n4", "text": "Monitor flickers", "user": "u9"}),
        orjson.dumps(["not", "an", "object"]),
    ]
    body = b"\n".join(lines) + b"\n"
    response = client.post(PUSH, content=body, headers={**steward, "content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert_counts(
        response.json(),
        {
            "read": 5,
            "new": 2,
            "exact_duplicates": 1,
            "near_duplicates": 0,
            "quarantined": 2,
            "redacted": 0,
            "consent_dropped": 0,
        },
    )
    stored = all_records(client, steward)
    t2 = next(r for r in stored if r["external_id"] == "t2")
    n2 = next(r for r in stored if r["external_id"] == "n2")
    assert n2["status"] == "duplicate"
    assert n2["duplicate_of"] == t2["id"]
    assert sum(r["status"] == "accepted" for r in stored) == 4


@pytest.mark.parametrize("kind", ["json", "ndjson"])
def test_same_body_twice_adds_nothing_new(client: TestClient, steward: dict[str, str], kind: str) -> None:
    rows = [r for r in BODY if isinstance(r, dict) and "text" in r]
    if kind == "json":
        kwargs: dict[str, Any] = {"json": rows, "headers": steward}
    else:
        body = b"\n".join(orjson.dumps(r) for r in rows)
        kwargs = {"content": body, "headers": {**steward, "content-type": "application/x-ndjson"}}
    first = client.post(PUSH, **kwargs)
    assert first.status_code == 200, first.text
    assert first.json()["new"] == 3
    before = all_records(client, steward)

    second = client.post(PUSH, **kwargs)
    assert second.status_code == 200, second.text
    answer = second.json()
    assert answer["new"] == 0, answer
    assert answer["exact_duplicates"] == 0, answer
    assert answer["run_id"] != first.json()["run_id"]
    assert all_records(client, steward) == before


def test_same_body_twice_does_not_quarantine_the_bad_rows_again(client: TestClient, steward: dict[str, str]) -> None:
    """Push is idempotent: a retried body must not put its bad rows in quarantine a second time."""
    first = client.post(PUSH, json=BODY, headers=steward)
    assert first.status_code == 200, first.text
    held = all_records(client, steward, status="quarantined")
    assert len(held) == 2

    second = client.post(PUSH, json=BODY, headers=steward)
    assert second.status_code == 200, second.text
    assert second.json()["new"] == 0
    again = all_records(client, steward, status="quarantined")
    assert len(again) == len(held), [r["id"] for r in again]


def test_push_ten_thousand_records_and_page_through_them(client: TestClient, steward: dict[str, str]) -> None:
    rows = [{"id": f"r{i:05d}", "text": f"ticket number {i} about item {i * 7919 % 10007}"} for i in range(10_000)]
    response = client.post(PUSH, json=rows, headers=steward)
    assert response.status_code == 200, response.text
    assert_counts(response.json(), {"read": 10_000, "new": 10_000, "exact_duplicates": 0, "quarantined": 0})

    stored = all_records(client, steward, limit=1_000)
    assert len(stored) == 10_000
    ids = [r["id"] for r in stored]
    assert ids == sorted(set(ids))
    assert {r["external_id"] for r in stored} == {r["id"] for r in rows}
    assert {r["status"] for r in stored} == {"accepted"}


def test_bad_element_inside_a_valid_array_is_quarantined(client: TestClient, steward: dict[str, str]) -> None:
    body = [{"id": "ok1", "text": "fine"}, 7, "a string", None, {"id": "ok2", "text": "also fine"}]
    response = client.post(PUSH, json=body, headers=steward)
    assert response.status_code == 200, response.text
    assert_counts(response.json(), {"read": 5, "new": 2, "quarantined": 3})
    held = all_records(client, steward, status="quarantined")
    assert len(held) == 3
    assert {r["reasons"][0]["code"] for r in held} == {"not_an_object"}


# -- errors -----------------------------------------------------------------------------------------------


def test_push_without_valid_token_is_401(client: TestClient) -> None:
    cases = {
        "no header": {},
        "empty token": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "unknown token": {"Authorization": "Bearer ll_not-a-real-token"},
    }
    for name, headers in cases.items():
        response = client.post(PUSH, json=BODY, headers=headers)
        assert_problem(response, 401)
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), name
        assert_problem(client.get(PUSH, headers=headers), 401)
        assert_problem(client.get(f"/api/v1/projects/{PROJECT}/metrics", headers=headers), 401)


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_roles_without_push_permission_get_403(project: Project, client: TestClient, role: str) -> None:
    headers = bearer(token_for(project, role))
    assert_problem(client.post(PUSH, json=BODY, headers=headers), 403)
    # Nothing was stored, and the same token may still read.
    page = client.get(PUSH, headers=headers)
    assert page.status_code == 200, page.text
    assert page.json()["records"] == []


def test_token_of_another_project_is_403(client: TestClient, other: Project, steward: dict[str, str]) -> None:
    other_steward = bearer(token_for(other, "steward", "billing-steward"))
    assert_problem(client.post(PUSH, json=BODY, headers=other_steward), 403)
    assert_problem(client.get(PUSH, headers=other_steward), 403)
    assert_problem(client.get(f"/api/v1/projects/{PROJECT}/metrics", headers=other_steward), 403)
    # ... and the other way round.
    assert_problem(client.post(f"/api/v1/projects/{OTHER}/records", json=BODY, headers=steward), 403)
    # The other project's own token works on its own project, served by the same app.
    own = client.post(f"/api/v1/projects/{OTHER}/records", json=BODY[:2], headers=other_steward)
    assert own.status_code == 200, own.text
    assert own.json()["new"] == 2
    assert all_records(client, steward) == []


def test_unknown_project_is_a_problem_not_a_crash(client: TestClient, steward: dict[str, str]) -> None:
    """A token's user belongs to one project: the membership check answers first (403), never a 500."""
    for response in (
        client.post("/api/v1/projects/no-such-project/records", json=BODY, headers=steward),
        client.get("/api/v1/projects/no-such-project/records", headers=steward),
        client.get("/api/v1/projects/no-such-project/metrics", headers=steward),
    ):
        assert response.status_code in (403, 404), response.text
        body = assert_problem(response, response.status_code)
        assert "no-such-project" in body["detail"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'[{"id": "1", "text": "cut', "application/json", id="truncated-array"),
        pytest.param(b"{not json at all", "application/json", id="broken-object"),
        pytest.param(b"this is plain text", "application/json", id="plain-text"),
    ],
)
def test_body_that_is_not_json_is_422(
    client: TestClient, steward: dict[str, str], body: bytes, content_type: str
) -> None:
    response = client.post(PUSH, content=body, headers={**steward, "content-type": content_type})
    assert_problem(response, 422)
    assert all_records(client, steward) == []


@pytest.mark.parametrize("body", [b"", b"  \n\t "], ids=["empty", "whitespace"])
def test_empty_body_is_422(client: TestClient, steward: dict[str, str], body: bytes) -> None:
    response = client.post(PUSH, content=body, headers={**steward, "content-type": "application/json"})
    assert_problem(response, 422)
    assert all_records(client, steward) == []


def test_json_object_instead_of_array_is_422(client: TestClient, steward: dict[str, str]) -> None:
    body = orjson.dumps({"id": "t1", "text": "an object, not an array"})
    response = client.post(PUSH, content=body, headers={**steward, "content-type": "application/json"})
    assert_problem(response, 422)
    assert all_records(client, steward) == []


def test_bad_page_parameters_are_422(client: TestClient, steward: dict[str, str]) -> None:
    cases: dict[str, dict[str, Any]] = {
        "limit 0": {"limit": 0},
        "limit too big": {"limit": 10_001},
        "limit not an int": {"limit": "many"},
        "negative cursor": {"cursor": -1},
        "unknown status": {"status": "bogus"},
    }
    for name, params in cases.items():
        body = assert_problem(client.get(PUSH, params=params, headers=steward), 422)
        assert body["detail"], name


# -- pages ------------------------------------------------------------------------------------------------


def test_keyset_paging_returns_every_record_once_in_id_order(client: TestClient, steward: dict[str, str]) -> None:
    rows: list[Any] = [{"id": f"p{i:02d}", "text": f"message {i % 17}"} for i in range(40)]  # 23 duplicates
    rows += [{"id": "bad1"}, 3.5, {"id": "bad2", "text": 12}]
    response = client.post(PUSH, json=rows, headers=steward)
    assert response.status_code == 200, response.text
    answer = response.json()
    total = answer["new"] + answer["exact_duplicates"] + answer["quarantined"]
    assert total == len(rows)

    whole = client.get(PUSH, params={"limit": 10_000}, headers=steward).json()
    assert whole["next_cursor"] is None
    assert len(whole["records"]) == len(rows)

    seen: list[int] = []
    cursor: int | None = 0
    pages = 0
    while cursor is not None:
        page = client.get(PUSH, params={"limit": 7, "cursor": cursor}, headers=steward)
        assert page.status_code == 200, page.text
        data = page.json()
        assert len(data["records"]) <= 7
        if data["next_cursor"] is not None:
            assert len(data["records"]) == 7
            assert data["next_cursor"] == data["records"][-1]["id"]
        seen.extend(r["id"] for r in data["records"])
        cursor = data["next_cursor"]
        pages += 1
        assert pages <= len(rows), "paging never ends"
    assert pages >= len(rows) // 7
    assert len(seen) == len(set(seen)) == len(rows)
    assert seen == sorted(seen)
    assert seen == [r["id"] for r in whole["records"]]


def test_filter_by_status(client: TestClient, steward: dict[str, str]) -> None:
    response = client.post(PUSH, json=BODY, headers=steward)
    assert response.status_code == 200, response.text
    everything = all_records(client, steward)

    for status, expected in (("accepted", 3), ("duplicate", 1), ("quarantined", 2), ("near_duplicate", 0)):
        page = all_records(client, steward, status=status, limit=1)
        assert len(page) == expected, (status, page)
        assert {r["status"] for r in page} <= {status}
        assert [r["id"] for r in page] == [r["id"] for r in everything if r["status"] == status]
    duplicates = all_records(client, steward, status="duplicate")
    assert duplicates[0]["duplicate_of"] is not None
    quarantined = all_records(client, steward, status="quarantined")
    assert all(r["reasons"] and {"code", "message"} <= r["reasons"][0].keys() for r in quarantined)


# -- lineage ----------------------------------------------------------------------------------------------


def _lineage(client: TestClient, headers: dict[str, str], record_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/records/{record_id}/lineage", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["events"], data
    return data


def test_lineage_starts_with_the_ingestion_batch(client: TestClient, steward: dict[str, str]) -> None:
    push = client.post(PUSH, json=BODY, headers=steward).json()
    stored = all_records(client, steward)
    for record in stored:
        data = _lineage(client, steward, record["id"])
        first = data["events"][0]
        assert first["kind"] == "ingested", data
        assert first["source"] == "api"
        assert first["run_id"] == push["run_id"]
        assert isinstance(first["batch_id"], int)
        low, high = first["position_range"]
        assert 0 <= low <= high
        assert high - low == len(BODY)
        stages = {s["name"]: s for s in first["stages"]}
        assert {"normalize", "exact_dedup"} <= stages.keys()
        assert all(isinstance(s["version"], str) and s["version"] for s in stages.values())

    accepted = next(r for r in stored if r["external_id"] == "t1")
    assert [e["kind"] for e in _lineage(client, steward, accepted["id"])["events"]] == ["ingested"]

    duplicate = next(r for r in stored if r["status"] == "duplicate")
    events = _lineage(client, steward, duplicate["id"])["events"]
    dup_events = [e for e in events if e["kind"] == "duplicate_of"]
    assert len(dup_events) == 1
    assert dup_events[0]["details"]["of"] == accepted["id"] == duplicate["duplicate_of"]
    assert dup_events[0]["stage"] == "exact_dedup"

    for held in (r for r in stored if r["status"] == "quarantined"):
        events = _lineage(client, steward, held["id"])["events"]
        reasons = [e["details"].get("reason") for e in events if e["kind"] == "quarantined"]
        assert reasons == [held["reasons"][0]["code"]]


def test_lineage_shows_release_and_drop_decisions(
    make_project: ProjectFactory, project: Project, client: TestClient, steward: dict[str, str]
) -> None:
    response = client.post(PUSH, json=[{"id": "q1", "user": "u1"}, {"id": "q2", "user": "u2"}], headers=steward)
    assert response.status_code == 200, response.text
    assert response.json()["quarantined"] == 2
    q1, q2 = all_records(client, steward, status="quarantined")

    dropped = drop_quarantined(project, q2["id"], actor="test:dana")
    assert dropped == {"id": q2["id"], "status": "deleted"}
    events = _lineage(client, steward, q2["id"])["events"]
    assert [e["kind"] for e in events] == ["ingested", "quarantined", "dropped"]
    assert events[-1]["actor"] == "test:dana"

    relaxed = copy.deepcopy(DEFAULT_CONFIG)
    relaxed["record"]["fields"]["text"]["required"] = False
    reopened = make_project(config=relaxed)
    released = release_quarantined(reopened, q1["id"], actor="test:dana")
    assert released["status"] == "accepted"
    data = _lineage(client, steward, q1["id"])
    assert data["status"] == "accepted"
    assert [e["kind"] for e in data["events"]] == ["ingested", "quarantined", "released"]
    assert data["events"][-1]["actor"] == "test:dana"
    assert data["events"][-1]["details"]["status"] == "accepted"


def test_lineage_of_another_projects_record_is_404(client: TestClient, other: Project, steward: dict[str, str]) -> None:
    other_steward = bearer(token_for(other, "steward", "billing-steward"))
    pushed = client.post(f"/api/v1/projects/{OTHER}/records", json=BODY[:1], headers=other_steward)
    assert pushed.status_code == 200, pushed.text
    (record,) = all_records(client, other_steward, project=OTHER)

    assert _lineage(client, other_steward, record["id"])["record_id"] == record["id"]
    assert_problem(client.get(f"/api/v1/records/{record['id']}/lineage", headers=steward), 404)
    assert_problem(client.get("/api/v1/records/987654321/lineage", headers=steward), 404)
    assert_problem(client.get(f"/api/v1/records/{record['id']}/lineage"), 401)


# -- metrics ----------------------------------------------------------------------------------------------


def test_project_metrics_are_the_status_kpis(project: Project, client: TestClient, steward: dict[str, str]) -> None:
    empty = client.get(f"/api/v1/projects/{PROJECT}/metrics", headers=steward)
    assert empty.status_code == 200, empty.text
    assert empty.json().keys() >= KPI_KEYS
    assert empty.json()["records"] == 0

    push = client.post(PUSH, json=BODY, headers=steward).json()
    viewer = bearer(token_for(project, "viewer"))
    response = client.get(f"/api/v1/projects/{PROJECT}/metrics", headers=viewer)
    assert response.status_code == 200, response.text
    kpis = response.json()
    assert kpis.keys() >= KPI_KEYS, kpis
    assert kpis["records"] == push["new"] + push["exact_duplicates"] == 4
    stored = all_records(client, steward)
    assert kpis["records"] == sum(r["status"] in ("accepted", "duplicate", "near_duplicate") for r in stored)
    assert kpis["labeled"] == 0
    assert 0.0 <= kpis["coverage"] <= 1.0


def _prometheus_value(text: str, project: str, status: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("labelloop_records{") and f'project="{project}"' in line and f'status="{status}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def test_prometheus_metrics(client: TestClient, other: Project, steward: dict[str, str]) -> None:
    push = client.post(PUSH, json=BODY, headers=steward).json()
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "labelloop_records{" in text
    assert f'project="{PROJECT}"' in text
    assert _prometheus_value(text, PROJECT, "accepted") == push["new"]
    assert _prometheus_value(text, PROJECT, "duplicate") == push["exact_duplicates"]
    assert _prometheus_value(text, PROJECT, "quarantined") == push["quarantined"]
    assert _prometheus_value(text, OTHER, "accepted") in (None, 0.0)


def test_openapi_lists_the_push_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert "post" in paths["/api/v1/projects/{project}/records"]
    assert "get" in paths["/api/v1/projects/{project}/records"]
    assert "get" in paths["/api/v1/records/{record_id}/lineage"]
    assert "get" in paths["/api/v1/projects/{project}/metrics"]
