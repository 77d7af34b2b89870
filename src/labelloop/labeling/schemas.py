"""Published label-schema versions: the first from ``labelloop.yaml``, later ones with their change.

A version is immutable once published. Publishing a new version checks that
the change declared in ``label_schema.change`` (labels renamed, merged, split,
added; questions added or removed) explains every difference from the previous
version, then migrates existing annotations: renamed and merged labels are
rewritten into new annotation rows that supersede the originals (which stay),
and records whose answers used a split label (or that lack a new required
answer) get a new task under the new version, so they are labeled again.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from labelloop.domain.schemas import (
    LabelSchema,
    change_from_mapping,
    check_change,
    migrate_value,
    schema_from_mapping,
)
from labelloop.errors import ConfigError, ConflictError, NotFoundError
from labelloop.project import Project
from labelloop.store import repo
from labelloop.store.engine import Store

__all__ = ["SchemaVersion", "configured_schema", "current_version", "publish_schema", "schema_version"]


@dataclass(frozen=True)
class SchemaVersion:
    """One published version."""

    version: int
    schema: LabelSchema
    published_at: float
    change: dict[str, Any] | None

    @property
    def needs_text(self) -> bool:
        """Whether validating an answer needs the record's text (a spans question)."""
        return any(q.type == "spans" for q in self.schema.questions)

    def public(self) -> dict[str, Any]:
        """The version as the API shows it."""
        return {
            "version": self.version,
            "guidelines_version": self.version,
            "schema": self.schema.as_dict(),
            "digest": self.schema.digest(),
            "guidelines_digest": self.schema.guidelines_digest(),
            "published_at": self.published_at,
            "change": self.change,
        }


# Per open Store (weakly): an id() could be reused by a later Store on another database.
_CACHE: weakref.WeakKeyDictionary[Store, dict[tuple[int, int], SchemaVersion]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def configured_schema(project: Project) -> LabelSchema:
    """The label schema written in ``labelloop.yaml``; :class:`ConfigError` when there is none or it is invalid."""
    spec = project.config.label_schema
    if spec is None or not spec.questions:
        raise ConfigError(
            "labelloop.yaml has no label_schema with questions: add one to label data", key="label_schema"
        )
    data = spec.model_dump(exclude={"change"})
    try:
        return schema_from_mapping(data)
    except ValueError as exc:
        raise ConfigError(f"labelloop.yaml: label_schema: {exc}", key="label_schema") from None


def schema_version(conn: Connection, project: Project, version: int) -> SchemaVersion:
    """A published version (cached: versions never change)."""
    key = (project.id, version)
    with _LOCK:
        found = _CACHE.get(project.store, {}).get(key)
    if found is not None:
        return found
    row = repo.get_schema_version(conn, project.id, version)
    if row is None:
        raise NotFoundError(f"schema version {version} of project {project.name} does not exist")
    data = orjson.loads(row["schema"])
    data["guidelines"] = row["guidelines"]
    found = SchemaVersion(
        int(row["version"]),
        schema_from_mapping(data),
        float(row["published_at"]),
        orjson.loads(row["change"]) if row["change"] else None,
    )
    with _LOCK:
        _CACHE.setdefault(project.store, {})[key] = found
    return found


def current_version(conn: Connection, project: Project) -> SchemaVersion | None:
    """The latest published version, or None before the first publish."""
    latest = repo.latest_schema_version(conn, project.id)
    return None if latest is None else schema_version(conn, project, latest)


def ensure_published(conn: Connection, project: Project, actor: str) -> SchemaVersion:
    """The latest version; publishes version 1 from ``labelloop.yaml`` if none exists yet."""
    found = current_version(conn, project)
    if found is not None:
        return found
    schema = configured_schema(project)
    _insert(conn, project, 1, schema, None, actor)
    return schema_version(conn, project, 1)


def _insert(
    conn: Connection, project: Project, version: int, schema: LabelSchema, change: dict[str, Any] | None, actor: str
) -> None:
    body = schema.as_dict()
    body.pop("guidelines", None)
    repo.add_schema_version(
        conn,
        project_id=project.id,
        version=version,
        schema=orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode(),
        guidelines=schema.guidelines,
        digest=schema.digest(),
        guidelines_digest=schema.guidelines_digest(),
        change=orjson.dumps(change, option=orjson.OPT_SORT_KEYS).decode() if change is not None else None,
        published_at=time.time(),
        published_by=actor,
    )
    previous = repo.get_schema_version(conn, project.id, version - 1) if version > 1 else None
    repo.audit(
        conn,
        project.id,
        actor,
        "schema.publish",
        str(version),
        before=previous["digest"] if previous else None,
        after=schema.digest(),
    )


def publish_schema(project: Project, actor: str) -> dict[str, Any]:
    """Publish ``labelloop.yaml``'s label schema as the next version and migrate annotations to it.

    Returns the version, the change, and how many annotations were migrated and
    records re-queued. :class:`ConflictError` when nothing changed.
    """
    new = configured_schema(project)
    spec = project.config.label_schema
    declared = getattr(spec, "change", None) if spec is not None else None
    with project.store.write() as conn:
        project.store.lock_project(conn, project.id)
        old = current_version(conn, project)
        if old is None:
            _insert(conn, project, 1, new, None, actor)
            return {"version": 1, "change": None, "migrated": 0, "requeued": 0}
        if old.schema.digest() == new.digest() and old.schema.guidelines_digest() == new.guidelines_digest():
            raise ConflictError(f"label_schema is the same as published version {old.version}: nothing to publish")
        try:
            change = check_change(old.schema, new, change_from_mapping(declared))
        except ValueError as exc:
            raise ConfigError(f"labelloop.yaml: label_schema.change: {exc}", key="label_schema.change") from None
        version = old.version + 1
        change_doc = change.as_dict()
        _insert(conn, project, version, new, change_doc, actor)
        migrated, requeue = _migrate(conn, project, old, new, change, version)
        requeued = repo.requeue_records(conn, project.id, sorted(requeue), version, project.config.labeling)
    return {"version": version, "change": change_doc, "migrated": migrated, "requeued": requeued}


def _migrate(
    conn: Connection, project: Project, old: SchemaVersion, new: LabelSchema, change: Any, version: int
) -> tuple[int, set[int]]:
    """Rewrite the live annotations of the previous version; the records to label again."""
    migrated = 0
    requeue: set[int] = set()
    stamp = time.time()
    for row in repo.live_annotations_of_version(conn, project.id, old.version):
        result = migrate_value(orjson.loads(row["value"]), old.schema, new, change)
        if result.relabel:
            requeue.add(int(row["record_id"]))
        if result.value is None:
            continue
        repo.supersede_annotation(
            conn,
            row,
            value=orjson.dumps(result.value, option=orjson.OPT_SORT_KEYS).decode(),
            schema_version=version,
            created_at=stamp,
        )
        migrated += 1
    return migrated, requeue
