"""Shared fixtures: a real database per test (SQLite file, or a fresh PostgreSQL schema).

PostgreSQL tests run when ``LABELLOOP_TEST_DATABASE_URL`` is set and *fail*
(never skip) if that server cannot be reached; without the variable they skip
with the reason. Every test gets its own SQLite file or its own schema, dropped
afterwards: tests never share state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labelloop.config import Settings
from labelloop.project import Project, open_project

PG_ENV = "LABELLOOP_TEST_DATABASE_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _psycopg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL no other test uses: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (set it to a server URL to run them)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    # No try/except: an unreachable server must fail the test, not skip it.
    with psycopg.connect(_psycopg_conninfo(admin), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in admin else "?"
    try:
        yield f"{admin}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_psycopg_conninfo(admin), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


DEFAULT_CONFIG: dict[str, Any] = {
    "name": "tickets",
    "record": {
        "id_field": "id",
        "text_field": "text",
        "subject_field": "user",
        "consent_field": "consent",
        "fields": {
            "id": {"type": "string", "required": True},
            "text": {"type": "string", "required": True},
            "user": {"type": "string"},
            "consent": {"type": "list"},
        },
    },
    "sources": [
        {"name": "inbox", "kind": "jsonl", "path": "data/*.jsonl"},
        {"name": "api", "kind": "push"},
    ],
}


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path, db_url: str) -> Iterator[ProjectFactory]:
    """Build a project folder from a config dict (default: :data:`DEFAULT_CONFIG`) and open it.

    ``make_project(config=None, files={"data/a.jsonl": b"..."})`` writes the files
    (bytes or str) relative to the project folder first.
    """
    opened: list[Project] = []

    def factory(config: dict[str, Any] | None = None, files: dict[str, bytes | str] | None = None) -> Project:
        folder = tmp_path / "project"
        folder.mkdir(exist_ok=True)
        (folder / "labelloop.yaml").write_text(yaml.safe_dump(config or DEFAULT_CONFIG, sort_keys=False))
        for rel, content in (files or {}).items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_bytes(content)
        project = open_project(folder, Settings(database_url=db_url))
        opened.append(project)
        return project

    yield factory
    for project in opened:
        project.store.dispose()
