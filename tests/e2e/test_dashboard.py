"""The dashboard in Chromium: plotly.js draws every chart under the enforcing CSP with no console error,
the page shows the counts and the α the API reports, and a viewer sees no per-annotator figure.

Browser tests run on SQLite only (the page's store side is covered on both backends by
tests/integration/test_ui_dashboard.py). ``LABELLOOP_SCREENSHOTS=1`` writes docs/screenshots/dashboard.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.quality.service import aggregate
from tests.conftest import ProjectFactory
from tests.e2e.conftest import log_in
from tests.integration.test_metrics_dashboard import backdate, dashboard_config, principal, push, seed_dashboard

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PEOPLE_CHARTS = ["throughput-people", "agreement-people", "gold", "errors-people"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Browser tests run on a SQLite file only (this overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    config = dashboard_config()
    config["dashboard"] = {"class_targets": {"sport": 10, "tech": 40}, "source_targets": {"email": 0.8, "chat": 0.5}}
    project = make_project(config)
    seed_dashboard(project, per_round=24, rounds=3)
    backdate(project)
    return project


def watch(page: Any) -> list[str]:
    """Console errors and warnings (CSP violations are reported there), uncaught page errors and failed
    requests, from now on (call it after logging in: the login page is not under test here)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def open_dashboard(page: Any, base_url: str, project: Project) -> None:
    response = page.goto(f"{base_url}/projects/{project.name}/dashboard")
    assert response is not None and response.status == 200
    page.wait_for_selector("body[data-charts='ready']", timeout=30_000)


def test_the_charts_are_drawn_and_match_the_api(project: Project, live_server: Any, context: Any) -> None:
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "ada")  # a steward
    problems = watch(page)
    open_dashboard(page, server.url, project)

    plots = page.locator("[data-figure]")
    assert plots.count() >= 14
    for i in range(plots.count()):
        plot = plots.nth(i)
        assert plot.locator("svg.main-svg").count() >= 1, plot.get_attribute("id")
        assert plot.locator(".plot-container").count() == 1
    assert page.locator("#plot-backlog .bars path").count() > 0  # bars were drawn, not only axes
    assert problems == [], problems
    for key in PEOPLE_CHARTS:
        assert page.locator(f"#chart-{key} [data-figure] svg.main-svg").count() >= 1, key

    # the same counts and α as the JSON API (the session cookie authenticates these too)
    base = f"{server.url}/api/v1/projects/{project.name}"
    metrics = page.request.get(f"{base}/metrics").json()
    agreement = page.request.get(f"{base}/agreement?bootstrap=0").json()

    def kpi(key: str) -> str:
        return str(page.locator(f'[data-kpi="{key}"]').get_attribute("data-value"))

    assert int(kpi("records")) == metrics["records"] > 0
    assert int(kpi("labeled")) == metrics["labeled"] > 0
    assert float(kpi("coverage")) == pytest.approx(metrics["coverage"])
    # coverage against the configured targets: a marker per target, and the table says what is missing
    assert page.locator("#plot-coverage-class .scatterlayer .point").count() == 2
    assert page.locator("#plot-coverage-source .scatterlayer .point").count() == 2
    per_class = page.get_by_role("table", name=re.compile("^Coverage per class"))
    assert per_class.get_by_role("columnheader", name="Target").is_visible()
    assert page.locator('[data-kpi="records"]').inner_text() == f"{metrics['records']:,}"
    assert float(kpi("alpha")) == pytest.approx(agreement["krippendorff_alpha"])
    assert page.locator('[data-kpi="alpha"]').inner_text() == f"{agreement['krippendorff_alpha']:.3f}"
    per_label = page.get_by_role("table", name="Agreement per label")
    for label, figure in agreement["per_label"].items():
        if figure["alpha"] is not None:
            row = per_label.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label, exact=True))
            assert row.get_by_role("cell").first.inner_text() == f"{figure['alpha']:.3f}"
    # every chart has its text alternative: a summary and a table of its numbers
    backlog = page.get_by_role("table", name="Backlog per queue and its age")
    assert backlog.get_by_role("rowheader", name="annotate").is_visible()
    assert page.get_by_role("img", name="Backlog per queue and its age: annotate", exact=False).count() == 1

    if os.environ.get("LABELLOOP_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)


def test_a_viewer_sees_no_figures_about_people(project: Project, live_server: Any, context: Any) -> None:
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "vic")
    problems = watch(page)
    open_dashboard(page, server.url, project)
    assert page.locator("[data-figure] svg.main-svg").count() >= 10
    for key in PEOPLE_CHARTS:
        assert page.locator(f"#chart-{key}").count() == 0, key
    html = page.content()
    for name in ("ann", "bob", "cyd"):  # no annotator's name anywhere on the page or in a figure
        assert f">{name}<" not in html and f"&#34;{name}&#34;" not in html and f'"{name}"' not in html
    assert page.get_by_text("per-annotator figures are shown to stewards and admins").is_visible()
    assert problems == [], problems


def test_an_annotator_may_not_open_the_dashboard_of_another_project_or_settings(
    project: Project, live_server: Any, context: Any
) -> None:
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "ann")
    response = page.goto(f"{server.url}/projects/{project.name}/dashboard")
    assert response is not None and response.status == 200  # every role may read the figures
    response = page.goto(f"{server.url}/projects/elsewhere/dashboard")
    assert response is not None and response.status == 403


def test_names_are_drawn_as_written_not_as_markup(make_project: ProjectFactory, live_server: Any, context: Any) -> None:
    config = dashboard_config(overlap=1, k_max=1)
    config["label_schema"]["questions"][0]["labels"] = ['<a href="https://example.org">x</a>', "<b>bold</b>"]
    project = make_project(config)
    push(project, "email", 0, 2)
    create_tasks(project)
    principal(project, "root", "admin")
    ann = principal(project, "ann", "annotator")
    for label in config["label_schema"]["questions"][0]["labels"]:
        lease = next_task(project, ann)
        assert lease is not None
        submit_annotation(project, ann, lease["task_id"], lease["lease_id"], {"topic": {"label": label}})
    aggregate(project)
    server = live_server(project)
    page = context.new_page()
    log_in(page, server.url, "root")
    problems = watch(page)
    open_dashboard(page, server.url, project)
    ticks = page.locator("#plot-coverage-class .xtick text").all_text_contents()
    assert ticks == ['<a href="https://example.org">x</a>', "<b>bold</b>"]
    assert page.locator("#plot-coverage-class svg a").count() == 0  # no link was made from a label
    assert page.locator("#plot-coverage-class tspan[style*='bold']").count() == 0
    assert problems == [], problems
