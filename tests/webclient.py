"""Driving the web app through a TestClient as a person would: the login form, then pages' CSRF tokens."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

__all__ = ["csrf_of", "log_in", "login_form_token"]


def login_form_token(client: TestClient) -> str:
    """The CSRF token of a freshly loaded login form (its double-submit cookie is set on the client)."""
    page = client.get("/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def log_in(client: TestClient, name: str, password: str, *, fresh: bool = True, next_url: str = "") -> str:
    """Log in through the form (after dropping earlier cookies unless ``fresh`` is False); the redirect target."""
    if fresh:
        client.cookies.clear()
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def csrf_of(html: str) -> str:
    """The session's CSRF token from a page's ``<meta name="csrf-token">``."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found is not None, html[:300]
    return found.group(1)
