"""Deterministic train/validation/test splits by hashing each record's key.

A record's split is a pure function of ``(salt, key, ratios)``: ``u = H(salt, key)`` mapped
to [0, 1) and cut at ``train`` and ``train + validation``. No other record and no label
takes part, so an item keeps its split in every release cut with the same parameters and
test data never leaks into a later training set, however the data around it grows.

Stratification: the hash is independent of the label, so each class is split in the given
ratios in expectation (per-class counts are in each release's summary). Exact per-class
quantile cuts were rejected: they depend on the other members of the class, and a record
could change split when new records arrive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from labelloop.errors import InvalidInputError

__all__ = ["SPLITS", "SplitSpec", "split_of", "unit_hash"]

SPLITS = ("train", "validation", "test")
_SCALE = float(1 << 64)


@dataclass(frozen=True)
class SplitSpec:
    """Split ratios (summing to 1) and the salt that keys the hash."""

    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    salt: str = "labelloop"

    def __post_init__(self) -> None:
        ratios = (self.train, self.validation, self.test)
        if any(r < 0 or r > 1 for r in ratios):
            raise InvalidInputError(f"split ratios must be between 0 and 1, not {ratios}")
        if abs(sum(ratios) - 1.0) > 1e-9:
            raise InvalidInputError(f"split ratios train/validation/test must sum to 1, not {sum(ratios):g}")
        if not self.salt or len(self.salt) > 128:
            raise InvalidInputError("the split salt must be 1 to 128 characters")

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON (stored in the release and hashed into its manifest)."""
        return {"train": self.train, "validation": self.validation, "test": self.test, "salt": self.salt}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitSpec:
        """The inverse of :meth:`as_dict`."""
        return cls(float(data["train"]), float(data["validation"]), float(data["test"]), str(data["salt"]))


def unit_hash(salt: str, key: str) -> float:
    """``key`` hashed with ``salt`` to a number in [0, 1) (BLAKE2b, 64 bits)."""
    digest = hashlib.blake2b(salt.encode("utf-8") + b"\x00" + key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def split_of(key: str, spec: SplitSpec) -> str:
    """The split (``train``, ``validation`` or ``test``) of the record with stable ``key``.

    >>> split_of("r1", SplitSpec()) in SPLITS
    True
    """
    u = unit_hash(spec.salt, key)
    if u < spec.train:
        return "train"
    if u < spec.train + spec.validation:
        return "validation"
    return "test"
