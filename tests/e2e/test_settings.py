"""The settings page in Chromium: an admin adds a member with a role, changes a role, publishes a label
schema version edited in labelloop.yaml (the version list shows it), compares two releases and downloads
one; a steward sees no members section. No console errors, no CSP violations.

Browser tests run on SQLite only (both backends: tests/integration/test_ui_settings.py).
``LABELLOOP_SCREENSHOTS=1`` writes docs/screenshots/settings.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from labelloop.project import Project
from tests.conftest import ProjectFactory
from tests.e2e.conftest import log_in
from tests.e2e.test_dashboard import watch
from tests.integration.test_metrics_dashboard import backdate, dashboard_config, seed_dashboard

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on a SQLite file only (this overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    project = make_project(dashboard_config())
    seed_dashboard(project, per_round=10, rounds=2)
    backdate(project)
    return project


def test_an_admin_manages_members_publishes_a_version_and_downloads_a_release(
    project: Project, live_server: Any, context: Any
) -> None:
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "root")
    problems = watch(page)
    page.goto(f"{server.url}/projects/{project.name}/settings")
    assert page.get_by_role("heading", name="Settings", level=1).is_visible()

    # add a member with a role and an initial password
    page.get_by_label("User name").fill("eve")
    page.get_by_label("Role", exact=True).select_option("reviewer")
    page.get_by_label("Initial password").fill("eve-password-1")
    page.get_by_role("button", name="Add member").click()
    assert page.get_by_role("status").inner_text() == "Added eve as reviewer."
    row = page.locator('tr[data-member="eve"]')
    assert row.get_by_role("cell").first.inner_text() == "reviewer"

    # change her role
    row.get_by_label("Role of eve").select_option("adjudicator")
    row.get_by_role("button", name="Change role").click()
    assert page.get_by_role("status").inner_text() == "eve is now adjudicator."
    assert page.locator('tr[data-member="eve"] td.role-cell').inner_text() == "adjudicator"

    # a bad role change shows the message on the page
    page.locator('tr[data-member="root"]').get_by_label("Role of root").select_option("viewer")
    page.locator('tr[data-member="root"]').get_by_role("button", name="Change role").click()
    assert "last admin" in page.get_by_role("alert").inner_text()
    assert problems[0].startswith("409 ") and problems[0].endswith("/members/root/role")  # the page's own status
    problems.clear()

    # publish version 2 from labelloop.yaml: split "tech" into two labels
    assert project.dir is not None
    path = project.dir / "labelloop.yaml"
    config = yaml.safe_load(path.read_text())
    config["label_schema"]["questions"][0]["labels"] = [
        "business",
        "entertainment",
        "politics",
        "sport",
        "ai",
        "gadgets",
    ]
    config["label_schema"]["guidelines"] += "\n\n- *ai* and *gadgets* replace **tech**"
    config["label_schema"]["change"] = {"split": {"topic": {"tech": ["ai", "gadgets"]}}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    page.goto(f"{server.url}/projects/{project.name}/settings#schema")
    assert "split “tech” into ai, gadgets" in page.locator(".change").inner_text()
    page.get_by_role("button", name="Publish version 2").click()
    assert page.get_by_role("status").inner_text().startswith("Published label schema version 2:")
    versions = page.get_by_role("list", name="Published versions")
    assert versions.get_by_role("heading", name="Version 2 current").is_visible()
    assert versions.get_by_role("heading", name="Version 1").is_visible()
    assert page.locator('li[data-version="2"] .guidelines em', has_text="gadgets").is_visible()
    assert page.get_by_role("button", name="Publish version 3").count() == 0

    # releases: the diff of the last two, another pair, and a download
    assert page.locator('tr[data-release="v1"]').is_visible() and page.locator('tr[data-release="v2"]').is_visible()
    assert page.get_by_role("heading", name="From v1 to v2").is_visible()
    added = int(page.locator('[data-diff="added"]').inner_text())
    assert added > 0
    page.get_by_label("From", exact=True).select_option("v2")
    page.get_by_label("To", exact=True).select_option("v1")
    page.get_by_role("button", name="Compare").click()
    assert page.get_by_role("heading", name="From v2 to v1").is_visible()
    assert int(page.locator('[data-diff="removed"]').inner_text()) == added
    with page.expect_download() as info:
        page.get_by_role("link", name="Download v2 as JSON Lines").click()
    rows = [json.loads(line) for line in Path(info.value.path()).read_text().splitlines()]
    assert rows and {"record_id", "label", "split"} <= set(rows[0])
    assert problems == [], problems

    if os.environ.get("LABELLOOP_SCREENSHOTS") == "1":
        page.goto(f"{server.url}/projects/{project.name}/settings?from=v1&to=v2")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "settings.png"), full_page=True)


def test_a_steward_sees_no_members_section(project: Project, live_server: Any, context: Any) -> None:
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "ada")
    response = page.goto(f"{server.url}/projects/{project.name}/settings")
    assert response is not None and response.status == 200
    assert page.get_by_role("heading", name="Members and roles").count() == 0
    assert page.get_by_role("button", name="Add member").count() == 0
    assert page.get_by_role("heading", name="Sources and their last runs").is_visible()
