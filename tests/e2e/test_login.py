"""Login, logout and role checks in the browser."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tests.conftest import ProjectFactory
from tests.e2e.conftest import PASSWORD, add_member, log_in


def test_login_logout_and_wrong_password(make_project: ProjectFactory, live_server: Any, context: Any) -> None:
    project = make_project()
    add_member(project, "ada", "steward")
    server = live_server(project)
    page = context.new_page()
    page.goto(f"{server.url}/projects/{project.name}/dashboard")
    assert "/login" in page.url  # no session: sent to the login page, and back afterwards

    page.get_by_label("User name").fill("ada")
    if os.environ.get("LABELLOOP_SCREENSHOTS") == "1":
        page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "login.png"))
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong user name or password."

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf".*/projects/{project.name}/dashboard$"))
    cookie = next(c for c in context.cookies() if c["name"] == "labelloop_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(f"{server.url}/projects/{project.name}/dashboard")
    assert "/login" in page.url  # the session is gone in the store, not only in the browser


def test_annotator_typing_a_review_url_gets_403(make_project: ProjectFactory, live_server: Any, context: Any) -> None:
    project = make_project()
    add_member(project, "ann", "annotator")
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "ann")
    response = page.goto(f"{server.url}/projects/{project.name}/review")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    response = page.goto(f"{server.url}/projects/{project.name}/settings")
    assert response is not None and response.status == 403
