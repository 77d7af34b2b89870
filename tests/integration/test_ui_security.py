"""Security review of the web app (TestClient, SQLite and PostgreSQL): CSRF on every state-changing
route, authorization across two projects of one store, sessions, open redirects, and bad input that
must answer a 4xx page, never a 500.

Two projects share one store: ``tickets`` (served as the home project) and ``other``. Both have the
members ``ann`` and ``bob`` (same names, different users), records, annotations waiting for review,
tasks waiting for adjudication and quarantined rows; ``other`` also has a run held by an anomaly
check. An admin of ``tickets`` must never act on an object of ``other`` by naming its id.
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from labelloop.config import Settings
from labelloop.errors import AuthenticationError, InvalidInputError
from labelloop.governance import sessions
from labelloop.governance.service import Principal, Role, add_user, set_role, verify_password
from labelloop.governance.sessions import COOKIE, authenticate_session
from labelloop.ingest.quarantine import held_runs
from labelloop.ingest.service import push_records
from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.learning.service import import_predictions
from labelloop.project import Project, open_project
from labelloop.ui.app import create_web_app
from labelloop.ui.web import PageRoute
from tests.conftest import DEFAULT_CONFIG, ProjectFactory

PASSWORD = "security-review-password"
LABELS = ["business", "politics", "sport", "tech"]
HOME = "tickets"
OTHER = "other"
INT64_MAX = 2**63 - 1


def config(name: str, *, anomalies: bool = False) -> dict[str, Any]:
    """Every question type the forms read; two answers per task, disagreement goes to adjudication."""
    out = copy.deepcopy(DEFAULT_CONFIG)
    out["name"] = name
    out["stages"] = {"rules": [{"field": "text", "min_length": 10, "severity": "quarantine"}]}
    if anomalies:
        out["stages"]["anomalies"] = {"min_history": 3, "action": "hold"}
    out["label_schema"] = {
        "guidelines": "Pick the main topic.",
        "questions": [
            {"name": "topic", "type": "single", "labels": LABELS},
            {"name": "entities", "type": "spans", "labels": ["PER", "ORG"], "required": False},
            {"name": "score", "type": "rating", "scale": [1, 5], "required": False},
            {"name": "tags", "type": "multi", "labels": ["x", "y"], "required": False},
            {"name": "note", "type": "text", "required": False},
        ],
    }
    out["labeling"] = {"overlap": 2, "k_max": 2}
    return out


def member(project: Project, name: str, role: str) -> Principal:
    add_user(project, name, role, password=PASSWORD)
    return principal_of(project, name, role)


def principal_of(project: Project, name: str, role: str) -> Principal:
    """An existing member as a principal."""
    with project.store.read() as conn:
        user_id = conn.execute(
            text("SELECT id FROM users WHERE name = :n AND project_id = :p"), {"n": name, "p": project.id}
        ).scalar_one()
    return Principal(int(user_id), name, Role(role), project.id, project.name)


WORDS = ["printer", "login", "password", "screen", "network", "email", "invoice", "refund", "order", "delivery"]


def seed(project: Project, *, held_run: bool = False) -> None:
    """Records, two bad rows in quarantine, three tasks answered differently by ann and bob (so each
    waits for review and for adjudication), and the members boss (admin), rita (reviewer) and jude
    (adjudicator). With ``held_run``, three normal runs come first and the last run is held."""
    rng = random.Random(7)
    pushes = [30, 30, 30] if held_run else [3]
    for week, n in enumerate(pushes):
        rows = [{"id": f"w{week}-{i}", "text": " ".join(rng.choice(WORDS) for _ in range(12))} for i in range(n)]
        push_records(project, orjson.dumps(rows))
    create_tasks(project, budget=3)
    bad = b'{"id": "q1", "text": "short"}\n{"id": "q2", "text": "<b>broken\n'
    if held_run:  # a small run after three of 30: held by the volume check, its bad rows quarantined
        good = [{"id": f"late-{i}", "text": " ".join(rng.choice(WORDS) for _ in range(12))} for i in range(3)]
        bad = b"\n".join(orjson.dumps(r) for r in good) + b"\n" + bad
    summary = push_records(project, bad)
    assert summary["quarantined"] == 2, summary
    ann, bob = member(project, "ann", "annotator"), member(project, "bob", "annotator")
    for who, label in ((ann, "tech"), (bob, "sport")):
        for _ in range(3):
            lease = next_task(project, who)
            assert lease is not None
            submit_annotation(project, who, lease["task_id"], lease["lease_id"], {"topic": {"label": label}})
    member(project, "boss", "admin")
    member(project, "rita", "reviewer")
    member(project, "jude", "adjudicator")


@dataclass
class World:
    home: Project
    other: Project


@pytest.fixture
def world(make_project: ProjectFactory, db_url: str, tmp_path: Path) -> World:
    home = make_project(config(HOME))
    folder = tmp_path / OTHER
    folder.mkdir()
    (folder / "labelloop.yaml").write_text(yaml.safe_dump(config(OTHER, anomalies=True), sort_keys=False))
    other = open_project(folder, Settings(database_url=db_url), store=home.store)
    seed(home)
    seed(other, held_run=True)
    return World(home, other)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_web_app(world.home), raise_server_exceptions=False) as test_client:
        yield test_client


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def log_in(client: TestClient, name: str, project: str = "", password: str = PASSWORD, next_url: str = "") -> str:
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": password,
            "project": project,
            "csrf_token": login_token(client),
            "next": next_url,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:1000]
    return str(response.headers["location"])


def csrf(client: TestClient, project: Project) -> str:
    return authenticate_session(project.store, client.cookies[COOKIE]).csrf_token


def message(html: str) -> str:
    """The error, alert or flash text of a page."""
    for pattern in (r'role="alert">([^<]*)<', r'class="detail">([^<]*)<', r'class="flash" role="status">([^<]*)<'):
        found = re.search(pattern, html)
        if found:
            return found.group(1)
    return html[:300]


def state(project: Project) -> dict[str, Any]:
    """Everything a decision could change, for every project of the store."""
    with project.store.read() as conn:
        return {
            "annotations": conn.execute(text("SELECT id, status FROM annotations ORDER BY id")).all(),
            "tasks": conn.execute(text("SELECT id, state FROM tasks ORDER BY id")).all(),
            "quarantine": conn.execute(text("SELECT record_id, decision FROM quarantine ORDER BY record_id")).all(),
            "records": conn.execute(text("SELECT id, status FROM records ORDER BY id")).all(),
            "users": conn.execute(text("SELECT id, role, password_hash FROM users ORDER BY id")).all(),
            "reviews": conn.execute(text("SELECT COUNT(*) FROM reviews")).scalar_one(),
            "tokens": conn.execute(text("SELECT id, revoked_at FROM api_tokens ORDER BY id")).all(),
            "schema_versions": conn.execute(text("SELECT COUNT(*) FROM schema_versions")).scalar_one(),
        }


def ids_of(project: Project) -> dict[str, list[int]]:
    """The ids of the project's objects a form can name."""
    with project.store.read() as conn:
        pid = {"p": project.id}
        return {
            "annotations": [
                int(r[0])
                for r in conn.execute(text("SELECT id FROM annotations WHERE project_id = :p ORDER BY id"), pid)
            ],
            "adjudication": [
                int(r[0])
                for r in conn.execute(
                    text("SELECT id FROM tasks WHERE project_id = :p AND state = 'adjudication' ORDER BY id"), pid
                )
            ],
            "quarantined": [
                int(r[0])
                for r in conn.execute(
                    text("SELECT id FROM records WHERE project_id = :p AND status = 'quarantined' ORDER BY id"), pid
                )
            ],
            "records": [
                int(r[0])
                for r in conn.execute(
                    text("SELECT id FROM records WHERE project_id = :p AND status = 'accepted' ORDER BY id"), pid
                )
            ],
        }


def fill(path: str, project: str = HOME) -> str:
    """A route path with its parameters filled in."""
    values = {"project": project, "name": "ann", "run_id": "1"}
    return re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", lambda m: values.get(m.group(1), "1"), path)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every route of the app, also inside included routers (which FastAPI includes lazily). No router
    of the app has a prefix, so each path is as served."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def page_posts(client: TestClient) -> list[str]:
    """Every POST route of the pages (forms), from the app itself: a new one is covered without a change here."""
    app_routes = client.app.routes  # type: ignore[attr-defined]
    routes = [r.path for r in api_routes(app_routes) if isinstance(r, PageRoute) and "POST" in (r.methods or set())]
    assert "/projects/{project}/review" in routes and "/logout" in routes
    return routes


# -- CSRF --------------------------------------------------------------------------------------------


def test_every_page_post_refuses_a_missing_or_wrong_csrf_token(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    before = state(world.home)
    ids = ids_of(world.home)
    full = {
        "annotation_id": str(ids["annotations"][0]),
        "decision": "accept",
        "task_id": str(ids["adjudication"][0]),
        "use": str(ids["annotations"][1]),
        "reason": "because",
        "action": "drop",
        "ids": str(ids["quarantined"][0]),
        "name": "ann",
        "role": "admin",
        "password": "a-new-password",
        "answer.topic": "sport",
    }
    for path in page_posts(client):
        for sent in ({}, {"csrf_token": ""}, {"csrf_token": token + "x"}, {"csrf_token": token.upper()}):
            response = client.post(fill(path), data={**full, **sent}, follow_redirects=False)
            if path == "/login":
                assert response.status_code == 401 and "form expired" in response.text, (path, sent)
            else:
                assert response.status_code == 403, (path, sent, response.status_code, message(response.text))
                assert "CSRF" in message(response.text), (path, message(response.text))
    assert state(world.home) == before
    # the session is still live: a refused logout did not log out
    assert client.get(f"/projects/{HOME}/dashboard", follow_redirects=False).status_code == 200


def test_api_requests_with_the_cookie_need_the_csrf_header(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    before = state(world.home)
    checked = 0
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, PageRoute) or not route.path.startswith("/api/"):
            continue
        for method in sorted((route.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            response = client.request(method, fill(route.path), json={}, headers={"X-CSRF-Token": "forged"})
            assert response.status_code == 403, (method, route.path, response.status_code, response.text[:300])
            assert "CSRF" in response.json()["detail"], (method, route.path)
            response = client.request(method, fill(route.path), json={})
            assert response.status_code == 403 and "CSRF" in response.json()["detail"], (method, route.path)
            checked += 1
    assert checked >= 10
    assert state(world.home) == before


def test_login_form_needs_its_own_double_submit_token(client: TestClient) -> None:
    # a forged login (login CSRF) without the form's cookie is refused and sets no session
    token = login_token(client)
    client.cookies.clear()
    response = client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401 and "form expired" in response.text
    assert COOKIE not in client.cookies


# -- authorization across projects --------------------------------------------------------------------


def test_an_admin_cannot_open_or_post_to_another_projects_pages(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    before = state(world.home)
    for page in ("annotate", "review", "adjudicate", "quarantine", "dashboard", "settings", ""):
        response = client.get(f"/projects/{OTHER}/{page}", follow_redirects=False)
        assert response.status_code == 403, (page, response.status_code)
    for path in page_posts(client):
        if "{project}" not in path:
            continue
        response = client.post(fill(path, OTHER), data={"csrf_token": token, "role": "admin"})
        assert response.status_code == 403, (path, response.status_code, message(response.text))
    answer = client.get(f"/projects/{OTHER}/annotate/suggestion", params={"record_id": 1})
    assert answer.status_code == 403
    assert client.get(f"/api/v1/projects/{OTHER}/metrics").status_code == 403
    assert state(world.home) == before


def test_ids_of_another_project_are_not_found(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    theirs, ours = ids_of(world.other), ids_of(world.home)
    before = state(world.home)
    base = f"/projects/{HOME}"

    def post(path: str, **data: Any) -> Any:
        return client.post(base + path, data={"csrf_token": token, **data})

    annotation = str(theirs["annotations"][0])
    for decision in ("accept", "reject", "escalate"):
        response = post("/review", annotation_id=annotation, decision=decision, reason_code="other")
        assert response.status_code == 404, (decision, message(response.text))
    response = post(
        "/review", annotation_id=annotation, decision="fix", reason_code="other", **{"answer.topic": "sport"}
    )
    assert response.status_code == 404
    their_task = str(theirs["adjudication"][0])
    assert post("/adjudicate", task_id=their_task, use=annotation, reason="x").status_code == 404
    assert (
        post("/adjudicate", task_id=their_task, use="write", reason="x", **{"answer.topic": "sport"}).status_code == 404
    )
    # one of our tasks settled with an answer of theirs
    assert post("/adjudicate", task_id=str(ours["adjudication"][0]), use=annotation, reason="x").status_code == 404
    # their quarantined rows, in bulk and one by one, released (even over the rules) or dropped
    rows = [str(i) for i in theirs["quarantined"]]
    for action in ("release", "drop"):
        done = post("/quarantine", action=action, ids=rows, force="1")
        assert done.status_code == 200 and "still failing (not_found: 2)" in message(done.text), message(done.text)
        one = post("/quarantine", row=f"{action}:{rows[0]}")
        assert one.status_code == 200 and "not_found: 1" in message(one.text), message(one.text)
    # their held run
    runs = held_runs(world.other)
    assert len(runs) == 1
    refused = post(f"/quarantine/runs/{runs[0]['run_id']}", decision="release")
    assert refused.status_code == 409, message(refused.text)
    # a member of theirs only
    member(world.other, "bea", "viewer")
    before = {**before, "users": state(world.home)["users"], "tokens": state(world.home)["tokens"]}
    assert post("/settings/members/bea/role", role="admin").status_code == 404
    assert post("/settings/members/bea/tokens/revoke").status_code == 404
    assert post("/settings/members/password", name="bea", password="another-password").status_code == 404
    assert state(world.home) == before
    assert held_runs(world.other) == runs


def test_a_members_name_shared_by_two_projects_is_changed_in_the_callers_project_only(
    client: TestClient, world: World
) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    response = client.post(
        f"/projects/{HOME}/settings/members/ann/role",
        data={"csrf_token": token, "role": "reviewer"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with world.home.store.read() as conn:
        rows = conn.execute(text("SELECT project_id, role FROM users WHERE name = 'ann'")).all()
    roles = {int(r[0]): str(r[1]) for r in rows}
    assert roles == {world.home.id: "reviewer", world.other.id: "annotator"}


def test_the_suggestion_of_another_projects_record_is_not_shown(client: TestClient, world: World) -> None:
    push_records(world.home, orjson.dumps([{"id": "fresh", "text": "a printer that will not print"}]))
    assert create_tasks(world.home, budget=1)["created"] == 1
    held = next_task(world.home, principal_of(world.home, "ann", "annotator"))  # ann is labeling it
    assert held is not None
    theirs, ours = ids_of(world.other)["records"][0], int(held["record"]["id"])
    probs = {"sport": 0.9, "tech": 0.1}
    import_predictions(world.other, [{"record_id": theirs, "model": "m", "model_version": "1", "probs": probs}])
    import_predictions(world.home, [{"record_id": ours, "model": "m", "model_version": "1", "probs": probs}])
    log_in(client, "ann")
    url = f"/projects/{HOME}/annotate/suggestion"
    assert client.get(url, params={"record_id": ours}).json()["suggestion"]["label"] == "sport"
    assert client.get(url, params={"record_id": theirs}).json() == {"suggestion": None}
    # an id beyond what the store can hold is a 422, not a 500 (SQLite overflows)
    for bad in (str(INT64_MAX + 1), "9" * 30):
        response = client.get(url, params={"record_id": bad})
        assert response.status_code == 422, (bad, response.status_code, response.text[:200])


# -- sessions ----------------------------------------------------------------------------------------


def test_login_issues_a_fresh_token_and_logout_revokes_it_at_once(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    first = client.cookies[COOKIE]
    log_in(client, "boss")
    second = client.cookies[COOKIE]
    assert first != second  # a new token at every login: a planted cookie is never promoted
    token = csrf(client, world.home)
    assert client.get(f"/projects/{HOME}/dashboard").status_code == 200  # cached for a few seconds now
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert COOKIE not in client.cookies
    client.cookies.set(COOKIE, second)  # the old cookie replayed at once, inside the cache time
    page = client.get(f"/projects/{HOME}/dashboard", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get(f"/api/v1/projects/{HOME}/metrics").status_code == 401


def test_the_session_cookie_is_secure_over_https(world: World) -> None:
    with TestClient(create_web_app(world.home), base_url="https://testserver") as client:
        response = client.post(
            "/login",
            data={"username": "boss", "password": PASSWORD, "csrf_token": login_token(client)},
            follow_redirects=False,
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
            assert flag in cookie, cookie


def test_a_new_role_applies_to_open_sessions_at_once(client: TestClient, world: World) -> None:
    with TestClient(create_web_app(world.home), raise_server_exceptions=False) as ann:
        log_in(ann, "ann")
        assert ann.get(f"/projects/{HOME}/annotate").status_code == 200  # ann's session is cached now
        set_role(world.home, "ann", "viewer", actor="test")
        assert ann.get(f"/projects/{HOME}/annotate").status_code == 403  # not 5 s later: now


def test_passwords_longer_than_the_login_accepts_are_refused_everywhere(world: World) -> None:
    with pytest.raises(InvalidInputError, match="8 to 1024 characters"):
        add_user(world.home, "verbose", "annotator", password="x" * 1025)


def test_a_new_password_ends_the_members_sessions_at_once(client: TestClient, world: World) -> None:
    """The settings page says "their web sessions ended": not a few seconds later, at once."""
    with TestClient(create_web_app(world.home), raise_server_exceptions=False) as ann:
        log_in(ann, "ann")
        assert ann.get(f"/projects/{HOME}/annotate").status_code == 200  # ann's session is cached now
        log_in(client, "boss")
        response = client.post(
            f"/projects/{HOME}/settings/members/password",
            data={"csrf_token": csrf(client, world.home), "name": "ann", "password": "a-brand-new-password"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        page = ann.get(f"/projects/{HOME}/annotate", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert ann.get(f"/api/v1/projects/{HOME}/metrics").status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\r\n/evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/%2F%2Fevil.example",
        "https:evil.example",
    ],
)
def test_next_never_leaves_the_site(client: TestClient, target: str) -> None:
    location = log_in(client, "boss", next_url=target)
    # what a browser does to a Location: tabs and newlines go, backslashes are slashes
    seen = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    assert seen.startswith("/") and not seen.startswith("//"), (target, location)
    assert "\r" not in location and "\n" not in location


def test_a_member_without_a_password_costs_the_same_check_as_an_unknown_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(world.home, "bot", "steward")  # an API-only member: no password
    add_user(world.home, "solo", "steward", password=PASSWORD)  # a member of one project
    real = verify_password
    checks: list[bool] = []

    def counted(password: str, stored: str | None) -> bool:
        checks.append(bool(stored))  # True: an argon2 hash was really checked
        return real(password, stored)

    monkeypatch.setattr("labelloop.governance.sessions.verify_password", counted)
    costs = {}
    for name in ("nobody-at-all", "bot", "solo"):
        checks.clear()
        with pytest.raises(AuthenticationError):
            sessions.log_in(world.home.store, name, "not-the-password")
        costs[name] = sum(checks)
    sessions._failures.clear()
    assert costs == {"nobody-at-all": 1, "bot": 1, "solo": 1}


def test_spraying_other_names_does_not_lift_a_throttle(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def check(password: str, stored: str | None) -> bool:
        return bool(stored) and password == PASSWORD

    monkeypatch.setattr("labelloop.governance.sessions.verify_password", check)
    sessions._failures.clear()
    try:
        for _ in range(sessions.MAX_FAILURES):
            with pytest.raises(AuthenticationError, match="wrong user name"):
                sessions.log_in(world.home.store, "boss", "guess")
        for i in range(10_001):  # cheap here: the check is patched (each costs ~0.1 s of argon2 for real)
            sessions._failed(f"spray-{i}", time.time())
        with pytest.raises(AuthenticationError, match="too many failed logins"):
            sessions.log_in(world.home.store, "boss", PASSWORD)
    finally:
        sessions._failures.clear()


# -- settings ----------------------------------------------------------------------------------------


def test_the_settings_flash_does_not_say_what_a_link_makes_it_say(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    spoof = "everyone. Your password expired: send it to it-desk@evil.example"
    for query in (
        {"done": "password", "name": spoof},
        {"done": "added", "name": spoof, "role": "admin"},
        {"done": "revoked", "name": spoof, "n": "3"},
        {"done": "role", "name": "nobody-here", "role": "admin"},
    ):
        page = client.get(f"/projects/{HOME}/settings", params=query)
        assert page.status_code == 200
        assert "evil.example" not in page.text and "nobody-here" not in page.text, query
    # a real action's message still shows
    page = client.get(f"/projects/{HOME}/settings", params={"done": "password", "name": "ann"})
    assert "Set a new password for ann" in message(page.text)


def test_a_member_cannot_be_added_with_a_password_too_long_to_log_in_with(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    long = "p" * 1025  # log_in refuses passwords over 1024 characters, as set_password does
    response = client.post(
        f"/projects/{HOME}/settings/members",
        data={"csrf_token": csrf(client, world.home), "name": "longpw", "role": "annotator", "password": long},
        follow_redirects=False,
    )
    assert response.status_code == 422, (response.status_code, message(response.text))
    assert "8 to 1024 characters" in message(response.text)
    with world.home.store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM users WHERE name = 'longpw'")).scalar_one() == 0


# -- bad input: a 4xx page with a message, never a 500 -------------------------------------------------

#: Values that are digits to str.isdigit() but no number to int(), or numbers no store column holds.
NOT_IDS = ["²", "1²", "٣²", str(INT64_MAX + 1), "9" * 30]


def test_ids_that_are_no_store_ids_are_a_4xx(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    ours = ids_of(world.home)
    task, annotation = str(ours["adjudication"][0]), str(ours["annotations"][0])
    base = f"/projects/{HOME}"
    before = state(world.home)
    for bad in NOT_IDS:
        posts = [
            ("/review", {"annotation_id": bad, "decision": "accept"}),
            ("/review", {"annotation_id": bad, "decision": "fix", "reason_code": "other", "answer.topic": "sport"}),
            ("/adjudicate", {"task_id": bad, "use": annotation, "reason": "x"}),
            ("/adjudicate", {"task_id": bad, "use": "write", "reason": "x", "answer.topic": "sport"}),
            ("/adjudicate", {"task_id": task, "use": bad, "reason": "x"}),
            ("/quarantine", {"action": "drop", "ids": bad}),
            ("/quarantine", {"row": f"drop:{bad}"}),
            (f"/quarantine/runs/{bad}", {"decision": "drop"}),
        ]
        for path, data in posts:
            response = client.post(base + path, data={"csrf_token": token, **data}, follow_redirects=False)
            assert 400 <= response.status_code < 500, (path, data, response.status_code)
            assert response.headers["content-type"].startswith("text/html"), (path, data)
        gets = [
            ("/review", {"done": "accept", "annotation": bad}),
            ("/adjudicate", {"done": bad}),
            ("/quarantine", {"cursor": bad}),
            ("/quarantine", {"limit": bad}),
            ("/quarantine", {"released": bad, "dropped": "1"}),
            ("/quarantine", {"released": "1", "dropped": bad}),
            ("/quarantine", {"run": bad, "run_decision": "drop", "records": "1"}),
            ("/quarantine", {"run": "1", "run_decision": "drop", "records": bad}),
        ]
        for path, query in gets:
            response = client.get(base + path, params=query, follow_redirects=False)
            assert response.status_code < 500, (path, query, response.status_code)
    assert state(world.home) == before


def test_spans_nested_too_deep_are_a_422(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    ours = ids_of(world.home)
    deep = "[" * 100_000 + "]" * 100_000
    review = client.post(
        f"/projects/{HOME}/review",
        data={
            "csrf_token": token,
            "annotation_id": str(ours["annotations"][0]),
            "decision": "fix",
            "reason_code": "other",
            "answer.topic": "sport",
            "answer.entities": deep,
        },
    )
    assert review.status_code == 422 and "entities" in message(review.text), (review.status_code, review.text[:300])
    adjudicate = client.post(
        f"/projects/{HOME}/adjudicate",
        data={
            "csrf_token": token,
            "task_id": str(ours["adjudication"][0]),
            "use": "write",
            "reason": "x",
            "answer.topic": "sport",
            "answer.entities": deep,
        },
    )
    assert adjudicate.status_code == 422 and "entities" in message(adjudicate.text)


def test_nul_characters_are_a_422_not_a_500(client: TestClient, world: World) -> None:
    """PostgreSQL refuses text holding NUL (the driver raises): every page refuses it first, on both backends."""
    response = client.post(
        "/login", data={"username": "bo\x00ss", "password": PASSWORD, "csrf_token": login_token(client)}
    )
    assert response.status_code == 422 and "NUL" in message(response.text), response.status_code
    log_in(client, "boss")
    token = csrf(client, world.home)
    ours = ids_of(world.home)
    base = f"/projects/{HOME}"
    before = state(world.home)
    posts = [
        ("/review", {"annotation_id": str(ours["annotations"][0]), "decision": "accept", "comment": "a\x00b"}),
        (
            "/adjudicate",
            {"task_id": str(ours["adjudication"][0]), "use": str(ours["annotations"][1]), "reason": "\x00"},
        ),
        ("/settings/members/password", {"name": "a\x00", "password": "password123"}),
        ("/settings/members/a%00/role", {"role": "admin"}),
        ("/settings/members/a%00/tokens/revoke", {}),
        ("/settings/members", {"name": "nn", "role": "annotator", "password": "pass\x00word123"}),
    ]
    for path, data in posts:
        response = client.post(base + path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 422 and "NUL" in message(response.text), (path, response.status_code)
    for path, query in (("/settings", {"from": "a\x00", "to": "b"}), ("/quarantine", {"reason": "a\x00"})):
        response = client.get(base + path, params=query)
        assert response.status_code == 422, (path, response.status_code)
    assert state(world.home) == before


def test_the_api_answers_nul_characters_with_a_4xx(world: World) -> None:
    """A value the database refuses (a NUL in text on PostgreSQL) is the caller's input: a 4xx problem."""
    token = add_user(world.home, "apibot", "admin")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    annotation = ids_of(world.home)["annotations"][0]
    with TestClient(create_web_app(world.home), raise_server_exceptions=False) as api:
        answers = [
            api.post(
                f"/api/v1/annotations/{annotation}/reviews",
                json={"decision": "accept", "comment": "a\x00b"},
                headers=headers,
            ).status_code,
            api.get(f"/api/v1/projects/{HOME}/releases/a%00b", headers=headers).status_code,
        ]
    assert max(answers) < 500, answers  # SQLite stores a NUL in text; PostgreSQL refuses it: a 4xx then
    if world.home.store.engine.dialect.name == "postgresql":
        assert all(400 <= code < 500 for code in answers), answers


BAD_VALUES = [
    "",
    " ",
    "²",
    "-1",
    "0",
    "1e3",
    "1.5",
    "9" * 30,
    "\x00",
    "a" * 5000,
    "null",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "release:",
    ":",
    "drop:²",
    "fix",
    "write",
    "[" * 3000,
]


def test_no_form_field_or_query_value_makes_a_page_answer_500(client: TestClient, world: World) -> None:
    log_in(client, "boss")
    token = csrf(client, world.home)
    ours = ids_of(world.home)
    base = f"/projects/{HOME}"
    answers = {
        "answer.topic": "sport",
        "answer.entities": "[]",
        "answer.score": "3",
        "answer.tags": "x",
        "answer.note": "n",
    }
    forms: dict[str, dict[str, str]] = {
        "/review": {
            "annotation_id": str(ours["annotations"][0]),
            "decision": "fix",
            "reason_code": "other",
            "comment": "c",
            **answers,
        },
        "/adjudicate": {"task_id": str(ours["adjudication"][0]), "use": "write", "reason": "r", **answers},
        "/quarantine": {
            "action": "release",
            "ids": str(ours["quarantined"][0]),
            "row": "",
            "force": "1",
            "reason": "",
            "cursor": "0",
            "limit": "50",
        },
        "/quarantine/runs/1": {"decision": "release"},
        "/settings/members": {"name": "newbie", "role": "annotator", "password": "password123"},
        "/settings/members/bob/role": {"role": "annotator"},
        "/settings/members/bob/tokens/revoke": {},
        "/settings/members/password": {"name": "bob", "password": "password123"},
    }
    covered = {fill(p).removeprefix(base) for p in page_posts(client) if p.startswith("/projects/")}
    assert covered - set(forms) <= {
        "/settings/schema/publish",
        "/settings/members/ann/role",
        "/settings/members/ann/tokens/revoke",
    }
    failures: list[tuple[Any, ...]] = []

    def check(response: Any, *where: str) -> None:
        if response.status_code >= 500:
            failures.append((*where, response.status_code))

    for path, full in forms.items():
        for field in list(full) or ["unexpected"]:
            for bad in BAD_VALUES:
                response = client.post(
                    base + path, data={**full, field: bad, "csrf_token": token}, follow_redirects=False
                )
                check(response, path, field, bad[:12])
            missing = {k: v for k, v in full.items() if k != field}
            check(
                client.post(base + path, data={**missing, "csrf_token": token}, follow_redirects=False),
                path,
                field,
                "(missing)",
            )
        check(client.post(base + path, data={"csrf_token": token}, follow_redirects=False), path, "*", "(empty)")
    queries = {
        "/review": ["done", "annotation"],
        "/adjudicate": ["done"],
        "/quarantine": ["reason", "cursor", "limit", "released", "dropped", "failed", "run", "run_decision", "records"],
        "/settings": ["from", "to", "done", "name", "role", "n", "version", "migrated", "requeued"],
        "/dashboard": ["x"],
        "/annotate": ["x"],
    }
    for path, keys in queries.items():
        for key in keys:
            for bad in BAD_VALUES:
                query = {"done": "accept", "run_decision": "drop", "released": "1", "dropped": "1", key: bad}
                check(client.get(base + path, params=query, follow_redirects=False), path, key, bad[:12])
    for name in ("²", "a" * 300, "..", "bob%00", "ann.."):
        for tail in ("role", "tokens/revoke"):
            response = client.post(f"{base}/settings/members/{name}/{tail}", data={"csrf_token": token, "role": "x"})
            check(response, "members", name[:12], tail)
    assert failures == [], "\n".join(map(str, failures))


# -- escaping: nothing renders data as markup ----------------------------------------------------------

UI = Path(__file__).resolve().parents[2] / "src" / "labelloop" / "ui"


def test_templates_and_scripts_have_no_raw_html_sinks() -> None:
    """Autoescaping stays in charge: no ``|safe``/Markup in templates, no HTML sinks in the scripts
    (guidelines go through the ``markdown`` filter, which sanitizes with nh3)."""
    for template in sorted((UI / "templates").glob("*.html")):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", source), template.name
    for script in sorted((UI / "static").glob("*.js")):
        source = script.read_text(encoding="utf-8")
        found = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(", source)
        assert found == [], (script.name, found)
