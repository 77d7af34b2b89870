"""The web app's static files (``labelloop.ui.assets``): content-hashed URLs in the pages, long caching
only for those, ETag revalidation, HEAD, and nothing outside ``ui/static``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.project import Project
from labelloop.ui.app import create_web_app
from tests.conftest import ProjectFactory

STATIC = Path(__file__).resolve().parents[2] / "src" / "labelloop" / "ui" / "static"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Static files never touch the store: one backend is enough."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def client(make_project: ProjectFactory) -> Iterator[TestClient]:
    project: Project = make_project()
    with TestClient(create_web_app(project)) as test_client:
        yield test_client


def test_every_file_a_page_links_is_served_as_on_disk_and_cached_for_a_year(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert {re.sub(r"\?.*", "", link) for link in links} == {"/static/app.css", "/static/app.js", "/static/favicon.svg"}
    for link in links:
        name, digest = re.fullmatch(r"/static/([a-z_.]+)\?v=([0-9a-f]{16})", link).groups()  # type: ignore[union-attr]
        body = (STATIC / name).read_bytes()
        assert digest == hashlib.sha256(body).hexdigest()[:16]
        answer = client.get(link)
        assert answer.status_code == 200 and answer.content == body
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["etag"] == f'"{digest}"'
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    types = {
        name: client.get(f"/static/{name}").headers["content-type"] for name in ("app.js", "app.css", "favicon.svg")
    }
    assert types == {
        "app.js": "text/javascript; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
        "favicon.svg": "image/svg+xml",
    }


def test_an_unversioned_or_stale_url_is_revalidated_with_the_etag(client: TestClient) -> None:
    plain = client.get("/static/annotate.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    stale = client.get("/static/annotate.js?v=0000000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    etag = plain.headers["etag"]
    again = client.get("/static/annotate.js", headers={"If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    changed = client.get("/static/annotate.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.content == (STATIC / "annotate.js").read_bytes()


def test_head_answers_the_headers_only(client: TestClient) -> None:
    head = client.head("/static/app.js")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len((STATIC / "app.js").read_bytes())


@pytest.mark.parametrize(
    "path", ["/static/nope.js", "/static/..%2Fapp.py", "/static/%2e%2e/web.py", "/static/templates", "/static/"]
)
def test_nothing_but_the_static_files_is_served(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"import" not in answer.content
