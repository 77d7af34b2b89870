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

__all__ = ["GENESIS", "entry_hash", "verify_chain"]

#: The ``prev_hash`` of a project's first entry.
GENESIS = "0" * 64


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
