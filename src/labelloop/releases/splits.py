"""Deterministic train/validation/test splits by hashing each record's key, optionally stratified.

Hash mode (the default): a record's split is a pure function of ``(salt, key, ratios)``:
``u = H(salt, key)`` mapped to [0, 1) and cut at ``train`` and ``train + validation``. No
other record and no label takes part, so an item keeps its split in every release cut with
the same parameters and test data never leaks into a later training set, however the data
around it grows. Each class is split in the given ratios only in expectation: a class of 10
items may well get 10/0/0.

Stratified mode (``SplitSpec(stratify=True)``, see :class:`StratifiedSplitter`): keys that
already had a split in the previous release keep it; the new keys of each class are taken in
the order of their unit hash ``u`` and each one goes to the split furthest below its share of
the class (largest ``ratio * n - count``, ties in ``SPLITS`` order). Every class then stays
within one item of its ratios (a class of 10 gets 8/1/1 at 0.8/0.1/0.1), small classes
included, and no released item ever moves. The price: a new item's split depends on the other
items of its class, so it is fixed the first time the item is released and inherited from then
on, rather than computable from its key alone.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.errors import InvalidInputError

__all__ = ["SPLITS", "SplitIndex", "SplitSpec", "StratifiedSplitter", "key_hash", "split_of", "unit_hash"]

SPLITS = ("train", "validation", "test")
_SCALE = float(1 << 64)
_CODE = {name: code for code, name in enumerate(SPLITS)}


@dataclass(frozen=True)
class SplitSpec:
    """Split ratios (summing to 1), the salt that keys the hash, and whether classes are stratified."""

    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    salt: str = "labelloop"
    stratify: bool = False

    def __post_init__(self) -> None:
        ratios = (self.train, self.validation, self.test)
        if any(r < 0 or r > 1 for r in ratios):
            raise InvalidInputError(f"split ratios must be between 0 and 1, not {ratios}")
        if abs(sum(ratios) - 1.0) > 1e-9:
            raise InvalidInputError(f"split ratios train/validation/test must sum to 1, not {sum(ratios):g}")
        if not self.salt or len(self.salt) > 128:
            raise InvalidInputError("the split salt must be 1 to 128 characters")

    @property
    def ratios(self) -> tuple[float, float, float]:
        """``(train, validation, test)``."""
        return (self.train, self.validation, self.test)

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON (stored in the release and hashed into its manifest).

        ``stratify`` appears only when set, so a hash-mode spec hashes as it always has.
        """
        spec: dict[str, Any] = {
            "train": self.train, "validation": self.validation, "test": self.test, "salt": self.salt,
        }  # fmt: skip
        if self.stratify:
            spec["stratify"] = True
        return spec

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitSpec:
        """The inverse of :meth:`as_dict`."""
        return cls(
            float(data["train"]), float(data["validation"]), float(data["test"]), str(data["salt"]),
            bool(data.get("stratify", False)),
        )  # fmt: skip


def unit_hash(salt: str, key: str) -> float:
    """``key`` hashed with ``salt`` to a number in [0, 1) (BLAKE2b, 64 bits)."""
    digest = hashlib.blake2b(salt.encode("utf-8") + b"\x00" + key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def key_hash(key: str) -> int:
    """``key`` as an unsalted 64-bit number (BLAKE2b): how a :class:`SplitIndex` stores it."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def split_of(key: str, spec: SplitSpec) -> str:
    """The hash-mode split (``train``, ``validation`` or ``test``) of the record with stable ``key``.

    >>> split_of("r1", SplitSpec()) in SPLITS
    True
    """
    u = unit_hash(spec.salt, key)
    if u < spec.train:
        return "train"
    if u < spec.train + spec.validation:
        return "validation"
    return "test"


class SplitIndex:
    """Item keys and their splits, compact (9 bytes a key) and looked up a page at a time.

    Keys are kept as :func:`key_hash` values; when a key is given twice, its first split counts.
    """

    def __init__(self, hashes: Sequence[int] | np.ndarray[Any, Any], codes: Sequence[int] | np.ndarray[Any, Any]):
        h = np.asarray(hashes, dtype=np.uint64)
        c = np.asarray(codes, dtype=np.int8)
        if h.shape != c.shape:
            raise ValueError("one split code per key hash")
        self._hashes, first = np.unique(h, return_index=True)
        self._codes = c[first]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> SplitIndex:
        """An index of ``(key, split)`` pairs."""
        hashes, codes = array("Q"), array("b")
        for key, split in pairs:
            hashes.append(key_hash(key))
            codes.append(_CODE[split])
        return cls(np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(codes, dtype=np.int8))

    def __len__(self) -> int:
        return int(self._hashes.size)

    def codes(self, hashes: Sequence[int] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The split code (index in :data:`SPLITS`) of each key hash, -1 where the key is not indexed."""
        h = np.asarray(hashes, dtype=np.uint64)
        if self._hashes.size == 0:
            return np.full(h.shape, -1, dtype=np.int8)
        at = np.minimum(np.searchsorted(self._hashes, h), self._hashes.size - 1)
        return np.where(self._hashes[at] == h, self._codes[at], np.int8(-1)).astype(np.int8)

    def splits(self, keys: Sequence[str]) -> list[str | None]:
        """The split of each key (None where it is not indexed)."""
        return [SPLITS[c] if c >= 0 else None for c in self.codes([key_hash(k) for k in keys]).tolist()]


class StratifiedSplitter:
    """Stratified splits: feed every record of a release (:meth:`add`), then :meth:`assign` the new keys.

    ``earlier`` holds the splits the items had before (the previous release's): those keys keep
    theirs, and their records count toward their class's shares. Each new key joins the class of
    its first record; per class, new keys are dealt in ``(u, key hash)`` order to the split with
    the largest deficit ``ratio * (n + w) - count`` (``w`` the key's records, ties in
    :data:`SPLITS` order). Deterministic: the same records, labels and earlier splits give the
    same splits, in any order of keys that appear once.

    >>> s = StratifiedSplitter(SplitSpec(stratify=True))
    >>> for i in range(10):
    ...     s.add(f"r{i}", "rare")
    >>> found = s.assign().splits([f"r{i}" for i in range(10)])
    >>> [found.count(split) for split in SPLITS]
    [8, 1, 1]
    """

    def __init__(self, spec: SplitSpec, earlier: SplitIndex | None = None) -> None:
        self.spec = spec
        self.earlier = earlier
        self._hashes = array("Q")
        self._units = array("d")
        self._classes = array("l")
        self._class_ids: dict[str | None, int] = {}

    def add(self, key: str, label: str | None) -> None:
        """One record of the release: its split key and its class (None for no class)."""
        self._hashes.append(key_hash(key))
        self._units.append(unit_hash(self.spec.salt, key))
        self._classes.append(self._class_ids.setdefault(label, len(self._class_ids)))

    def assign(self) -> SplitIndex:
        """The split of every key added (earlier ones kept, new ones dealt per class)."""
        hashes = np.frombuffer(self._hashes, dtype=np.uint64)
        if hashes.size == 0:
            return SplitIndex([], [])
        classes = np.frombuffer(self._classes, dtype=np.int64)
        units = np.frombuffer(self._units, dtype=np.float64)
        keys, first, inverse, weight = np.unique(hashes, return_index=True, return_inverse=True, return_counts=True)
        earlier = self.earlier.codes(keys) if self.earlier is not None else np.full(keys.shape, -1, dtype=np.int8)
        counts = [[0, 0, 0] for _ in self._class_ids]
        kept = earlier[inverse] >= 0
        for cls, code in zip(classes[kept].tolist(), earlier[inverse][kept].tolist(), strict=True):
            counts[cls][code] += 1
        codes = earlier.copy()
        new = np.flatnonzero(earlier < 0)
        key_class = classes[first[new]]
        order = new[np.lexsort((keys[new], units[first[new]], key_class))]
        ratios = self.spec.ratios
        for k, cls, w in zip(order.tolist(), classes[first[order]].tolist(), weight[order].tolist(), strict=True):
            count = counts[cls]
            total = count[0] + count[1] + count[2] + w
            deficits = [ratios[s] * total - count[s] for s in range(3)]
            best = deficits.index(max(deficits))
            count[best] += w
            codes[k] = best
        return SplitIndex(keys, codes)
