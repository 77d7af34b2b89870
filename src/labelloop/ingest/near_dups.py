"""The store side of near-duplicate detection: the persisted LSH index and stored texts.

The band keys of every cluster root are rows of ``near_dup_index``. A writer
keeps the index in memory per (store, project, key scheme) and, inside its
write transaction (under the project's write lock), first reads the rows added
since it last looked — by this process or any other — so every batch is
matched against everything committed before it. A failed transaction drops
the cached index; the next batch reloads it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection

from labelloop.domain.minhash import LshIndex
from labelloop.project import Project
from labelloop.stages.near_dup import NearDupStage
from labelloop.store import repo
from labelloop.store.engine import Store

__all__ = ["StoreNearDupState", "forget_index", "index_nbytes"]


@dataclass
class _Cached:
    index: LshIndex
    watermark: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


# Per open Store object (a server keeps one; each CLI command opens its own), so an index
# never outlives the database it was read from.
_CACHE: weakref.WeakKeyDictionary[Store, dict[tuple[int, str], _Cached]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _entry(project: Project, stage: NearDupStage) -> _Cached:
    with _CACHE_LOCK:
        per_store = _CACHE.setdefault(project.store, {})
        key = (project.id, stage.fingerprint)
        entry = per_store.get(key)
        if entry is None:
            entry = per_store[key] = _Cached(LshIndex())
        return entry


def forget_index(project: Project, stage: NearDupStage) -> None:
    """Drop the cached index (after a failed transaction); the next batch reloads it."""
    with _CACHE_LOCK:
        _CACHE.get(project.store, {}).pop((project.id, stage.fingerprint), None)


def index_nbytes(project: Project) -> int:
    """Bytes held by this process's near-duplicate indexes of ``project`` (for reports)."""
    with _CACHE_LOCK:
        return sum(e.index.nbytes for (pid, _), e in _CACHE.get(project.store, {}).items() if pid == project.id)


class StoreNearDupState:
    """The state object of :class:`NearDupStage` inside one write transaction."""

    def __init__(self, conn: Connection, project: Project, stage: NearDupStage) -> None:
        self.conn = conn
        self.project = project
        self.stage = stage
        self.entry = _entry(project, stage)
        self.index = self.entry.index
        self.pending_ids: list[int] = []
        self.pending_keys: list[np.ndarray] = []
        self._refresh()

    def _refresh(self) -> None:
        entry = self.entry
        rows = repo.near_dup_keys_after(self.conn, self.project.id, self.stage.fingerprint, entry.watermark)
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        keys = np.stack([LshIndex.from_bytes(r[1]) for r in rows])
        self.index.add(keys, ids)
        entry.watermark = int(ids.max())

    def stored_shingles(self, ids: Sequence[int]) -> Mapping[int, np.ndarray]:
        """Shingle sets of the live stored records among ``ids`` (payloads read in one query)."""
        if not ids:
            return {}
        found = repo.live_payloads(self.conn, self.project.id, list(ids))
        order = sorted(found)
        payloads: list[str | None] = []
        for rid in order:
            payload, blob_ref = found[rid]
            if payload is None and blob_ref:
                payload = self.project.blobs.get(blob_ref).decode("utf-8")
            payloads.append(payload)
        sets = self.stage.shingles_of(self.stage.texts(payloads))
        return dict(zip(order, sets, strict=True))

    def add_roots(self, ids: Sequence[int], keys: np.ndarray) -> None:
        """Remember new roots (already added to the in-memory index by the detector) to persist."""
        self.pending_ids.extend(int(i) for i in ids)
        self.pending_keys.extend(keys)

    def flush(self) -> None:
        """Persist the new roots' band keys in this transaction."""
        if self.pending_ids:
            repo.add_near_dup_keys(
                self.conn,
                self.project.id,
                self.stage.fingerprint,
                [(rid, LshIndex.to_bytes(k)) for rid, k in zip(self.pending_ids, self.pending_keys, strict=True)],
            )
            self.entry.watermark = max(self.entry.watermark, max(self.pending_ids))
        self.pending_ids, self.pending_keys = [], []
