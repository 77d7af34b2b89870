"""What a project's settings page shows about it: label-schema versions and what publishing
``labelloop.yaml`` would change, and the sources with their ingestion runs.

A read model over several capabilities (labeling, ingest), like the dashboard's; members and roles are
in :mod:`labelloop.governance.service`, releases and their diffs in :mod:`labelloop.releases.service`.

A server reads ``labelloop.yaml`` when it starts. :func:`project_from_file` reads the file again, so
that a steward who edited the label schema can see the change and publish it without a restart; the
server's open project keeps the configuration it started with (schema versions live in the store, so
every later task and answer uses the published version either way).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson

from labelloop.config import PROJECT_FILE, load_project
from labelloop.domain.schemas import change_from_mapping, check_change
from labelloop.errors import ConfigError, LabelloopError
from labelloop.labeling.schemas import configured_schema, current_version, publish_schema
from labelloop.project import Project
from labelloop.store import repo

__all__ = ["project_from_file", "publish_from_file", "schema_preview", "schema_versions", "sources_overview"]


def project_from_file(project: Project) -> Project:
    """``project`` with ``labelloop.yaml`` read again from its folder (a copy; ``project`` is unchanged).

    A project opened from the store alone (no folder) is returned as it is. :class:`ConfigError` when
    the file is invalid or now names another project.
    """
    if project.dir is None:
        return project
    config = load_project(project.dir)
    if config.name != project.name:
        raise ConfigError(
            f"{project.dir / PROJECT_FILE} now names project '{config.name}', not '{project.name}'", key="name"
        )
    return dataclasses.replace(project, config=config)


def schema_versions(project: Project) -> list[dict[str, Any]]:
    """Every published label-schema version, newest first: ``version``, ``published_at``,
    ``published_by``, ``digest``, ``guidelines`` (Markdown), ``questions`` (name, type, labels) and
    ``change`` (what it changed from the previous version; None for the first)."""
    out: list[dict[str, Any]] = []
    with project.store.read() as conn:
        latest = repo.latest_schema_version(conn, project.id) or 0
        rows = [repo.get_schema_version(conn, project.id, v) for v in range(latest, 0, -1)]
    for row in rows:
        if row is None:
            continue
        body = orjson.loads(row["schema"])
        out.append(
            {
                "version": int(row["version"]),
                "published_at": float(row["published_at"]),
                "published_by": str(row["published_by"]),
                "digest": str(row["digest"]),
                "guidelines": str(row["guidelines"] or ""),
                "questions": [
                    {"name": q.get("name"), "type": q.get("type"), "labels": list(q.get("labels") or [])}
                    for q in body.get("questions", [])
                ],
                "change": orjson.loads(row["change"]) if row["change"] else None,
            }
        )
    return out


def schema_preview(project: Project) -> dict[str, Any]:
    """What publishing the label schema of ``labelloop.yaml`` (read again now) would do.

    Keys: ``current`` (the published version, or None), ``next`` (the version it would become),
    ``state`` — ``ready`` (publishable), ``unchanged`` (same as the published version) or ``invalid``
    (the file or its declared change does not explain the difference) —, ``message``, ``change``
    (renamed, merged, split and added labels, added and removed questions), ``guidelines_changed``,
    and ``questions`` (the file's questions).
    """
    with project.store.read() as conn:
        old = current_version(conn, project)
    out: dict[str, Any] = {
        "current": None if old is None else old.version,
        "next": 1 if old is None else old.version + 1,
        "state": "invalid",
        "message": "",
        "change": None,
        "guidelines_changed": False,
        "questions": [],
    }
    try:
        fresh = project_from_file(project)
        new = configured_schema(fresh)
    except LabelloopError as exc:
        out["message"] = exc.message
        return out
    out["questions"] = [{"name": q.name, "type": q.type, "labels": list(q.labels)} for q in new.questions]
    if old is None:
        out.update(state="ready", message="labelloop.yaml's label schema would be published as version 1.")
        return out
    out["guidelines_changed"] = old.schema.guidelines_digest() != new.guidelines_digest()
    if old.schema.digest() == new.digest() and not out["guidelines_changed"]:
        out.update(
            state="unchanged",
            message=f"labelloop.yaml's label schema is the same as version {old.version}: nothing to publish.",
        )
        return out
    spec = fresh.config.label_schema
    declared = getattr(spec, "change", None) if spec is not None else None
    try:
        change = check_change(old.schema, new, change_from_mapping(declared))
    except ValueError as exc:
        out["message"] = f"labelloop.yaml: label_schema.change: {exc}"
        return out
    out.update(state="ready", change=change.as_dict(), message=f"Ready to publish version {old.version + 1}.")
    return out


def publish_from_file(project: Project, actor: str) -> dict[str, Any]:
    """Publish the label schema of ``labelloop.yaml`` (read again now) as the next version and migrate
    the annotations (see :func:`labelloop.labeling.schemas.publish_schema`; audited there)."""
    return publish_schema(project_from_file(project), actor)


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    counts = orjson.loads(run["counts"]) if run["counts"] else {}
    finished = run["finished_at"]
    return {
        "run_id": int(run["id"]),
        "source": run["source_name"],
        "status": str(run["status"]),
        "started_at": float(run["started_at"]),
        "finished_at": None if finished is None else float(finished),
        "duration_s": None if finished is None else max(0.0, float(finished) - float(run["started_at"])),
        "read": int(counts.get("read", 0) or 0),
        "new": int(counts.get("new", 0) or 0),
        "duplicates": int(counts.get("exact_duplicates", 0) or 0) + int(counts.get("near_duplicates", 0) or 0),
        "quarantined": int(counts.get("quarantined", 0) or 0),
        "error": run["error"],
    }


def sources_overview(project: Project, *, runs: int = 200) -> dict[str, Any]:
    """The sources of ``labelloop.yaml`` (and any other the store knows) with their last ingestion run,
    and the most recent runs. A run without a source ingested every file source at once.

    Keys: ``sources`` (each: ``name``, ``kind``, ``where`` — path or ``pushed over HTTP`` —, ``configured``,
    ``last_run``: status, times, counts read / new / duplicates / quarantined, error, or None) and
    ``runs`` (the latest ten, newest first).
    """
    with project.store.read() as conn:
        stored = repo.source_names(conn, project.id)
        recent = [_run_view(r) for r in repo.last_runs(conn, project.id, limit=runs)]
    configured = {s.name: s for s in project.config.sources}
    names = list(configured) + sorted(set(stored.values()) - set(configured))
    out = []
    for name in names:
        spec = configured.get(name)
        kind = spec.kind if spec is not None else "unknown"
        every_file_source = kind != "push"
        last = next((r for r in recent if r["source"] == name or (r["source"] is None and every_file_source)), None)
        out.append(
            {
                "name": name,
                "kind": kind,
                "where": ("pushed over HTTP" if kind == "push" else (spec.path or "")) if spec is not None else "",
                "configured": spec is not None,
                "last_run": last,
                "last_run_age_s": None if last is None else max(0.0, time.time() - last["started_at"]),
            }
        )
    return {"sources": out, "runs": recent[:10]}
