"""Opening a project: its validated config, its store and blob store, its id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from labelloop.config import (
    PROJECT_FILE,
    ProjectConfig,
    Settings,
    load_project,
    parse_project,
    project_blob_url,
    project_database_url,
    render_template,
)
from labelloop.domain.records import FieldRule, RecordShape
from labelloop.errors import ConfigError, ConflictError
from labelloop.store import repo
from labelloop.store.blobs import BlobStore, open_blob_store
from labelloop.store.engine import Store

__all__ = ["Project", "init_project", "open_project", "open_project_in_store", "record_shape"]


@dataclass
class Project:
    """An open project: what every service call needs."""

    dir: Path | None
    config: ProjectConfig
    store: Store
    blobs: BlobStore
    id: int
    settings: Settings = field(default_factory=Settings)

    @property
    def name(self) -> str:
        """The project's name."""
        return self.config.name

    def payload(self, payload: str | None, blob_ref: str | None) -> dict[str, Any]:
        """A stored record's payload, from its row or from the blob store where a large one lives
        ({} once erased)."""
        if payload is None and blob_ref:
            payload = self.blobs.get(blob_ref).decode("utf-8")
        found = orjson.loads(payload) if payload else {}
        return found if isinstance(found, dict) else {}


def record_shape(config: ProjectConfig) -> RecordShape:
    """The domain view of the record schema in ``config``."""
    spec = config.record
    return RecordShape(
        fields={k: FieldRule(v.type, v.required, v.max_length) for k, v in spec.fields.items()},
        id_field=spec.id_field,
        text_field=spec.text_field,
        subject_field=spec.subject_field,
        consent_field=spec.consent_field,
        event_time_field=spec.event_time_field,
        extra_fields=spec.extra_fields,
        hash_exclude=frozenset(spec.hash_exclude),
        max_field_chars=spec.max_field_chars,
    )


def _register(store: Store, config: ProjectConfig, config_text: str) -> int:
    with store.write() as conn:
        project_id = repo.ensure_project(conn, config.name)
        repo.set_project_config(conn, project_id, config_text)
        for source in config.sources:
            repo.ensure_source(conn, project_id, source.name, source.kind)
    return project_id


def open_project(project_dir: Path, settings: Settings | None = None, store: Store | None = None) -> Project:
    """Load ``labelloop.yaml`` from ``project_dir``, open (and migrate) its store."""
    settings = settings or Settings()
    project_dir = project_dir.resolve()
    config = load_project(project_dir)
    if store is None:
        store = Store(
            project_database_url(project_dir, config, settings), busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
    blobs = open_blob_store(project_blob_url(project_dir, config, settings))
    project_id = _register(store, config, (project_dir / PROJECT_FILE).read_text(encoding="utf-8"))
    return Project(project_dir, config, store, blobs, project_id, settings)


def open_project_in_store(store: Store, name: str, blobs: BlobStore) -> Project:
    """Open a project of ``store`` by name, from the config saved at its last open."""
    with store.read() as conn:
        project_id = repo.find_project(conn, name)
        text = repo.get_project_config(conn, project_id)
    if text is None:
        raise ConfigError(f"project '{name}' has no saved configuration; run any labelloop command in its folder")
    config = parse_project(text, Path(f"<store>/{name}/{PROJECT_FILE}"))
    return Project(None, config, store, blobs, project_id)


def init_project(
    project_dir: Path,
    name: str | None = None,
    template: str = "default",
    settings: Settings | None = None,
    **values: str,
) -> Project:
    """Write ``labelloop.yaml`` into ``project_dir`` (created if needed) and create the store."""
    project_dir = project_dir.resolve()
    path = project_dir / PROJECT_FILE
    if path.exists():
        raise ConflictError(f"{path} already exists; edit it or choose another folder")
    project_dir.mkdir(parents=True, exist_ok=True)
    text = render_template(template, name or project_dir.name, **values)
    parse_project(text, path)  # a template must always be valid
    path.write_text(text, encoding="utf-8")
    (project_dir / ".gitignore").write_text(".labelloop/\n", encoding="utf-8")
    return open_project(project_dir, settings)
