"""Exact deduplication by content hash.

A record whose content hash was seen before (in the store or earlier in the
batch) is kept with ``status=duplicate`` and ``duplicate_of`` the first record
with that content, and gets a ``duplicate_of`` lineage event: never dropped.
A row whose (source key, content hash) is already stored for the same source
is *unchanged*: a re-sent or re-read row, not a new fact; it is skipped and
counted, which is what makes pushes and re-reads idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import pyarrow as pa

from labelloop.domain.columns import fixed_binary_list
from labelloop.stages.base import LineageEvent, StageResult, empty_rejects

__all__ = ["ContentIndex", "ExactDedupStage", "MemoryContentIndex"]


class ContentIndex(Protocol):
    """What exact dedup must know about records stored before this batch."""

    def first_ids(self, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """For each known content hash, the id of the first live record with it."""
        ...

    def known_keys(self, pairs: Iterable[tuple[bytes, str]]) -> set[tuple[bytes, str]]:
        """Which (content hash, source key) pairs are already stored for this batch's source."""
        ...


class MemoryContentIndex:
    """An in-memory :class:`ContentIndex` (tests, and one-shot runs)."""

    def __init__(self) -> None:
        self.first: dict[bytes, int] = {}
        self.keys: set[tuple[bytes, str]] = set()

    def first_ids(self, hashes: Iterable[bytes]) -> dict[bytes, int]:
        return {h: self.first[h] for h in hashes if h in self.first}

    def known_keys(self, pairs: Iterable[tuple[bytes, str]]) -> set[tuple[bytes, str]]:
        return {pair for pair in pairs if pair in self.keys}

    def add(self, batch: pa.Table) -> None:
        """Remember the stored rows of ``batch``."""
        for rid, h, key in zip(
            batch["id"].to_pylist(), batch["content_hash"].to_pylist(), batch["source_key"].to_pylist(), strict=True
        ):
            self.first.setdefault(h, rid)
            self.keys.add((h, key))


class ExactDedupStage:
    """Mark exact duplicates; skip rows already stored under the same key."""

    name = "exact_dedup"
    version = "1"

    def __init__(self, *, check_keys: bool = True) -> None:
        self.check_keys = check_keys

    @property
    def params(self) -> Mapping[str, Any]:
        """Hash function and whether keys are checked for idempotency."""
        return {"hash": "blake2b-128", "check_keys": self.check_keys}

    def process(self, batch: pa.Table, state: ContentIndex) -> StageResult:
        """Mark duplicates in ``batch`` (whose ``id`` column is filled) using ``state``.

        With ``check_keys``, a row whose (content hash, source key) is stored
        already, or repeats an earlier row of the same batch, is dropped as
        unchanged.
        """
        ids: list[int] = batch["id"].to_pylist()
        hashes: list[bytes] = fixed_binary_list(batch["content_hash"])
        first = state.first_ids(set(hashes))
        check = self.check_keys
        keys: list[str] = batch["source_key"].to_pylist() if check else []
        known = state.known_keys(set(zip(hashes, keys, strict=True))) if check else set()
        keep = [True] * len(ids)
        status = ["accepted"] * len(ids)
        dup_of: list[int | None] = [None] * len(ids)
        events: list[LineageEvent] = []
        unchanged = 0
        for i, digest in enumerate(hashes):
            if check:
                pair = (digest, keys[i])
                if pair in known:
                    keep[i] = False
                    unchanged += 1
                    continue
                known.add(pair)
            original = first.get(digest)
            if original is None:
                first[digest] = ids[i]
                continue
            status[i] = "duplicate"
            dup_of[i] = original
            events.append(LineageEvent(ids[i], "duplicate_of", self.name, self.version, {"of": original}))
        out = batch.set_column(
            batch.schema.get_field_index("status"), "status", pa.array(status, pa.string())
        ).set_column(batch.schema.get_field_index("duplicate_of"), "duplicate_of", pa.array(dup_of, pa.int64()))
        if unchanged:
            out = out.filter(pa.array(keep))
        return StageResult(out, empty_rejects(), events, {"exact_duplicates": len(events), "unchanged": unchanged})
