"""Checks shared by everything that takes class probabilities or a named option: one wording for users.

Pure: numpy in, a validated array (or an :class:`InvalidInputError` that names the first bad row) out.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from labelloop.errors import InvalidInputError

__all__ = ["ROW_SUM_TOLERANCE", "check_choice", "check_probabilities"]

#: How far a row of probabilities may sum from 1 (float32 softmax output drifts by ~1e-6; scores do not).
ROW_SUM_TOLERANCE: Final = 1e-3


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """``InvalidInputError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise InvalidInputError(f"{name} must be one of {', '.join(allowed)}; got {value!r}", **{name: repr(value)})


def check_probabilities(
    probs: npt.ArrayLike, name: str = "probs", *, allow_empty: bool = True
) -> np.ndarray[Any, np.dtype[np.floating[Any]]]:
    """``probs`` as an (N, K) float array (float32 kept, other numbers as float64) after checking it holds
    probabilities: 2-D, K >= 2, finite, non-negative, each row summing to 1 within :data:`ROW_SUM_TOLERANCE`.
    With ``allow_empty=False`` an array without rows is refused too.

    >>> check_probabilities([[0.25, 0.75]]).tolist()
    [[0.25, 0.75]]
    """
    try:
        array = np.asarray(probs)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise InvalidInputError(f"{name} must be an (N, K) array of numbers: {exc}") from None
    if array.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (N items x K classes), got shape {array.shape}", shape=list(array.shape)
        )
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"{name} must hold numbers, got dtype {array.dtype}", dtype=str(array.dtype))
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if not allow_empty and array.shape[0] == 0:
        raise InvalidInputError(f"{name} has no rows: there are no items to check")
    if array.shape[1] < 2:
        raise InvalidInputError(
            f"{name} needs at least 2 columns (classes), got {array.shape[1]}", classes=array.shape[1]
        )
    for bad, what in (
        (~np.isfinite(array).all(axis=1), "NaN or infinite values"),
        ((array < 0).any(axis=1), "negative values"),
    ):
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InvalidInputError(
                f"{name} has {what} in {rows.size} row(s) (first: row {int(rows[0])})", rows=rows[:10].tolist()
            )
    sums = array.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        rows = np.flatnonzero(off)
        first = int(rows[0])
        raise InvalidInputError(
            f"{name} rows must sum to 1 (within {ROW_SUM_TOLERANCE:g}): {rows.size} row(s) do not "
            f"(first: row {first} sums to {sums[first]:.6g}); pass probabilities (e.g. softmax), not scores",
            rows=rows[:10].tolist(),
        )
    return array
