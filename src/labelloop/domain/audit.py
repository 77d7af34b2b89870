"""The audit log's hash chain: each entry commits to its content and to the entry before it.

``entry_hash`` is SHA-256 over the previous entry's hash and the canonical JSON of
the entry (project, actor, action, target, time, details). Editing an entry
changes its hash; deleting one breaks the next entry's ``prev_hash``; moving one
breaks both. :func:`verify_chain` walks a project's entries in id order and
reports the first that does not fit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["GENESIS", "annotation_hash", "digest_of", "entry_hash", "verify_annotation_chains", "verify_chain"]

#: The ``prev_hash`` of a project's first entry.
GENESIS = "0" * 64


def digest_of(value: Any) -> str | None:
    """SHA-256 of a value's canonical JSON (bytes hashed as they are): the before/after digests of audit
    entries, which prove what changed without copying it (values may hold personal data). None for None."""
    if value is None:
        return None
    raw = (
        bytes(value)
        if isinstance(value, bytes | bytearray | memoryview)
        else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    )
    return hashlib.sha256(raw).hexdigest()


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The hash of ``entry`` (keys project_id, actor, action, target, at, details) after ``prev_hash``."""
    body = orjson.dumps(
        {
            "project_id": int(entry["project_id"]),
            "actor": entry["actor"],
            "action": entry["action"],
            "target": entry["target"],
            "at": repr(float(entry["at"])),
            "details": entry["details"],
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Check entries (in id order, with ``id``, ``prev_hash``, ``hash``): ``{ok, entries, first_bad, problem}``."""
    prev = GENESIS
    count = 0
    for entry in entries:
        count += 1
        if entry["prev_hash"] != prev:
            return {"ok": False, "entries": count, "first_bad": int(entry["id"]), "problem": "the chain is broken here "
                    "(an entry before it was deleted, inserted or moved)"}  # fmt: skip
        if entry_hash(prev, entry) != entry["hash"]:
            return {"ok": False, "entries": count, "first_bad": int(entry["id"]), "problem": "this entry was edited"}
        prev = str(entry["hash"])
    return {"ok": True, "entries": count, "first_bad": None, "problem": None}


def annotation_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash of an annotation (task, author, value, versions, time, what it supersedes) after ``prev_hash``.

    Each task's annotations form their own chain, whose head the task row keeps: writers
    of one task are serialized by its row lock already, so chaining costs no extra lock.
    """
    body = orjson.dumps(
        {
            "task_id": int(row["task_id"]),
            "user_id": int(row["user_id"]),
            "value": row["value"],
            "schema_version": int(row["schema_version"]),
            "created_at": repr(float(row["created_at"])),
            "supersedes": None if row["supersedes"] is None else int(row["supersedes"]),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def verify_annotation_chains(
    heads: Mapping[int, str | None], annotations: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Check every task's annotation chain (annotations in task, id order) against the task's head."""
    running: dict[int, str] = {}
    count = 0
    for row in annotations:
        count += 1
        task = int(row["task_id"])
        prev = running.get(task, GENESIS)
        if row["prev_digest"] != prev:
            return {"ok": False, "annotations": count, "first_bad_annotation": int(row["id"]),
                    "problem": "an annotation before it in its task was deleted, inserted or moved"}  # fmt: skip
        if annotation_hash(prev, row) != row["digest"]:
            return {"ok": False, "annotations": count, "first_bad_annotation": int(row["id"]),
                    "problem": "this annotation was edited"}  # fmt: skip
        running[task] = str(row["digest"])
    for task, head in heads.items():
        if (head or None) != running.get(task):
            return {"ok": False, "annotations": count, "first_bad_annotation": None,
                    "problem": f"task {task} lost annotations at the end of its chain"}  # fmt: skip
    return {"ok": True, "annotations": count, "first_bad_annotation": None, "problem": None}
