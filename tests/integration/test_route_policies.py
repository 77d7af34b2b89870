"""Every route declares who may call it: enumerate the app's routes and call each without and with a
token of the wrong project. A route that answers anything but 401/403/404 to a stranger has no policy."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from labelloop.api.app import create_app
from labelloop.governance.service import add_user
from tests.conftest import ProjectFactory
from tests.integration.test_api import bearer, open_other_project

#: Routes meant for everyone (health, docs, Prometheus scraping on a bound-to-localhost server).
PUBLIC = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _fill(path: str) -> str:
    return re.sub(r"\{project\}", "tickets", re.sub(r"\{[a-z_]+_id\}|\{id\}", "1", path))


def test_every_route_refuses_callers_without_a_policy_match(make_project: ProjectFactory, tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    other = open_other_project(tmp_path / "other", db_url)
    stranger = bearer(add_user(other, "stranger", "admin")["token"])
    app = create_app(project)
    # every documented route (the OpenAPI document lists them all, included routers too)
    routes = [(path, method.upper()) for path, ops in app.openapi()["paths"].items() for method in ops]
    routes = [(path, method) for path, method in routes if path not in PUBLIC]
    assert len(routes) >= 20
    unguarded = []
    with TestClient(app) as client:
        for path, method in routes:
            url = _fill(path)
            anonymous = client.request(method, url, json={})
            if anonymous.status_code != 401:
                unguarded.append(f"{method} {path}: {anonymous.status_code} without a token")
            foreign = client.request(method, url, json={}, headers=stranger)
            if foreign.status_code not in (403, 404, 422):
                unguarded.append(f"{method} {path}: {foreign.status_code} for another project's admin")
    other.store.dispose()
    assert unguarded == []


@pytest.mark.parametrize("path", sorted(PUBLIC - {"/docs/oauth2-redirect", "/redoc", "/docs"}))
def test_public_routes_answer_without_a_token(make_project: ProjectFactory, path: str) -> None:
    with TestClient(create_app(make_project())) as client:
        assert client.get(path).status_code == 200
