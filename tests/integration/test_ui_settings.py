"""The settings page through the web app (TestClient), on SQLite and PostgreSQL: who may open it and act
on it, CSRF on every form, members and roles, bad input shown with a 4xx, publishing a label-schema
version from labelloop.yaml, sources with their runs, releases with their diff and downloads."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from labelloop.governance.service import list_members
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.quality.service import aggregate
from labelloop.releases.service import create_release
from labelloop.store import repo
from labelloop.ui.app import create_web_app
from tests import webclient as web
from tests.conftest import ProjectFactory
from tests.integration.test_metrics_dashboard import PASSWORD, answer, dashboard_config, principal, push


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    project = make_project(dashboard_config(overlap=1, k_max=1))
    for name, role in [("root", "admin"), ("ada", "steward"), ("vic", "viewer"), ("rex", "reviewer")]:
        principal(project, name, role)
    push(project, "email", 0, 6)
    push(project, "chat", 10, 4)
    create_tasks(project, budget=6, seed=1)
    ann = principal(project, "ann", "annotator")
    labels = ["sport", "tech", "sport", "politics", "business", "tech"]
    for label in labels[:4]:
        lease = next_task(project, ann)
        assert lease is not None
        submit_annotation(project, ann, lease["task_id"], lease["lease_id"], answer(label))
    aggregate(project)
    create_release(project, "r1")
    for label in labels[4:]:
        lease = next_task(project, ann)
        assert lease is not None
        submit_annotation(project, ann, lease["task_id"], lease["lease_id"], answer(label))
    aggregate(project)
    create_release(project, "r2")
    return project


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    web.log_in(client, name, password)


csrf = web.csrf_of


def settings(client: TestClient, project: Project, query: str = "") -> Any:
    return client.get(f"/projects/{project.name}/settings{query}")


def post(client: TestClient, project: Project, path: str, data: dict[str, str], token: str | None = None) -> Any:
    token = token if token is not None else csrf(settings(client, project).text)
    return client.post(
        f"/projects/{project.name}/settings{path}", data={"csrf_token": token, **data}, follow_redirects=False
    )


def roles(project: Project) -> dict[str, str]:
    return {m["name"]: m["role"] for m in list_members(project)}


@pytest.mark.parametrize(
    ("name", "role", "page", "members"),
    [("root", "admin", 200, True), ("ada", "steward", 200, False), ("vic", "viewer", 403, False),
     ("rex", "reviewer", 403, False), ("ann", "annotator", 403, False)],
)  # fmt: skip
def test_who_may_open_the_page_and_the_members_section(
    client: TestClient, project: Project, name: str, role: str, page: int, members: bool
) -> None:
    log_in(client, name)
    response = settings(client, project)
    assert response.status_code == page
    if page == 403:
        assert "Not allowed" in response.text and "settings manage" in response.text
        return
    assert ('id="members"' in response.text) is members
    assert 'id="schema"' in response.text and 'id="sources"' in response.text and 'id="releases"' in response.text


def test_a_steward_may_not_act_on_members(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    token = csrf(settings(client, project).text)
    for path, data in [
        ("/members", {"name": "eve", "role": "admin", "password": "long-enough-1"}),
        ("/members/vic/role", {"role": "admin"}),
        ("/members/vic/tokens/revoke", {}),
        ("/members/password", {"name": "root", "password": "long-enough-1"}),
    ]:
        response = post(client, project, path, data, token)
        assert response.status_code == 403, path
        assert "users manage" in response.text
    assert roles(project)["vic"] == "viewer" and "eve" not in roles(project)


def test_every_form_needs_the_csrf_token(client: TestClient, project: Project) -> None:
    log_in(client, "root")
    for path, data in [
        ("/members", {"name": "eve", "role": "viewer", "password": "long-enough-1"}),
        ("/members/vic/role", {"role": "steward"}),
        ("/members/vic/tokens/revoke", {}),
        ("/members/password", {"name": "vic", "password": "long-enough-1"}),
        ("/schema/publish", {}),
    ]:
        for token in ("", "forged-token"):
            response = post(client, project, path, data, token)
            assert response.status_code == 403, (path, token)
            assert "CSRF" in response.text
    assert roles(project)["vic"] == "viewer" and "eve" not in roles(project)


def test_an_admin_adds_a_member_changes_a_role_and_revokes_tokens(client: TestClient, project: Project) -> None:
    log_in(client, "root")
    added = post(client, project, "/members", {"name": "eve", "role": "reviewer", "password": "long-enough-1"})
    assert added.status_code == 303
    page = client.get(added.headers["location"]).text
    assert "Added eve as reviewer." in page and 'data-member="eve"' in page
    assert roles(project)["eve"] == "reviewer"
    log_in(client, "eve", "long-enough-1")  # the initial password works
    log_in(client, "root")

    changed = post(client, project, "/members/eve/role", {"role": "adjudicator"})
    assert changed.status_code == 303
    assert "eve is now adjudicator." in client.get(changed.headers["location"]).text
    assert roles(project)["eve"] == "adjudicator"

    revoked = post(client, project, "/members/eve/tokens/revoke", {})
    assert revoked.status_code == 303
    assert "Revoked 1 API token(s) of eve." in client.get(revoked.headers["location"]).text
    assert {m["name"]: m["live_tokens"] for m in list_members(project)}["eve"] == 0

    reset = post(client, project, "/members/password", {"name": "eve", "password": "another-password"})
    assert reset.status_code == 303
    log_in(client, "eve", "another-password")

    with project.store.read() as conn:
        actions = [(e["action"], e["target"], e["actor"]) for e in repo.audit_entries(conn, project.id)]
    for action in ("user.add", "user.role", "token.revoke", "user.password"):
        assert (action, "eve", "user:root") in actions


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/members", {"name": "eve", "role": "boss", "password": "long-enough-1"}, 422, "unknown role &#39;boss&#39;"),
        ("/members", {"name": "eve", "role": "viewer", "password": "short"}, 422, "8 to 1024 characters"),
        ("/members", {"name": "eve", "role": "viewer", "password": ""}, 422, "initial password"),
        ("/members", {"name": "bad name!", "role": "viewer", "password": "long-enough-1"}, 422, "user name"),
        ("/members", {"name": "vic", "role": "viewer", "password": "long-enough-1"}, 409, "already exists"),
        ("/members/vic/role", {"role": "boss"}, 422, "unknown role"),
        ("/members/nobody/role", {"role": "viewer"}, 404, "no user"),
        ("/members/root/role", {"role": "viewer"}, 409, "last admin"),
        ("/members/password", {"name": "vic", "password": "short"}, 422, "8 to 1024 characters"),
    ],
)
def test_bad_input_shows_the_message_with_a_4xx(
    client: TestClient, project: Project, path: str, data: dict[str, str], status: int, message: str
) -> None:
    log_in(client, "root")
    response = post(client, project, path, data)
    assert response.status_code == status
    assert 'role="alert"' in response.text and message in response.text
    assert "Traceback" not in response.text
    assert roles(project) == {"root": "admin", "ada": "steward", "vic": "viewer", "rex": "reviewer", "ann": "annotator"}


def test_publishing_a_new_schema_version_from_the_file(client: TestClient, project: Project) -> None:
    log_in(client, "ada")  # stewards publish
    page = settings(client, project).text
    assert "same as version 1: nothing to publish" in page and "Publish version 2" not in page
    assert "<h1>Topic</h1>" in page and "<strong>main</strong>" in page  # guidelines rendered from Markdown

    assert project.dir is not None
    path = project.dir / "labelloop.yaml"
    config = yaml.safe_load(path.read_text())
    edited = copy.deepcopy(config)
    edited["label_schema"]["questions"][0]["labels"] = ["business", "entertainment", "politics", "sports", "tech"]
    edited["label_schema"]["guidelines"] = "Pick the main topic. <script>alert(1)</script>"
    path.write_text(yaml.safe_dump(edited))
    page = settings(client, project).text
    assert 'data-state="invalid"' in page and "label_schema.change" in page  # a rename must be declared

    edited["label_schema"]["change"] = {"renamed": {"topic": {"sport": "sports"}}}
    path.write_text(yaml.safe_dump(edited))
    page = settings(client, project).text
    assert 'data-state="ready"' in page and "rename “sport” to “sports”" in page
    published = post(client, project, "/schema/publish", {})
    assert published.status_code == 303
    page = client.get(published.headers["location"]).text
    assert "Published label schema version 2: 6 annotations migrated, 0 records queued" in page  # all six answers
    assert 'data-version="2"' in page and 'data-version="1"' in page
    assert "<script>alert(1)</script>" not in page and "alert(1)" in page  # guidelines are sanitized
    again = post(client, project, "/schema/publish", {})
    assert again.status_code == 409 and "nothing to publish" in again.text

    path.write_text("name: tickets\nlabel_schema: [oops")
    broken = post(client, project, "/schema/publish", {})
    assert broken.status_code == 422 and "not valid YAML" in broken.text


def test_sources_runs_releases_diff_and_download(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    page = settings(client, project).text
    for source in ("email", "chat"):
        assert f'data-source="{source}"' in page
    assert "succeeded" in page and "pushed over HTTP" in page
    assert 'data-release="r1"' in page and 'data-release="r2"' in page
    # the last two releases are compared by default: r2 added two labeled records
    assert "From r1 to r2" in page
    assert re.search(r'data-diff="added">2<', page) and re.search(r'data-diff="unchanged">4<', page)
    other = settings(client, project, "?from=r2&to=r1").text
    assert "From r2 to r1" in other and re.search(r'data-diff="removed">2<', other)
    missing = settings(client, project, "?from=r1&to=nope").text
    assert "release &#39;nope&#39; not found" in missing

    link = re.search(r'href="(/api/v1/projects/[^"]+/releases/r2/export\?format=jsonl)"', page)
    assert link is not None
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert len(download.content.splitlines()) == 6
    parquet = client.get(link.group(1).replace("jsonl", "parquet"))
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
