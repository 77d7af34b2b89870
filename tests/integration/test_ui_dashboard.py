"""The dashboard page through the web app (TestClient), on SQLite and PostgreSQL: who may open it, the
counts and α it shows against the API's, people's figures for stewards and admins only, figures carried
in escaped ``data-figure`` attributes (no data in a script element), and escaping of label names."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from labelloop.labeling.queue import next_task, submit_annotation
from labelloop.labeling.tasks import create_tasks
from labelloop.project import Project
from labelloop.ui.app import create_web_app
from tests import webclient as web
from tests.conftest import ProjectFactory
from tests.integration.test_metrics_dashboard import PASSWORD, dashboard_config, principal, push, seed_dashboard

PEOPLE_CHARTS = ("throughput-people", "agreement-people", "gold", "errors-people")


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    project = make_project(dashboard_config())
    seed_dashboard(project, per_round=8)
    return project


@pytest.fixture
def client(project: Project) -> Iterator[TestClient]:
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


def log_in(client: TestClient, name: str) -> None:
    web.log_in(client, name, PASSWORD)


def kpi(page: str, key: str) -> str:
    found = re.search(rf'data-kpi="{key}" data-value="([^"]*)"', page)
    assert found is not None, key
    return found.group(1)


def figures(page: str) -> dict[str, dict[str, object]]:
    """Chart id -> the figure JSON in its data-figure attribute."""
    return {
        key: json.loads(html.unescape(raw))
        for key, raw in re.findall(r'id="plot-([a-z-]+)" data-figure="([^"]*)"', page)
    }


@pytest.mark.parametrize("role", ["admin", "steward", "viewer", "annotator", "reviewer", "adjudicator"])
def test_every_role_reads_the_figures_people_figures_only_for_stewards_and_admins(
    client: TestClient, project: Project, role: str
) -> None:
    principal(project, f"x-{role}", role)
    log_in(client, f"x-{role}")
    page = client.get(f"/projects/{project.name}/dashboard")
    assert page.status_code == 200  # metrics.read: every member, as GET .../metrics
    charts = figures(page.text)
    assert {"backlog", "throughput", "latency", "coverage-class", "coverage-source", "completeness"} <= set(charts)
    assert {"freshness", "agreement", "agreement-trend", "errors", "drift", "learning"} <= set(charts)
    people = role in ("admin", "steward")
    for key in PEOPLE_CHARTS:
        assert (f'id="chart-{key}"' in page.text) is people, key
    for name in ("ann", "bob", "cyd"):
        assert (f'<th scope="row">{name}</th>' in page.text) is people


def test_the_page_shows_the_apis_counts_and_alpha(client: TestClient, project: Project) -> None:
    log_in(client, "ada")
    page = client.get(f"/projects/{project.name}/dashboard").text
    metrics = client.get(f"/api/v1/projects/{project.name}/metrics").json()
    agreement = client.get(f"/api/v1/projects/{project.name}/agreement?bootstrap=0").json()
    assert int(kpi(page, "records")) == metrics["records"] > 0
    assert int(kpi(page, "labeled")) == metrics["labeled"] > 0
    assert float(kpi(page, "coverage")) == pytest.approx(metrics["coverage"])
    assert float(kpi(page, "alpha")) == pytest.approx(agreement["krippendorff_alpha"])
    assert f">{agreement['krippendorff_alpha']:.3f}<" in page
    assert f">{metrics['records']:,}<" in page
    per_label = figures(page)["agreement"]["data"][0]  # type: ignore[index]
    shown = dict(zip(per_label["x"], per_label["y"], strict=True))  # type: ignore[index, call-overload]
    expected = {k: v["alpha"] for k, v in agreement["per_label"].items() if v["alpha"] is not None}
    assert shown == pytest.approx(expected)


def test_no_data_travels_in_a_script_element_and_no_session_means_login(client: TestClient, project: Project) -> None:
    anonymous = client.get(f"/projects/{project.name}/dashboard", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    log_in(client, "root")
    page = client.get(f"/projects/{project.name}/dashboard")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, flags=re.S)
    assert scripts and all('src="/' in attrs and body.strip() == "" for attrs, body in scripts)
    assert '<script src="/vendor/plotly.min.js" defer></script>' in page.text
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/vendor/plotly.min.js").status_code == 200
    assert re.search(r"\son[a-z]+=", page.text) is None  # no inline event handler


def test_label_names_are_escaped(make_project: ProjectFactory) -> None:
    config = copy.deepcopy(dashboard_config(overlap=1, k_max=1))
    config["label_schema"]["questions"][0]["labels"] = ["<b>bold</b>", "plain & simple"]
    project = make_project(config)
    push(project, "email", 0, 2)
    create_tasks(project)
    principal(project, "root", "admin")
    ann = principal(project, "ann", "annotator")
    lease = next_task(project, ann)
    assert lease is not None
    submit_annotation(project, ann, lease["task_id"], lease["lease_id"], {"topic": {"label": "<b>bold</b>"}})
    from labelloop.quality.service import aggregate

    aggregate(project)
    with TestClient(create_web_app(project)) as client:
        log_in(client, "root")
        page = client.get(f"/projects/{project.name}/dashboard").text
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "plain &amp; simple" in page
    labels = figures(page)["coverage-class"]["data"][0]["x"]  # type: ignore[index]
    # Plotly draws a few HTML tags as formatting: names reach it as entities, so it draws them as written
    assert labels == ["&lt;b&gt;bold&lt;/b&gt;", "plain &amp; simple"]
