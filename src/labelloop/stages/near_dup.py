"""Near-duplicate detection: MinHash signatures, LSH banding, exact verification.

A record whose text's shingle set has Jaccard similarity >= the threshold with
an earlier record's is kept with ``status=near_duplicate``, ``duplicate_of``
its cluster's root (the first record of the cluster) and ``similarity``; it
gets a ``near_duplicate_of`` lineage event. Candidates come from the LSH index
and are verified on the exact shingle sets before anything is marked. Only
roots are indexed; the index lives in the state object (persisted in the store
by the caller), so a record ingested next week is matched against everything
before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow as pa

from labelloop.domain.minhash import LshIndex, MinHasher, MinHashParams, NearDupDetector
from labelloop.stages.base import LineageEvent, StageResult, empty_rejects, set_columns

__all__ = ["NearDupStage", "NearDupState"]

#: Default shingle sizes: 3 words, or 5 characters.
DEFAULT_NGRAM = {"word": 3, "char": 5}


class NearDupState(Protocol):
    """What the stage needs: the index of roots and the shingle sets of stored roots."""

    index: LshIndex

    def stored_shingles(self, ids: Sequence[int]) -> Mapping[int, np.ndarray]:
        """Shingle sets (sorted unique uint64) of stored records, by id; absent when not a live record."""
        ...

    def add_roots(self, ids: Sequence[int], keys: np.ndarray) -> None:
        """Rows that became cluster roots (already in ``index``), for the caller to persist."""
        ...


class NearDupStage:
    """Mark near-duplicates of earlier records (in the store or earlier in the batch)."""

    name = "near_dup"
    version = "1"

    def __init__(
        self,
        text_field: str,
        *,
        threshold: float = 0.8,
        shingle: str = "word",
        ngram: int | None = None,
        num_perm: int = 64,
        bands: int | None = None,
    ) -> None:
        self.text_field = text_field
        self.minhash = MinHashParams(
            threshold=threshold,
            shingle="char" if shingle == "char" else "word",
            ngram=ngram or DEFAULT_NGRAM[shingle],
            num_perm=num_perm,
            bands=bands,
        )
        self.hasher = MinHasher(self.minhash)
        self.detector = NearDupDetector(self.minhash)

    @property
    def params(self) -> Mapping[str, Any]:
        """Field, shingles, permutations, bands and threshold."""
        return {"field": self.text_field, **self.minhash.as_params()}

    @property
    def fingerprint(self) -> str:
        """Identifies the band-key scheme: keys made under other parameters are never mixed."""
        blob = orjson.dumps({k: v for k, v in self.params.items() if k != "threshold"}, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()[:16]

    def texts(self, payloads: Sequence[str | None]) -> list[str]:
        """The compared text of each canonical JSON payload ('' where there is none)."""
        field = self.text_field
        out: list[str] = []
        for payload in payloads:
            value = orjson.loads(payload).get(field) if payload else None
            out.append(value if isinstance(value, str) else "")
        return out

    def shingles_of(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The shingle set of each text."""
        sets = self.hasher.shingle_sets(texts)
        offsets = sets.offsets
        return [sets.hashes[offsets[i] : offsets[i + 1]] for i in range(len(texts))]

    def process(self, batch: pa.Table, state: NearDupState, texts: Sequence[str] | None = None) -> StageResult:
        """Mark near-duplicates among the ``accepted`` rows of ``batch`` (ids filled).

        ``result.counts["near_duplicates"]``; ``state.add_roots`` receives the ids and
        band keys of the rows that became cluster roots, for the caller to persist.
        """
        n = batch.num_rows
        if n == 0:
            return StageResult(batch, empty_rejects(), [], {"near_duplicates": 0})
        ids: list[int] = batch["id"].to_pylist()
        statuses: list[str] = batch["status"].to_pylist()
        if texts is None:
            texts = self.texts(batch["payload"].to_pylist())
        eligible = [s == "accepted" for s in statuses]
        result = self.detector.process(texts, ids, state.index, state.stored_shingles, eligible=eligible)
        dup_of: list[int | None] = batch["duplicate_of"].to_pylist()
        similarity: list[float | None] = batch["similarity"].to_pylist()
        events: list[LineageEvent] = []
        for i, root in enumerate(result.duplicate_of):
            if root is None:
                continue
            statuses[i] = "near_duplicate"
            dup_of[i] = root
            similarity[i] = result.similarity[i]
            events.append(
                LineageEvent(
                    ids[i],
                    "near_duplicate_of",
                    self.name,
                    self.version,
                    {"of": root, "similarity": round(float(result.similarity[i] or 0.0), 4)},
                )
            )
        out = set_columns(batch, status=statuses, duplicate_of=dup_of, similarity=similarity)
        roots = np.flatnonzero(result.roots)
        if len(roots):
            state.add_roots([ids[i] for i in roots], result.keys[roots])
        return StageResult(out, empty_rejects(), events, {"near_duplicates": len(events)})
