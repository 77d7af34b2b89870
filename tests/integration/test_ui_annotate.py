"""The annotate page over HTTP (TestClient) on SQLite and PostgreSQL: login and role checks, a shell
without inline scripts that leases nothing, its suggestion endpoint, and the service behind it
(``labelloop.learning.service.latest_prediction``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.governance.service import add_user
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.service import import_predictions, latest_prediction
from labelloop.project import Project
from labelloop.ui.app import create_web_app
from tests.conftest import ProjectFactory
from tests.integration.test_labeling import labeling_config, seed_records
from tests.integration.test_ui_auth import PASSWORD, log_in

GUIDELINES = "Pick the **main** topic.\n\n<img src=x onerror=alert(1)> <script>alert(2)</script>"


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    config = labeling_config()
    config["label_schema"]["guidelines"] = GUIDELINES
    project = make_project(config)
    seed_records(project, 4)
    create_tasks(project)
    for name, role in (("ann", "annotator"), ("vic", "viewer"), ("ada", "steward")):
        add_user(project, name, role, password=PASSWORD)
    return project


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


def record_ids(project: Project) -> list[int]:
    with project.store.read() as conn:
        return [int(r[0]) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))]


def leases(project: Project) -> int:
    with project.store.read() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM leases")).scalar_one())


def test_the_page_needs_a_login(client: TestClient, project: Project) -> None:
    response = client.get(f"/projects/{project.name}/annotate", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fprojects%2F{project.name}%2Fannotate"
    # the suggestion endpoint answers JSON problems, not the login page
    answer = client.get(f"/projects/{project.name}/annotate/suggestion", params={"record_id": 1})
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"


def test_a_viewer_may_not_annotate(client: TestClient, project: Project) -> None:
    log_in(client, "vic")
    page = client.get(f"/projects/{project.name}/annotate")
    assert page.status_code == 403
    assert "Not allowed" in page.text and "may not queue work" in page.text
    answer = client.get(f"/projects/{project.name}/annotate/suggestion", params={"record_id": record_ids(project)[0]})
    assert answer.status_code == 403 and answer.json()["status"] == 403
    other = client.get("/projects/elsewhere/annotate")
    assert other.status_code == 403


def test_the_shell_has_no_inline_script_leases_nothing_and_shows_safe_guidelines(
    client: TestClient, project: Project
) -> None:
    assert log_in(client, "ann") == f"/projects/{project.name}/"
    page = client.get(f"/projects/{project.name}/annotate")
    assert page.status_code == 200
    html = page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 3 and all(body.strip() == "" for body in scripts)
    sources = re.findall(r"<script\b([^>]*)>", html)
    assert [re.sub(r"\?v=[0-9a-f]{16}", "", s) for s in sources] == [
        f' src="/static/annotate-boot.js" data-project="{project.name}" data-user="ann"',
        ' src="/static/app.js" defer',
        ' src="/static/annotate.js" defer',
    ]
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, flags=re.I)  # no inline event handler in any tag
    assert "javascript:" not in html
    # the record-independent shell: the places the script fills, the data it needs, the guidelines
    for needed in ('id="record-text"', 'id="questions"', 'id="lease-left"', 'id="outbox-count"', 'id="skip-reason"'):
        assert needed in html
    assert f'data-project="{project.name}"' in html and 'data-user="ann"' in html
    assert 'data-lease-seconds="600"' in html and 'data-guidelines-version="1"' in html
    assert "<strong>main</strong>" in html and "(version 1)" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(2)" in html  # raw HTML: text
    assert 'aria-current="page"' in html and ">Annotate</a>" in html
    assert "article number" not in html  # no record in the shell
    assert leases(project) == 0  # the page route leases nothing: the script asks for a task


def test_the_api_flow_the_page_uses_with_the_session_cookie(client: TestClient, project: Project) -> None:
    log_in(client, "ann")
    page = client.get(f"/projects/{project.name}/annotate")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None
    headers = {"X-CSRF-Token": found.group(1)}
    leased = client.post(f"/api/v1/projects/{project.name}/queue/next", headers=headers).json()
    assert leased["schema"]["questions"][0]["name"] == "topic" and leased["guidelines_version"] == 1
    body = {
        "lease_id": leased["lease_id"],
        "value": {"topic": {"label": "sport"}},
        "duration_ms": 1200,
        "idempotency_key": f"web-{leased['task_id']}-{leased['lease_id']}",
    }
    first = client.post(f"/api/v1/tasks/{leased['task_id']}/annotations", json=body, headers=headers)
    assert first.status_code == 201
    again = client.post(f"/api/v1/tasks/{leased['task_id']}/annotations", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == {
        "annotation_id": first.json()["annotation_id"],
        "replayed": True,
    }
    with project.store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM annotations")).scalar_one() == 1


def test_the_suggestion_endpoint(client: TestClient, project: Project) -> None:
    log_in(client, "ann")
    page = client.get(f"/projects/{project.name}/annotate")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None
    leased = client.post(f"/api/v1/projects/{project.name}/queue/next", headers={"X-CSRF-Token": found.group(1)})
    held = int(leased.json()["record"]["id"])
    other = next(rid for rid in record_ids(project) if rid != held)
    url = f"/projects/{project.name}/annotate/suggestion"
    assert client.get(url, params={"record_id": held}).json() == {"suggestion": None}  # no predictions yet
    probs = {"sport": 0.7, "tech": 0.2, "business": 0.1}
    rows = [{"record_id": rid, "model": "m", "model_version": "1", "probs": probs} for rid in (held, other)]
    import_predictions(project, rows)
    answer = client.get(url, params={"record_id": held})
    assert answer.status_code == 200
    assert answer.json() == {
        "suggestion": {
            "question": "topic",
            "model": "m",
            "model_version": "1",
            "label": "sport",
            "probability": 0.7,
            "probs": {"business": 0.1, "sport": 0.7, "tech": 0.2},
        }
    }
    # only for the record on the caller's screen: another record, scored too, says nothing
    assert client.get(url, params={"record_id": other}).json() == {"suggestion": None}
    assert client.get(url, params={"record_id": 10_000_000}).json() == {"suggestion": None}
    assert client.get(url, params={"record_id": "x"}).status_code == 422
    with project.store.write() as conn:  # the lease ran out: nothing more about that record either
        conn.execute(text("UPDATE leases SET expires_at = 1"))
    assert client.get(url, params={"record_id": held}).json() == {"suggestion": None}


# -- the service ---------------------------------------------------------------------------------


def test_latest_prediction_reads_the_newest_version_only(make_project: ProjectFactory) -> None:
    project = make_project(labeling_config())
    seed_records(project, 3)
    a, b, c = record_ids(project)
    old = [
        {"record_id": rid, "model": "m", "model_version": "1", "probs": {"sport": 0.9, "tech": 0.1}} for rid in (a, b)
    ]
    import_predictions(project, old)
    new = [{"record_id": a, "model": "m", "model_version": "2", "probs": {"tech": 0.5, "politics": 0.5}}]
    import_predictions(project, new)
    found = latest_prediction(project, a)
    assert found is not None
    assert (found["model_version"], found["label"], found["probability"]) == ("2", "politics", 0.5)  # tie: label order
    assert latest_prediction(project, b) is None  # the newest version did not score it
    assert latest_prediction(project, c) is None
    assert latest_prediction(project, 10_000_000) is None
    # a newer import of another model shows at once
    import_predictions(project, [{"record_id": b, "model": "other", "model_version": "7", "probs": {"sport": 1.0}}])
    fresh = latest_prediction(project, b)
    assert fresh is not None and (fresh["model"], fresh["label"], fresh["probability"]) == ("other", "sport", 1.0)
    assert latest_prediction(project, a) is None  # model "other" did not score a
    # re-importing the older model's version makes it the newest again
    import_predictions(project, [{"record_id": a, "model": "m", "model_version": "1", "probs": {"tech": 1.0}}])
    again = latest_prediction(project, a)
    assert again is not None and (again["model"], again["model_version"], again["label"]) == ("m", "1", "tech")


def test_no_suggestion_without_a_single_label_question(make_project: ProjectFactory) -> None:
    config = labeling_config()
    config["label_schema"]["questions"] = [{"name": "ents", "type": "spans", "labels": ["PER"]}]
    project = make_project(config)
    seed_records(project, 1)
    assert latest_prediction(project, record_ids(project)[0]) is None
