"""The quarantine page through the web app (TestClient), and the services behind it, on SQLite and
PostgreSQL: login, roles, CSRF, keyset paging and the reason filter, bulk and single decisions,
held anomalous runs, untrusted raw content escaped."""

from __future__ import annotations

import copy
import html
import random
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient

from labelloop.errors import InvalidInputError
from labelloop.governance.service import add_user
from labelloop.governance.sessions import authenticate_session
from labelloop.ingest.quarantine import (
    decide_quarantined,
    held_runs,
    list_quarantine,
    list_records,
    quarantine_reasons,
)
from labelloop.ingest.service import push_records
from labelloop.project import Project
from labelloop.ui.app import create_web_app
from labelloop.ui.quarantine import flash_of as flash_from_query
from tests import webclient as web
from tests.conftest import DEFAULT_CONFIG, ProjectFactory

PASSWORD = "quarantine-page-password"


def strict_config() -> dict[str, Any]:
    """Every record needs an integer ``n``; texts under 10 characters break a quality rule."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["record"]["fields"]["n"] = {"type": "integer", "required": True}
    config["stages"] = {"rules": [{"field": "text", "min_length": 10, "severity": "quarantine"}]}
    return config


def relaxed_config() -> dict[str, Any]:
    """The same project once ``n`` is optional: rows held for a missing ``n`` can be released."""
    config = strict_config()
    config["record"]["fields"]["n"] = {"type": "integer"}
    return config


BAD_ROWS = [
    b'{"id": "m1", "text": "printer on floor 3 is jammed again"}',  # missing n -> releasable later
    b'{"id": "x1", "text": "<script>alert(1)</script>',  # invalid JSON, and hostile
    b'{"id": "m2", "text": "cannot log in since the update"}',  # missing n -> releasable later
    b"[1, 2, 3]",  # not an object
    b'{"id": "s1", "text": "help", "n": 1}',  # too short (a rule)
]


def seed(make_project: ProjectFactory) -> Project:
    """Five held rows (ids 2..6 after one good row), then the configuration relaxed."""
    strict = make_project(strict_config())
    body = b"\n".join([b'{"id": "g1", "text": "a perfectly good ticket", "n": 1}', *BAD_ROWS]) + b"\n"
    summary = push_records(strict, body)
    assert (summary["new"], summary["quarantined"]) == (1, 5)
    return make_project(relaxed_config())


def user(project: Project, name: str, role: str) -> None:
    add_user(project, name, role, password=PASSWORD)


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    project = seed(make_project)
    user(project, "ada", "steward")
    return project


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


def log_in(client: TestClient, name: str) -> None:
    web.log_in(client, name, PASSWORD, fresh=False)


csrf_of = web.csrf_of


def row_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'name="ids" value="(\d+)"', page)]


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">Next page</a>', page)
    return html.unescape(found.group(1)) if found else None


def flash(page: str) -> str:
    found = re.search(r'class="flash" role="status">([^<]*)<', page)
    assert found is not None, page[:2000]
    return html.unescape(found.group(1))


def status_of(project: Project) -> dict[str, str]:
    out: dict[str, str] = {}
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = list_records(project, cursor=cursor, limit=500)
        out.update({r["source_key"]: r["status"] for r in page})
    return out


# -- services ------------------------------------------------------------------------------------


def test_list_quarantine_pages_by_keyset_and_filters_by_reason(project: Project) -> None:
    seen: list[dict[str, Any]] = []
    cursor: int | None = 0
    pages = 0
    while cursor is not None:
        page, cursor = list_quarantine(project, cursor=cursor, limit=2)
        seen.extend(page)
        pages += 1
    assert pages == 3
    assert [r["id"] for r in seen] == [2, 3, 4, 5, 6]
    assert [r["reason"] for r in seen] == [
        "missing_required_field",
        "invalid_json",
        "missing_required_field",
        "not_an_object",
        "too_short",
    ]
    assert seen[1]["raw"] == BAD_ROWS[1].decode() and seen[1]["raw_truncated"] is False
    assert seen[1]["source"] == "api" and seen[1]["message"]
    assert quarantine_reasons(project) == {
        "invalid_json": 1,
        "missing_required_field": 2,
        "not_an_object": 1,
        "too_short": 1,
    }
    first, after = list_quarantine(project, reason="missing_required_field", limit=1)
    assert [r["id"] for r in first] == [2] and after == 2
    second, after = list_quarantine(project, reason="missing_required_field", cursor=after, limit=1)
    assert [r["id"] for r in second] == [4] and after == 4
    assert list_quarantine(project, reason="missing_required_field", cursor=after, limit=1) == ([], None)
    with pytest.raises(InvalidInputError):
        list_quarantine(project, limit=0)


def test_decide_quarantined_answers_per_row(project: Project) -> None:
    released = decide_quarantined(project, [2, 3, 4, 5, 6, 6], "release", actor="tester")
    assert [r["id"] for r in released["released"]] == [2, 4]
    assert [(f["id"], f["reason"]) for f in released["failed"]] == [
        (3, "invalid_json"),
        (5, "not_an_object"),
        (6, "too_short"),
    ]
    assert released["dropped"] == []
    forced = decide_quarantined(project, [6], "release", actor="tester", force=True)
    assert [r["status"] for r in forced["released"]] == ["accepted"]
    dropped = decide_quarantined(project, [3, 5, 2], "drop", actor="tester")
    assert [r["id"] for r in dropped["dropped"]] == [3, 5]
    assert [(f["id"], f["reason"]) for f in dropped["failed"]] == [(2, "conflict")]  # released already
    assert quarantine_reasons(project) == {}
    assert status_of(project) == {"g1": "accepted", "m1": "accepted", "#3": "deleted", "m2": "accepted",
                                  "#5": "deleted", "s1": "accepted"}  # fmt: skip
    with pytest.raises(InvalidInputError):
        decide_quarantined(project, [], "release")
    with pytest.raises(InvalidInputError):
        decide_quarantined(project, [2], "keep")


def anomaly_project(make_project: ProjectFactory) -> tuple[Project, int]:
    """Three normal runs of 30 rows, then one of 5: the last run is anomalous and held."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["stages"] = {"anomalies": {"min_history": 3, "action": "hold"}}
    project = make_project(config)
    rng = random.Random(5)
    words = ["printer", "login", "password", "screen", "network", "email", "invoice", "refund", "order", "delivery"]
    run_id = 0
    for week, n in enumerate([30, 30, 30, 5]):
        rows = [{"id": f"w{week}-{i}", "text": " ".join(rng.choice(words) for _ in range(12))} for i in range(n)]
        run_id = push_records(project, orjson.dumps(rows))["run_id"]
    return project, run_id


def test_held_runs_lists_runs_waiting_for_a_person(make_project: ProjectFactory) -> None:
    project, run_id = anomaly_project(make_project)
    runs = held_runs(project)
    assert [(r["run_id"], r["records"], r["source"]) for r in runs] == [(run_id, 5, "api")]
    assert any(a["check"] == "volume" for a in runs[0]["anomalies"])


# -- the page ------------------------------------------------------------------------------------


def test_the_page_needs_a_login(client: TestClient, project: Project) -> None:
    url = f"/projects/{project.name}/quarantine"
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    posted = client.post(url, data={"action": "drop", "ids": "2"}, follow_redirects=False)
    assert posted.status_code == 401
    assert quarantine_reasons(project)["missing_required_field"] == 2


@pytest.mark.parametrize(
    ("role", "status"),
    [("annotator", 403), ("reviewer", 403), ("adjudicator", 403), ("viewer", 403), ("steward", 200), ("admin", 200)],
)
def test_only_stewards_and_admins_decide(client: TestClient, project: Project, role: str, status: int) -> None:
    user(project, "someone", role)
    log_in(client, "someone")
    page = client.get(f"/projects/{project.name}/quarantine")
    assert page.status_code == status
    if status == 403:
        token = authenticate_session(project.store, client.cookies["labelloop_session"]).csrf_token
        posted = client.post(
            f"/projects/{project.name}/quarantine", data={"csrf_token": token, "action": "drop", "ids": ["2", "3"]}
        )
        assert posted.status_code == 403 and "Not allowed" in posted.text
        assert sum(quarantine_reasons(project).values()) == 5
    else:
        assert row_ids(page.text) == [2, 3, 4, 5, 6]


def test_forms_without_the_csrf_token_are_refused(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    client.get(f"/projects/{project.name}/quarantine")
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(f"/projects/{project.name}/quarantine", data={**data, "action": "drop", "ids": ["2"]})
        assert refused.status_code == 403
        refused = client.post(f"/projects/{project.name}/quarantine/runs/1", data={**data, "decision": "drop"})
        assert refused.status_code == 403
    assert sum(quarantine_reasons(project).values()) == 5


def test_keyset_paging_with_next_page_links_and_the_reason_filter(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    url: str | None = f"/projects/{project.name}/quarantine?limit=2"
    pages: list[list[int]] = []
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200
        pages.append(row_ids(page.text))
        url = next_link(page.text)
        if url is not None:
            query = parse_qs(urlsplit(url).query)
            assert query["cursor"] == [str(pages[-1][-1])] and query["limit"] == ["2"]  # a keyset cursor
            assert "offset" not in query
    assert pages == [[2, 3], [4, 5], [6]]

    first = client.get(f"/projects/{project.name}/quarantine?reason=missing_required_field&limit=1")
    assert row_ids(first.text) == [2]
    assert '<option value="missing_required_field" selected>missing_required_field (2)</option>' in first.text
    following = next_link(first.text)
    assert following is not None and "reason=missing_required_field" in following
    second = client.get(following)
    assert row_ids(second.text) == [4] and "First page" in second.text
    assert row_ids(client.get(f"/projects/{project.name}/quarantine?cursor=6").text) == []
    for bad in ("cursor=abc", "limit=0", "limit=9999", "reason=%3Cscript%3E"):
        response = client.get(f"/projects/{project.name}/quarantine?{bad}")
        assert response.status_code == 422, bad
        assert "Check the input" in response.text


def test_raw_content_is_escaped(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    page = client.get(f"/projects/{project.name}/quarantine").text
    assert "<script>alert(1)</script>" not in page
    shown = [html.unescape(raw) for raw in re.findall(r'<pre class="raw">(.*?)</pre>', page, re.S)]
    assert shown[1] == BAD_ROWS[1].decode()  # shown exactly, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bulk_and_single_decisions_and_the_counts_in_the_flash(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    url = f"/projects/{project.name}/quarantine"
    token = csrf_of(client.get(url).text)

    bulk = client.post(
        url, data={"csrf_token": token, "action": "release", "ids": ["2", "3", "4", "5", "6"]}, follow_redirects=False
    )
    assert bulk.status_code == 303
    after = client.get(bulk.headers["location"])
    assert flash(after.text) == (
        "2 released, 3 still failing (invalid_json: 1, not_an_object: 1, too_short: 1), 0 dropped."
    )
    assert row_ids(after.text) == [3, 5, 6]

    forced = client.post(url, data={"csrf_token": token, "action": "release", "force": "1", "ids": ["6"]})
    assert flash(forced.text) == "1 released, 0 still failing, 0 dropped."
    one = client.post(url, data={"csrf_token": token, "row": "drop:3"})
    assert flash(one.text) == "0 released, 0 still failing, 1 dropped." and row_ids(one.text) == [5]
    again = client.post(url, data={"csrf_token": token, "row": "release:3"})
    assert flash(again.text) == "0 released, 1 still failing (conflict: 1), 0 dropped."
    dropped = client.post(url, data={"csrf_token": token, "action": "drop", "ids": ["5"]})
    assert flash(dropped.text) == "0 released, 0 still failing, 1 dropped."
    assert "Nothing in quarantine." in dropped.text
    assert status_of(project) == {"g1": "accepted", "m1": "accepted", "#3": "deleted", "m2": "accepted",
                                  "#5": "deleted", "s1": "accepted"}  # fmt: skip

    nothing = client.post(url, data={"csrf_token": token, "action": "release"})
    assert nothing.status_code == 422
    assert re.search(r'role="alert">Select at least one row first\.<', nothing.text)
    assert "Nothing in quarantine." in nothing.text  # the page itself, with the message


def test_the_flash_reads_only_numbers_and_codes() -> None:
    assert flash_from_query({"released": "1", "dropped": "2", "failed": "invalid_json:3"}) == (
        "1 released, 3 still failing (invalid_json: 3), 2 dropped."
    )
    assert flash_from_query({"released": "1", "dropped": "x"}) is None
    assert flash_from_query({"released": "0", "dropped": "0", "failed": "<b>hi</b>:1,ok:1"}) == (
        "0 released, 1 still failing (ok: 1), 0 dropped."
    )
    assert flash_from_query({"run": "7", "run_decision": "drop", "records": "1"}) == "Dropped run 7: 1 record."


def test_held_runs_are_released_or_dropped_from_the_page(make_project: ProjectFactory) -> None:
    project, run_id = anomaly_project(make_project)
    user(project, "ada", "steward")
    with TestClient(create_web_app(project)) as client:
        log_in(client, "ada")
        page = client.get(f"/projects/{project.name}/quarantine")
        assert f"Run {run_id}" in page.text and "Release run" in page.text and "Drop run" in page.text
        assert "rows read; the last 3 runs had a median of 30" in page.text
        token = csrf_of(page.text)
        released = client.post(f"/projects/{project.name}/quarantine/runs/{run_id}", data={"csrf_token": token,
                               "decision": "release"})  # fmt: skip
        assert released.status_code == 200
        assert flash(released.text) == f"Released run {run_id}: 5 records."
        assert "Release run" not in released.text
        again = client.post(
            f"/projects/{project.name}/quarantine/runs/{run_id}", data={"csrf_token": token, "decision": "drop"}
        )
        assert again.status_code == 409
        assert re.search(r'role="alert">Run \d+ holds no records \(not anomalous, or already decided\)\.<', again.text)
    assert held_runs(project) == []
    assert sum(1 for s in status_of(project).values() if s == "accepted") == 95
