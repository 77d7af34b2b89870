"""Web sessions: login, logout, CSRF, throttling and the security headers, on both backends."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.errors import AuthenticationError, PermissionDeniedError
from labelloop.governance import sessions
from labelloop.governance.service import add_user
from labelloop.project import Project
from labelloop.ui.app import create_web_app
from labelloop.ui.security import CSP
from tests import webclient as web
from tests.conftest import ProjectFactory

PASSWORD = "a-long-password"


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    project = make_project()
    add_user(project, "ada", "steward", password=PASSWORD)
    add_user(project, "ann", "annotator", password=PASSWORD)
    return project


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


login_form_token = web.login_form_token


def log_in(client: TestClient, name: str, password: str = PASSWORD, next_url: str = "") -> str:
    return web.log_in(client, name, password, fresh=False, next_url=next_url)


def page_csrf(client: TestClient, project: Project) -> str:
    page = client.get(f"/projects/{project.name}/dashboard")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def test_login_sets_a_strict_cookie_and_lands_on_the_role_page(client: TestClient, project: Project) -> None:
    token = login_form_token(client)
    response = client.post(
        "/login", data={"username": "ann", "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("labelloop_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    landing = client.get(response.headers["location"], follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == f"/projects/{project.name}/annotate"


def test_wrong_password_unknown_user_and_missing_form_token_are_refused(client: TestClient, project: Project) -> None:
    token = login_form_token(client)
    wrong = client.post("/login", data={"username": "ann", "password": "nope-nope-nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.text
    token = login_form_token(client)  # each form gets its own token
    unknown = client.post("/login", data={"username": "zed", "password": PASSWORD, "csrf_token": token})
    assert unknown.status_code == 401 and "Wrong user name or password." in unknown.text  # no hint which
    no_token = client.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": "forged"})
    assert no_token.status_code == 401 and "form expired" in no_token.text
    assert "labelloop_session" not in client.cookies


def test_failed_logins_are_throttled_per_name(project: Project) -> None:
    for _ in range(sessions.MAX_FAILURES):
        with pytest.raises(AuthenticationError, match="wrong user name"):
            sessions.log_in(project.store, "ada", "not-the-password")
    with pytest.raises(AuthenticationError, match="too many failed logins"):
        sessions.log_in(project.store, "ada", PASSWORD)  # even the right password waits
    assert sessions.log_in(project.store, "ann", PASSWORD).principal.name == "ann"  # other names are not affected
    sessions._failures.clear()
    assert sessions.log_in(project.store, "ada", PASSWORD).principal.role.value == "steward"


def test_next_only_follows_paths_on_this_site(client: TestClient, project: Project) -> None:
    assert log_in(client, "ada", next_url="https://evil.example/x") == f"/projects/{project.name}/"
    assert log_in(client, "ada", next_url="//evil.example/x") == f"/projects/{project.name}/"
    assert log_in(client, "ada", next_url="/projects/tickets/settings") == "/projects/tickets/settings"


def test_api_accepts_the_cookie_but_state_changes_need_the_csrf_header(client: TestClient, project: Project) -> None:
    assert client.get(f"/api/v1/projects/{project.name}/metrics").status_code == 401
    log_in(client, "ada")
    assert client.get(f"/api/v1/projects/{project.name}/metrics").status_code == 200
    refused = client.post(f"/api/v1/projects/{project.name}/tasks", json={})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "CSRF" in refused.json()["detail"]
    csrf = page_csrf(client, project)
    allowed = client.post(f"/api/v1/projects/{project.name}/tasks", json={}, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code != 403  # past authentication and CSRF (the body decides the rest)


def test_bearer_tokens_need_no_csrf(project: Project) -> None:
    token = add_user(project, "bot", "steward")["token"]
    with TestClient(create_web_app(project)) as client:
        answer = client.post(
            f"/api/v1/projects/{project.name}/tasks", json={}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code != 403


def test_logout_revokes_the_session_in_the_store(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    stolen = client.cookies["labelloop_session"]
    csrf = page_csrf(client, project)
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with project.store.read() as conn:
        revoked = conn.execute(text("SELECT COUNT(*) FROM web_sessions WHERE revoked_at IS NOT NULL")).scalar_one()
    assert revoked == 1
    with pytest.raises(AuthenticationError):
        sessions.authenticate_session(project.store, stolen)  # a copied cookie is dead too
    client.cookies.set("labelloop_session", stolen)
    assert client.get(f"/api/v1/projects/{project.name}/metrics").status_code == 401


def test_logging_in_as_someone_else_ends_the_earlier_session(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    first = client.cookies["labelloop_session"]
    log_in(client, "ann")  # the same browser, another person
    second = client.cookies["labelloop_session"]
    assert second != first
    with pytest.raises(AuthenticationError):
        sessions.authenticate_session(project.store, first)  # not live until it expires
    assert sessions.authenticate_session(project.store, second).principal.name == "ann"
    with project.store.read() as conn:
        logouts = conn.execute(text("SELECT actor FROM audit_log WHERE action = 'session.logout'")).scalars().all()
    assert logouts == ["ada"]
    # a failed login leaves the live session alone
    token = login_form_token(client)
    refused = client.post("/login", data={"username": "ada", "password": "wrong-password", "csrf_token": token})
    assert refused.status_code == 401
    assert sessions.authenticate_session(project.store, second).principal.name == "ann"


def test_expired_sessions_are_refused(project: Project) -> None:
    session = sessions.log_in(project.store, "ada", PASSWORD)
    with project.store.write() as conn:
        conn.execute(text("UPDATE web_sessions SET expires_at = :t"), {"t": time.time() - 1})
    sessions._cache.clear()
    with pytest.raises(AuthenticationError, match="session has ended"):
        sessions.authenticate_session(project.store, session.token)


def test_check_csrf(project: Project) -> None:
    session = sessions.log_in(project.store, "ada", PASSWORD)
    sessions.check_csrf(session, session.csrf_token)
    for bad in (None, "", "x" * 43):
        with pytest.raises(PermissionDeniedError):
            sessions.check_csrf(session, bad)


def test_pages_need_a_session_and_send_the_security_headers(client: TestClient, project: Project) -> None:
    response = client.get(f"/projects/{project.name}/dashboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fprojects%2F{project.name}%2Fdashboard"
    login = client.get("/login")
    assert login.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-eval" not in CSP and "'unsafe-inline'" not in CSP.split(";")[1]
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in login.text and " on" + "click=" not in login.text


def test_a_member_of_another_project_gets_403(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    other = client.get("/projects/elsewhere/dashboard")
    assert other.status_code == 403
    assert "not a member" in other.text
