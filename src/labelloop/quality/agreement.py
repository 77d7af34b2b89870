"""Inter-annotator agreement: Cohen's κ, Fleiss' κ, Krippendorff's α, span F1, bootstrap intervals.

Pure functions over arrays (numpy/scipy, no I/O). Three input shapes recur:

- **paired sequences** (Cohen's κ): ``a[i]`` and ``b[i]`` are two coders' labels of item ``i``;
- **dense reliability data** (α): a coders × units matrix (2-D array or list of equally long
  lists), ``None``/``NaN`` where a coder did not label a unit;
- **triples** (α, pairwise tables): an iterable of ``(unit_id, coder_id, value)``, the form a
  store holds; ids are any hashables, each (unit, coder) may carry at most one non-missing value.
  These paths never build the coders × units matrix and stay vectorized at ~1M annotations.

Missing values are ``None`` or a float ``NaN`` (including ``NaN`` in float arrays); a string
``"nan"`` is an ordinary value. Values are compared with Python equality (``1 == 1.0``).

Degenerate inputs. A statistic with no evidence or no variation is returned as ``nan`` (never an
exception, never a warning); input that is *malformed* raises
:class:`~labelloop.errors.InvalidInputError`. Where the reference implementations
(``sklearn.metrics.cohen_kappa_score``, ``statsmodels...fleiss_kappa(method="fleiss")``,
``krippendorff.alpha``) return a number we return the same number; where they return ``nan`` so do we:

=============================  ========================  ========================  ==========================
case                           ``cohen_kappa``           ``fleiss_kappa``          ``krippendorff_alpha``
=============================  ========================  ========================  ==========================
empty input / nothing left     nan (sklearn raises)      nan (statsmodels raises)  nan (krippendorff raises)
after dropping missing values
only one category present      nan (= sklearn)           nan (= statsmodels)       nan (krippendorff raises;
(everyone agrees on it)                                                            = its nan when the other
                                                                                   values are unpairable)
all agree, ≥ 2 categories      1.0 (= sklearn)           1.0 (= statsmodels)       1.0 (= krippendorff)
all differ                     the number (= sklearn),   the number                the number
                               e.g. -1.0 for 0,1 / 1,0   (= statsmodels)           (= krippendorff)
one coder per unit             n/a: a pair with a        nan: one rater per item   nan (krippendorff raises:
(nothing pairable)             missing side is dropped   (= statsmodels)           no pairable unit)
malformed input                InvalidInputError         InvalidInputError         InvalidInputError
=============================  ========================  ========================  ==========================

Malformed means: unequal lengths, not 1-D / 2-D, ragged rows, unknown ``weights``/``level``, values
outside ``labels``/``value_domain`` (sklearn silently drops such items; we refuse), string values for
weighted κ or ordinal α without an explicit order, non-numeric values for interval/ratio α,
negative/non-integer counts or unequal row sums for Fleiss, a (unit, coder) given twice in triples.

Krippendorff's α is computed from the coincidence matrix without materialising it: with
``n_uc`` the number of values ``c`` in unit ``u`` (units with ≥ 2 values only), ``m_u = Σ_c n_uc``,
``n_c = Σ_u n_uc`` and ``n = Σ_c n_c``,
``α = 1 - (n - 1) · Σ_u Σ_ck n_uc n_uk δ²_ck / (m_u - 1) / Σ_ck n_c n_k δ²_ck``.
Nominal, interval and ordinal α reduce to O(annotations) sums (ordinal δ is the interval distance
between mid-ranks ``Σ_{g<c} n_g + n_c/2``); ratio and MASI need every pair of distinct values, so their
expected disagreement costs O(V²) in the number V of distinct values.

Task types: single-label → nominal α / Cohen's κ / Fleiss' κ; ratings → ordinal or interval α;
multi-label → :func:`krippendorff_alpha_sets` (MASI distance) and :func:`per_label_alpha`;
pairwise preference ("a", "b", "tie") → :func:`preference_alpha`; spans → :func:`span_f1` and
:func:`pairwise_span_agreement`.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import maximum_bipartite_matching

from labelloop.errors import InvalidInputError

__all__ = [
    "LEVELS",
    "PREFERENCE_CHOICES",
    "PREFERENCE_ORDER",
    "ConfidenceInterval",
    "PairAgreement",
    "PairwiseSpanAgreement",
    "SpanAgreement",
    "SpanMatch",
    "SpanPair",
    "SpanScores",
    "Weights",
    "bootstrap_ci",
    "cohen_kappa",
    "cohen_kappa_ci",
    "fleiss_kappa",
    "krippendorff_alpha",
    "krippendorff_alpha_ci",
    "krippendorff_alpha_ci_from_triples",
    "krippendorff_alpha_from_columns",
    "krippendorff_alpha_from_triples",
    "krippendorff_alpha_sets",
    "masi_distance",
    "pairwise_agreement",
    "pairwise_span_agreement",
    "per_label_alpha",
    "per_label_alpha_from_triples",
    "preference_alpha",
    "span_f1",
]

Weights = Literal["linear", "quadratic"] | None
SpanMatch = Literal["exact", "overlap"]

#: Every ``level`` :func:`krippendorff_alpha` accepts.
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio", "masi")
#: The answers of a pairwise-preference question.
PREFERENCE_CHOICES: frozenset[str] = frozenset({"a", "b", "tie"})
#: Their order for ordinal α: a tie sits between preferring "a" and preferring "b".
PREFERENCE_ORDER: tuple[str, str, str] = ("a", "tie", "b")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
AnyArray = npt.NDArray[Any]

_INT_TYPES = (int, np.integer, np.bool_)
_NUMBER_TYPES = (int, float, np.integer, np.floating, np.bool_)
# Caps on the elements of one temporary block (floats): bounds memory at a few tens of MB.
_BLOCK = 1 << 21
_T = TypeVar("_T")
_NONE = np.array(None, dtype=object)


class ConfidenceInterval(NamedTuple):
    """A point estimate on the full data and a percentile bootstrap interval around it."""

    estimate: float
    low: float
    high: float


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def _wsum(index: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """``out[i] = Σ weights[index == i]`` (numpy's stubs type every ``bincount`` as integer)."""
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64, copy=False)


def _present(values: AnyArray) -> BoolArray:
    """Mask of the non-missing entries of a 1-D array."""
    kind = values.dtype.kind
    if kind == "f":
        return cast(BoolArray, ~np.isnan(values))
    if kind in "biuUS":
        return np.ones(values.shape, dtype=bool)
    if kind == "O":
        # elementwise in C: None, and NaN as the one value unequal to itself
        missing = np.equal(values, _NONE) | np.not_equal(values, values)
        return cast(BoolArray, ~missing.astype(bool))
    raise InvalidInputError(f"unsupported value type {values.dtype} (use numbers, strings or Python objects)")


def _column(values: Iterable[Any] | AnyArray, name: str) -> AnyArray:
    """A 1-D array of ``values``; Python objects stay as they are (no coercion of NaN to "nan")."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InvalidInputError(f"{name} must be one-dimensional, got shape {values.shape}")
        return values
    if isinstance(values, str | bytes):
        raise InvalidInputError(f"{name} must be a sequence of values, not a string")
    try:
        items = list(values)
    except TypeError as exc:
        raise InvalidInputError(f"{name} must be a sequence of values") from exc
    return np.fromiter(items, dtype=object, count=len(items))


def _dense(data: Any) -> AnyArray:
    """The coders × units matrix as a 2-D array; lists of lists become object arrays cell by cell."""
    if isinstance(data, np.ndarray):
        arr: AnyArray = data
    else:
        if isinstance(data, str | bytes):
            raise InvalidInputError("reliability data must be a coders x units matrix, not a string")
        try:
            rows = [list(row) for row in data]
        except TypeError as exc:
            raise InvalidInputError("reliability data must be a coders x units matrix (a list of rows)") from exc
        widths = {len(row) for row in rows}
        if len(widths) > 1:
            raise InvalidInputError(f"reliability data is ragged: rows have lengths {sorted(widths)}")
        width = widths.pop() if widths else 0
        # fromiter keeps each cell an object: np.array would split tuples/sets-as-lists into a 3rd axis
        arr = np.fromiter(chain.from_iterable(rows), dtype=object, count=len(rows) * width)
        arr = arr.reshape(len(rows), width)
    if arr.ndim != 2:
        raise InvalidInputError(f"reliability data must be 2-D (coders x units), got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class _Factors:
    """Codes of values into their distinct values ``uniques``; ``numeric`` when all are numbers."""

    codes: IntArray
    uniques: list[Any]
    numeric: FloatArray | None


def _factorize(values: AnyArray) -> _Factors:
    """Distinct values and codes. Numbers and strings come out sorted; anything else first-seen."""
    kind = values.dtype.kind
    if kind == "O":
        items = values.tolist()
        types = set(map(type, items))
        if not types:
            return _Factors(np.zeros(0, dtype=np.intp), [], np.zeros(0))
        if all(issubclass(t, str) for t in types):
            values, kind = values.astype(str), "U"
        elif all(issubclass(t, _NUMBER_TYPES) for t in types):
            try:
                if all(issubclass(t, _INT_TYPES) for t in types):
                    values, kind = values.astype(np.int64), "i"
                else:
                    values, kind = values.astype(np.float64), "f"
            except OverflowError:
                kind = "O"
        if kind == "O":
            index: dict[Any, int] = {}
            try:
                codes = np.fromiter((index.setdefault(v, len(index)) for v in items), dtype=np.intp, count=len(items))
            except TypeError as exc:
                raise InvalidInputError(f"values must be hashable: {exc}") from exc
            return _Factors(codes, list(index), None)
    if kind not in "biufUS":
        raise InvalidInputError(f"unsupported value type {values.dtype}")
    uniq, inverse = np.unique(values, return_inverse=True)
    numeric = uniq.astype(np.float64) if kind in "biuf" else None
    return _Factors(inverse.reshape(-1).astype(np.intp), uniq.tolist(), numeric)


def _sorted_if_possible(items: Iterable[_T]) -> list[_T]:
    listed = list(items)
    try:
        return sorted(listed)  # type: ignore[type-var]
    except TypeError:
        return listed


def _domain_index(domain: Sequence[Any], name: str) -> dict[Any, int]:
    index: dict[Any, int] = {}
    for i, value in enumerate(domain):
        try:
            if value in index:
                raise InvalidInputError(f"{name} lists {value!r} twice")
        except TypeError as exc:
            raise InvalidInputError(f"{name} values must be hashable") from exc
        index[value] = i
    return index


def _map_to_domain(factors: _Factors, index: Mapping[Any, int], name: str) -> IntArray:
    try:
        positions = np.array([index[u] for u in factors.uniques], dtype=np.intp)
    except KeyError as exc:
        raise InvalidInputError(f"value {exc.args[0]!r} is not in {name}") from exc
    return positions[factors.codes] if factors.codes.size else np.zeros(0, dtype=np.intp)


def _check_choice(value: str, allowed: Sequence[str], name: str) -> None:
    if value not in allowed:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _check_confidence(confidence: float, n_boot: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"the confidence level must be strictly between 0 and 1, got {confidence}")
    if operator.index(n_boot) < 1:
        raise InvalidInputError(f"n_boot must be at least 1, got {n_boot}")


# ---------------------------------------------------------------------------------------------
# Cohen's kappa
# ---------------------------------------------------------------------------------------------


def _kappa_codes(
    a: Iterable[Any] | AnyArray, b: Iterable[Any] | AnyArray, weights: Weights, labels: Sequence[Any] | None
) -> tuple[IntArray, IntArray, int]:
    """Both coders' labels as codes into one ordered label list, pairs with a missing side dropped."""
    if weights not in (None, "linear", "quadratic"):
        raise InvalidInputError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    col_a, col_b = _column(a, "a"), _column(b, "b")
    if col_a.size != col_b.size:
        raise InvalidInputError(f"a and b must label the same items: lengths {col_a.size} and {col_b.size}")
    keep = _present(col_a) & _present(col_b)
    col_a, col_b = col_a[keep], col_b[keep]
    if col_a.dtype != col_b.dtype and not (col_a.dtype.kind in "biuf" and col_b.dtype.kind in "biuf"):
        col_a, col_b = col_a.astype(object), col_b.astype(object)
    factors = _factorize(np.concatenate([col_a, col_b]))
    if labels is not None:
        label_list = list(labels)
        codes = _map_to_domain(factors, _domain_index(label_list, "labels"), "labels")
        n_labels = len(label_list)
    else:
        if weights is not None and factors.numeric is None:
            raise InvalidInputError("weighted kappa needs ordered labels: pass numbers, or labels=[...] in their order")
        codes, n_labels = factors.codes, len(factors.uniques)
    n = col_a.size
    return codes[:n], codes[n:], n_labels


def _kappa_weights(n_labels: int, weights: Weights) -> FloatArray:
    pos = np.arange(n_labels, dtype=np.float64)
    diff = np.abs(pos[:, None] - pos[None, :])
    if weights is None:
        return (diff > 0).astype(np.float64)
    return diff if weights == "linear" else diff**2


def _kappa_from_confusions(confusions: FloatArray, w: FloatArray) -> FloatArray:
    """κ of each (K × K) confusion matrix in a (B × K × K) stack; nan where κ is undefined."""
    total = confusions.sum(axis=(1, 2))
    rows = confusions.sum(axis=2)
    cols = confusions.sum(axis=1)
    observed = np.einsum("bij,ij->b", confusions, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.einsum("bi,ij,bj->b", cols, w, rows) / total
        kappa = 1.0 - observed / expected
    return cast(FloatArray, np.where((total > 0) & (expected != 0), kappa, np.nan))


def cohen_kappa(
    a: Iterable[Any] | AnyArray,
    b: Iterable[Any] | AnyArray,
    weights: Weights = None,
    *,
    labels: Sequence[Any] | None = None,
) -> float:
    """Cohen's κ between two coders who labelled the same items; equals ``sklearn``'s ``cohen_kappa_score``.

    ``a`` and ``b`` are equally long sequences (or 1-D arrays): ``a[i]`` and ``b[i]`` label item ``i``.
    A pair where either side is missing (``None``/``NaN``) is dropped. ``weights`` is ``None``
    (nominal), ``"linear"`` or ``"quadratic"``; as in sklearn, the weight of a disagreement is the
    distance between the two labels' *positions* in the ordered label list (labels 1, 2, 10 are
    equally spaced). That order is ``labels`` when given (it may list labels nobody used; a value
    outside it raises, where sklearn would silently drop the item), otherwise the numeric order of
    the values. Weighted κ over strings without ``labels`` raises :class:`InvalidInputError`.

    Returns ``nan`` when κ is undefined: no pair left, or a single category used by both coders
    (sklearn returns nan there too, with a warning). All pairs disagreeing gives a number ≤ 0.

    >>> cohen_kappa(["x", "y", "x", None], ["x", "y", "y", "y"])
    0.4
    """
    codes_a, codes_b, k = _kappa_codes(a, b, weights, labels)
    if codes_a.size == 0:
        return math.nan
    confusion = np.bincount(codes_a * k + codes_b, minlength=k * k).astype(np.float64).reshape(1, k, k)
    return float(_kappa_from_confusions(confusion, _kappa_weights(k, weights))[0])


def cohen_kappa_ci(
    a: Iterable[Any] | AnyArray,
    b: Iterable[Any] | AnyArray,
    weights: Weights = None,
    *,
    labels: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> ConfidenceInterval:
    """Cohen's κ with a percentile bootstrap interval over items: ``(estimate, low, high)``.

    Inputs as :func:`cohen_kappa` (pairs with a missing side are dropped first). Replicate ``r``
    resamples the ``n`` remaining pairs with ``rng.integers(0, n, size=n)``, ``rng`` being
    ``numpy.random.default_rng(seed)`` drawn from in replicate order, so the result is deterministic
    and equals :func:`bootstrap_ci` with the same seed over the same pairs. The label set and its
    weights are those of the full data. Replicates where κ is undefined are left out; with none
    left (or no pair at all) the bounds are ``nan``.
    """
    _check_confidence(confidence, n_boot)
    codes_a, codes_b, k = _kappa_codes(a, b, weights, labels)
    n = codes_a.size
    if n == 0:
        return ConfidenceInterval(math.nan, math.nan, math.nan)
    w = _kappa_weights(k, weights)
    cells = codes_a * k + codes_b
    confusion = np.bincount(cells, minlength=k * k).astype(np.float64).reshape(1, k, k)
    estimate = float(_kappa_from_confusions(confusion, w)[0])
    rng = np.random.default_rng(seed)
    replicates: list[FloatArray] = []
    chunk = max(1, _BLOCK // (k * k))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        counts = np.empty((size, k * k))
        for row in range(size):
            counts[row] = np.bincount(cells[rng.integers(0, n, size=n)], minlength=k * k)
        replicates.append(_kappa_from_confusions(counts.reshape(size, k, k), w))
    low, high = _percentile_interval(np.concatenate(replicates), confidence)
    return ConfidenceInterval(estimate, low, high)


# ---------------------------------------------------------------------------------------------
# Fleiss' kappa
# ---------------------------------------------------------------------------------------------


def fleiss_kappa(counts: npt.ArrayLike) -> float:
    """Fleiss' κ of an items × categories count matrix; equals statsmodels' ``fleiss_kappa(method="fleiss")``.

    ``counts[i, j]`` is how many raters put item ``i`` in category ``j``: non-negative integers, every
    row summing to the same number of raters. Returns ``nan`` for no items, fewer than two raters
    per item, or a single category used throughout (chance agreement 1). Malformed counts (not 2-D,
    negative, fractional, unequal row sums) raise :class:`InvalidInputError`.

    >>> round(fleiss_kappa([[2, 0], [0, 2], [1, 1]]), 4)
    0.3333
    """
    try:
        table = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"counts must be an items x categories matrix of numbers: {exc}") from exc
    if table.ndim != 2:
        raise InvalidInputError(f"counts must be 2-D (items x categories), got shape {table.shape}")
    if not np.all(np.isfinite(table)) or np.any(table < 0) or np.any(table != np.round(table)):
        raise InvalidInputError("counts must be non-negative whole numbers")
    n_items = table.shape[0]
    if n_items == 0:
        return math.nan
    raters = table.sum(axis=1)
    if np.any(raters != raters[0]):
        raise InvalidInputError(
            f"every item needs the same number of raters; row sums range {raters.min():g}..{raters.max():g}"
        )
    n = float(raters[0])
    if n < 2:
        return math.nan
    p_category = table.sum(axis=0) / (n_items * n)
    p_item = ((table * table).sum(axis=1) - n) / (n * (n - 1.0))
    p_observed = float(p_item.mean())
    p_expected = float((p_category * p_category).sum())
    if p_expected >= 1.0:
        return math.nan
    return (p_observed - p_expected) / (1.0 - p_expected)


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: encoding
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Encoded:
    """Present values as codes into a domain of ``n_codes`` values (ordered for ordinal α)."""

    codes: IntArray
    n_codes: int
    x: FloatArray | None = None  # numeric value per code (interval, ratio)
    sets: sparse.csr_matrix | None = None  # per code, its labels as a 0/1 row (MASI)
    labels: tuple[Any, ...] = ()  # the labels of the columns of ``sets``


def _set_of(value: Any) -> frozenset[Any]:
    if isinstance(value, frozenset):
        return value
    if isinstance(value, set | list | tuple):
        return frozenset(value)
    raise InvalidInputError(f"set-valued data needs a set (or None) in every cell, got {value!r}")


def _encode_sets(values: AnyArray) -> _Encoded:
    index: dict[frozenset[Any], int] = {}
    try:
        codes = np.fromiter(
            (index.setdefault(_set_of(v), len(index)) for v in values.tolist()), dtype=np.intp, count=values.size
        )
    except TypeError as exc:
        raise InvalidInputError(f"labels in sets must be hashable: {exc}") from exc
    label_index: dict[Any, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for row, labels in enumerate(index):
        for label in labels:
            rows.append(row)
            cols.append(label_index.setdefault(label, len(label_index)))
    membership = sparse.csr_matrix(
        (np.ones(len(rows)), (np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp))),
        shape=(len(index), len(label_index)),
    )
    return _Encoded(codes, len(index), sets=membership, labels=tuple(label_index))


def _encode(values: AnyArray, level: str, value_domain: Sequence[Any] | None) -> _Encoded:
    _check_choice(level, LEVELS, "level")
    if level == "masi":
        if value_domain is not None:
            raise InvalidInputError("value_domain does not apply to level='masi'")
        return _encode_sets(values)
    factors = _factorize(values)
    if value_domain is not None:
        domain = list(value_domain)
        codes = _map_to_domain(factors, _domain_index(domain, "value_domain"), "value_domain")
        x = None
        if level in ("interval", "ratio"):
            if not all(isinstance(v, _NUMBER_TYPES) for v in domain):
                raise InvalidInputError(f"level={level!r} needs numeric values")
            x = np.array(domain, dtype=np.float64)
        return _Encoded(codes, len(domain), x)
    if level == "nominal":
        return _Encoded(factors.codes, len(factors.uniques))
    if factors.numeric is None:
        hint = " or an ordered value_domain" if level == "ordinal" else ""
        raise InvalidInputError(f"level={level!r} needs numeric values{hint}")
    return _Encoded(factors.codes, len(factors.uniques), factors.numeric if level != "ordinal" else None)


@dataclass(frozen=True)
class _Table:
    """Sparse per-unit value counts of the pairable units: ``count[t]`` values ``value[t]`` in ``unit[t]``.

    Triplets are sorted by unit then value; only units with ≥ 2 values and values occurring in
    them are kept (re-indexed 0..U-1 and 0..V-1, value order preserved).
    """

    level: str
    unit: IntArray
    value: IntArray
    count: FloatArray
    n_units: int
    n_values: int
    x: FloatArray | None
    sets: sparse.csr_matrix | None

    def unit_totals(self) -> FloatArray:
        return _wsum(self.unit, self.count, self.n_units)

    def value_totals(self) -> FloatArray:
        return _wsum(self.value, self.count, self.n_values)

    def unit_value_matrix(self) -> sparse.csr_matrix:
        return sparse.csr_matrix((self.count, (self.unit, self.value)), shape=(self.n_units, self.n_values))


def _tabulate(units: IntArray, enc: _Encoded, level: str) -> _Table:
    """Keep the pairable units and their values; count each (unit, value)."""
    empty = np.zeros(0, dtype=np.intp)
    if units.size == 0:
        return _Table(level, empty, empty, np.zeros(0), 0, 0, None, None)
    per_unit = np.bincount(units)
    keep = per_unit[units] >= 2
    pairable = per_unit >= 2
    unit_new = np.cumsum(pairable) - 1
    units, codes = unit_new[units[keep]], enc.codes[keep]
    present = np.bincount(codes, minlength=enc.n_codes) > 0
    codes = (np.cumsum(present) - 1)[codes]
    n_units, n_values = int(pairable.sum()), int(present.sum())
    if n_units == 0:
        return _Table(level, empty, empty, np.zeros(0), 0, 0, None, None)
    keys, counts = np.unique(units * n_values + codes, return_counts=True)
    return _Table(
        level=level,
        unit=(keys // n_values).astype(np.intp),
        value=(keys % n_values).astype(np.intp),
        count=counts.astype(np.float64),
        n_units=n_units,
        n_values=n_values,
        x=enc.x[present] if enc.x is not None else None,
        sets=enc.sets[present] if enc.sets is not None else None,
    )


def _table_from_dense(data: Any, level: str, value_domain: Sequence[Any] | None) -> _Table:
    arr = _dense(data)
    n_units = arr.shape[1]
    flat = arr.reshape(-1)
    units = np.tile(np.arange(n_units, dtype=np.intp), arr.shape[0])
    present = _present(flat)
    return _tabulate(units[present], _encode(flat[present], level, value_domain), level)


def _triple_columns(triples: Iterable[Sequence[Any]] | AnyArray) -> tuple[AnyArray, AnyArray, AnyArray]:
    if isinstance(triples, np.ndarray):
        if triples.ndim != 2 or triples.shape[1] != 3:
            raise InvalidInputError(f"triples must have shape (n, 3), got {triples.shape}")
        return triples[:, 0], triples[:, 1], triples[:, 2]
    rows = list(triples)
    try:
        lengths = set(map(len, rows))
    except TypeError as exc:
        raise InvalidInputError("every triple must be a (unit_id, coder_id, value) sequence") from exc
    if lengths - {3}:
        raise InvalidInputError("every triple must be (unit_id, coder_id, value)")
    units, coders, values = (
        np.fromiter(map(operator.itemgetter(i), rows), dtype=object, count=len(rows)) for i in range(3)
    )
    return units, coders, values


def _long_codes(
    unit_ids: Iterable[Any] | AnyArray, coder_ids: Iterable[Any] | AnyArray, values: Iterable[Any] | AnyArray
) -> tuple[_Factors, _Factors, AnyArray]:
    """Unit and coder codes plus the values, missing values dropped; refuses a (unit, coder) twice."""
    col_u, col_c, col_v = _column(unit_ids, "unit_ids"), _column(coder_ids, "coder_ids"), _column(values, "values")
    if not col_u.size == col_c.size == col_v.size:
        raise InvalidInputError(f"columns differ in length: {col_u.size}, {col_c.size}, {col_v.size}")
    present = _present(col_v)
    units, coders = _factorize(col_u[present]), _factorize(col_c[present])
    keys = np.sort(units.codes.astype(np.int64) * max(len(coders.uniques), 1) + coders.codes)
    repeated = np.flatnonzero(keys[1:] == keys[:-1])
    if repeated.size:
        key = int(keys[repeated[0]])
        n_coders = max(len(coders.uniques), 1)
        raise InvalidInputError(
            f"coder {coders.uniques[key % n_coders]!r} gave unit {units.uniques[key // n_coders]!r} more than one value"
        )
    return units, coders, col_v[present]


def _table_from_columns(
    unit_ids: Iterable[Any] | AnyArray,
    coder_ids: Iterable[Any] | AnyArray,
    values: Iterable[Any] | AnyArray,
    level: str,
    value_domain: Sequence[Any] | None,
) -> _Table:
    units, _, present_values = _long_codes(unit_ids, coder_ids, values)
    return _tabulate(units.codes, _encode(present_values, level, value_domain), level)


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: disagreements
# ---------------------------------------------------------------------------------------------


def _within_group_pairs(group: IntArray) -> tuple[IntArray, IntArray]:
    """Every pair ``i < j`` of positions with the same (sorted) group, without a loop over groups."""
    size = group.size
    if size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, size])
    position = np.arange(size) - np.repeat(starts, sizes)
    partners = np.repeat(sizes, sizes) - position - 1
    first = np.repeat(np.arange(size, dtype=np.intp), partners)
    offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
    return first, (first + 1 + offset).astype(np.intp)


def _masi_from_counts(inter: FloatArray, size_a: FloatArray, size_b: FloatArray) -> FloatArray:
    union = size_a + size_b - inter
    # two empty sets are equal: Jaccard 1 by convention (the textbook formula is 0/0)
    jaccard = np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)
    monotonicity = np.select(
        [(inter == size_a) & (inter == size_b), inter == np.minimum(size_a, size_b), inter > 0],
        [1.0, 2.0 / 3.0, 1.0 / 3.0],
        0.0,
    )
    return cast(FloatArray, 1.0 - jaccard * monotonicity)


def _pair_distance(t: _Table, ci: IntArray, cj: IntArray) -> FloatArray:
    """δ² between value codes ``ci[k]`` and ``cj[k]`` for the metrics without a closed form."""
    if t.level == "ratio":
        x = cast(FloatArray, t.x)
        xi, xj = x[ci], x[cj]
        total = xi + xj
        ratio = np.divide(xi - xj, total, out=np.zeros(np.broadcast(xi, xj).shape), where=total != 0)
        return cast(FloatArray, ratio**2)
    sets = cast(sparse.csr_matrix, t.sets)
    sizes = np.asarray(sets.sum(axis=1), dtype=np.float64).ravel()
    inter = np.asarray(sets[ci].multiply(sets[cj]).sum(axis=1), dtype=np.float64).ravel()
    return _masi_from_counts(inter, sizes[ci], sizes[cj])


def _distance_block(t: _Table, cols: IntArray) -> FloatArray:
    """δ² of every value (rows) against the values ``cols`` (columns), for ratio and MASI."""
    if t.level == "ratio":
        everything = np.arange(t.n_values, dtype=np.intp)
        return _pair_distance(t, everything[:, None], cols[None, :])
    sets = cast(sparse.csr_matrix, t.sets)
    sizes = np.asarray(sets.sum(axis=1), dtype=np.float64).ravel()
    inter = np.asarray((sets @ sets[cols].T).toarray(), dtype=np.float64)
    return _masi_from_counts(inter, sizes[:, None], sizes[cols][None, :])


def _positions(t: _Table, value_totals: FloatArray) -> FloatArray:
    """Per value, the coordinate whose squared difference is δ² (interval: the value, ordinal: mid-rank)."""
    if t.level == "ordinal":
        return np.cumsum(value_totals, axis=-1) - value_totals / 2.0
    return np.broadcast_to(cast(FloatArray, t.x), value_totals.shape)


def _unit_disagreement(t: _Table, m: FloatArray, value_totals: FloatArray) -> FloatArray:
    """Per pairable unit, ``Σ_ck n_uc n_uk δ²_ck / (m_u - 1)`` (its share of the observed disagreement)."""
    if t.level == "nominal":
        same = _wsum(t.unit, t.count**2, t.n_units)
        return (m * m - same) / (m - 1.0)
    if t.level in ("interval", "ordinal"):
        pos = _positions(t, value_totals)
        # centring inside each unit keeps the sum of squares free of cancellation
        mean = _wsum(t.unit, t.count * pos[t.value], t.n_units) / m
        squares = _wsum(t.unit, t.count * (pos[t.value] - mean[t.unit]) ** 2, t.n_units)
        return 2.0 * m * squares / (m - 1.0)
    first, second = _within_group_pairs(t.unit)
    # few distinct value pairs recur across many units: evaluate δ² once per distinct pair
    keys, inverse = np.unique(t.value[first] * t.n_values + t.value[second], return_inverse=True)
    d = _pair_distance(t, (keys // t.n_values).astype(np.intp), (keys % t.n_values).astype(np.intp))[inverse]
    pair_weights = 2.0 * t.count[first] * t.count[second] * d
    return _wsum(t.unit[first], pair_weights, t.n_units) / (m - 1.0)


def _expected_disagreement(t: _Table, value_totals: FloatArray) -> FloatArray:
    """``Σ_ck n_c n_k δ²_ck`` for each row of value totals (B × V)."""
    n = value_totals.sum(axis=1)
    if t.level == "nominal":
        return cast(FloatArray, n * n - (value_totals**2).sum(axis=1))
    if t.level in ("interval", "ordinal"):
        pos = _positions(t, value_totals)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (value_totals * pos).sum(axis=1) / n
        return cast(FloatArray, 2.0 * n * (value_totals * (pos - mean[:, None]) ** 2).sum(axis=1))
    out = np.zeros(value_totals.shape[0])
    width = max(1, _BLOCK // max(t.n_values, 1))
    for start in range(0, t.n_values, width):
        cols = np.arange(start, min(start + width, t.n_values), dtype=np.intp)
        block = _distance_block(t, cols)
        out += ((value_totals @ block) * value_totals[:, cols]).sum(axis=1)
    return out


def _alpha_values(n: FloatArray, observed: FloatArray, expected: FloatArray, distinct: npt.NDArray[Any]) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return cast(FloatArray, np.where((distinct >= 2) & (expected > 0), alpha, np.nan))


def _alpha_of(t: _Table) -> float:
    if t.n_units == 0 or t.n_values < 2:
        return math.nan
    m, totals = t.unit_totals(), t.value_totals()
    observed = _unit_disagreement(t, m, totals).sum()
    expected = _expected_disagreement(t, totals[None, :])
    return float(_alpha_values(totals.sum(keepdims=True), np.array([observed]), expected, np.array([t.n_values]))[0])


def _alpha_replicates(t: _Table, n_boot: int, seed: int) -> FloatArray:
    """α of ``n_boot`` resamples of the pairable units, each a weight vector over units.

    Every per-unit quantity is computed once; a resample is a count vector ``w`` over units and
    α follows from weighted sums: pairable values ``wᵀm``, value totals ``wᵀN`` and, for a fixed
    distance, observed disagreement ``wᵀD``. Ordinal distances depend on the resample's marginals,
    so its observed disagreement comes from the summed per-unit coincidences ``wᵀ(n_uc n_uk / (m_u-1))``
    (few values) or from per-unit sums against the resample's mid-ranks (many values).
    """
    n_units, n_values = t.n_units, t.n_values
    m = t.unit_totals()
    unit_values = t.unit_value_matrix()
    ordinal = t.level == "ordinal"
    narrow = n_values <= 64
    coincident = ordinal and n_values <= 16
    blocks = [m[:, None]]
    if not ordinal:
        blocks.append(_unit_disagreement(t, m, t.value_totals())[:, None])
    if narrow:
        dense = unit_values.toarray()
        blocks.append(dense)
        if coincident:
            # Do = 2 Σ_u w_u [m_u/(m_u-1) Σ_c n_uc p_c² - (Σ_c n_uc p_c)²/(m_u-1)], both linear in w
            blocks.append(dense * (m / (m - 1.0))[:, None])
            blocks.append((dense[:, :, None] * dense[:, None, :] / (m - 1.0)[:, None, None]).reshape(n_units, -1))
    # one dense product [m, D, N, ...]ᵀ @ wᵀ per chunk beats several sparse ones while N stays narrow;
    # stored feature-major so the long unit axis is contiguous for BLAS
    features = np.ascontiguousarray(np.hstack(blocks).T)
    rng = np.random.default_rng(seed)
    out: list[FloatArray] = []
    chunk = max(1, _BLOCK // max(n_units, features.shape[0], n_values))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        w = np.empty((size, n_units))
        for row in range(size):
            w[row] = np.bincount(rng.integers(0, n_units, size=n_units), minlength=n_units)
        sums = (features @ w.T).T
        n = sums[:, 0]
        first = 1 if ordinal else 2
        totals = sums[:, first : first + n_values] if narrow else np.asarray(unit_values.T @ w.T).T
        if not ordinal:
            observed = sums[:, 1]
        else:
            pos = _positions(t, totals)
            pos = pos - ((totals * pos).sum(axis=1) / n)[:, None]
            if coincident:
                weighted = sums[:, first + n_values : first + 2 * n_values]
                pairs = sums[:, first + 2 * n_values :].reshape(size, n_values, n_values)
                observed = 2.0 * ((weighted * pos**2).sum(axis=1) - np.einsum("bc,bck,bk->b", pos, pairs, pos))
            else:
                linear = np.asarray(unit_values @ pos.T)
                square = np.asarray(unit_values @ (pos**2).T)
                within = (m[:, None] * square - linear**2) / (m - 1.0)[:, None]
                observed = 2.0 * np.einsum("bu,ub->b", w, within)
        expected = _expected_disagreement(t, totals)
        out.append(_alpha_values(n, observed, expected, (totals > 0).sum(axis=1)))
    return np.concatenate(out) if out else np.zeros(0)


def _percentile_interval(replicates: FloatArray, confidence: float) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def _alpha_ci(t: _Table, confidence: float, n_boot: int, seed: int) -> ConfidenceInterval:
    estimate = _alpha_of(t)
    if math.isnan(estimate):
        return ConfidenceInterval(estimate, math.nan, math.nan)
    low, high = _percentile_interval(_alpha_replicates(t, n_boot, seed), confidence)
    return ConfidenceInterval(estimate, low, high)


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: public functions
# ---------------------------------------------------------------------------------------------


def krippendorff_alpha(data: Any, level: str = "nominal", *, value_domain: Sequence[Any] | None = None) -> float:
    """Krippendorff's α of a coders × units matrix; equals ``krippendorff.alpha`` (reliability data).

    ``data`` is 2-D: row = coder, column = unit (an array or a list of equally long lists), with
    ``None``/``NaN`` for "not coded". ``level`` is ``"nominal"``, ``"ordinal"``, ``"interval"``,
    ``"ratio"`` or ``"masi"`` (cells are sets, see :func:`krippendorff_alpha_sets`). Ordinal order is
    numeric, or ``value_domain`` (required for ordinal strings); ``value_domain`` also restricts the
    allowed values at every level but MASI (a value outside it raises). Interval and ratio need numbers.

    Units with fewer than two values are not pairable and are ignored. Returns ``nan`` when α is
    undefined: empty data, no pairable unit, or a single distinct value among the pairable values
    (no expected disagreement) — the krippendorff package raises for the first cases and returns
    nan for the last. Ratio α over values that cancel out (``-1`` and ``1``) is likewise nan.

    >>> krippendorff_alpha([[1, 2, 3, 3], [1, 2, 3, 4], [None, 2, 3, 3]])
    0.7560975609756098
    """
    return _alpha_of(_table_from_dense(data, level, value_domain))


def krippendorff_alpha_sets(data: Any) -> float:
    """Krippendorff's α of set-valued (multi-label) coders × units data under the MASI distance.

    Each cell is a ``set``/``frozenset`` (lists and tuples are read as sets) or ``None`` when the
    coder did not code the unit; the empty set is a value ("no label applies"). MASI distance is
    ``1 - J·M`` (Passonneau 2006), see :func:`masi_distance`. Same degenerate cases as
    :func:`krippendorff_alpha`. Cost is O(V²) in the number V of distinct sets.
    """
    return krippendorff_alpha(data, "masi")


def krippendorff_alpha_from_columns(
    unit_ids: Iterable[Any] | AnyArray,
    coder_ids: Iterable[Any] | AnyArray,
    values: Iterable[Any] | AnyArray,
    level: str = "nominal",
    *,
    value_domain: Sequence[Any] | None = None,
) -> float:
    """α of long data given as three equally long columns; the vectorized core of the triples path.

    ``unit_ids[k]`` and ``coder_ids[k]`` are hashable ids, ``values[k]`` the value (missing:
    ``None``/``NaN``, dropped). Each (unit, coder) may have at most one non-missing value. Equals
    :func:`krippendorff_alpha` on the same data laid out densely.
    """
    return _alpha_of(_table_from_columns(unit_ids, coder_ids, values, level, value_domain))


def krippendorff_alpha_from_triples(
    triples: Iterable[Sequence[Any]] | AnyArray, level: str = "nominal", *, value_domain: Sequence[Any] | None = None
) -> float:
    """α of ``(unit_id, coder_id, value)`` triples without building a coders × units matrix.

    ``triples`` is an iterable of 3-sequences or an ``(n, 3)`` array. Missing values are dropped;
    a (unit, coder) with two non-missing values raises :class:`InvalidInputError` (keep the latest
    answer before calling). Levels and degenerate cases as :func:`krippendorff_alpha`, including
    ``level="masi"`` for set values. Vectorized (``np.unique``/``bincount``): 1M triples take about
    a second, most of it reading the Python tuples (:func:`krippendorff_alpha_from_columns` with
    numpy columns skips that).

    >>> triples = [("u1", "ann", "x"), ("u1", "bob", "x"), ("u2", "ann", "y"), ("u2", "bob", "y")]
    >>> krippendorff_alpha_from_triples(triples)
    1.0
    """
    units, coders, values = _triple_columns(triples)
    return krippendorff_alpha_from_columns(units, coders, values, level, value_domain=value_domain)


def krippendorff_alpha_ci(
    data: Any,
    level: str = "nominal",
    *,
    value_domain: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> ConfidenceInterval:
    """α of a coders × units matrix with a percentile bootstrap interval over units.

    ``level`` is the level of measurement (as :func:`krippendorff_alpha`); ``confidence`` the
    interval's coverage. The resampled units are the U pairable ones (≥ 2 values), in column order:
    replicate ``r`` draws ``rng.integers(0, U, size=U)`` from ``numpy.random.default_rng(seed)`` in
    replicate order, so the result is deterministic and, when every unit is pairable, equals
    :func:`bootstrap_ci` of :func:`krippendorff_alpha` over columns (``axis=1``). Replicates with
    undefined α (a single value drawn) are left out. Returns ``(estimate, low, high)``, all ``nan``
    when α itself is undefined. Vectorized: 1,000 replicates over 10,000 units take a fraction of a
    second; the cost grows as ``n_boot × units``.
    """
    _check_confidence(confidence, n_boot)
    return _alpha_ci(_table_from_dense(data, level, value_domain), confidence, n_boot, seed)


def krippendorff_alpha_ci_from_triples(
    triples: Iterable[Sequence[Any]] | AnyArray,
    level: str = "nominal",
    *,
    value_domain: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> ConfidenceInterval:
    """:func:`krippendorff_alpha_ci` for ``(unit_id, coder_id, value)`` triples; returns ``(estimate, low, high)``.

    Pairable units are resampled in the order of their sorted ids (first-seen when ids are not
    sortable).
    """
    _check_confidence(confidence, n_boot)
    units, coders, values = _triple_columns(triples)
    return _alpha_ci(_table_from_columns(units, coders, values, level, value_domain), confidence, n_boot, seed)


def preference_alpha(data: Any, level: str = "nominal") -> float:
    """α of pairwise-preference answers (``"a"``, ``"b"``, ``"tie"``) in a coders × units matrix.

    ``level="nominal"`` treats the three answers as unrelated; ``level="ordinal"`` orders them
    ``a < tie < b`` (:data:`PREFERENCE_ORDER`), so a tie against a preference is a smaller
    disagreement than "a" against "b". Any other answer raises :class:`InvalidInputError`. For
    triples use ``krippendorff_alpha_from_triples(..., value_domain=PREFERENCE_ORDER)``.
    """
    _check_choice(level, ("nominal", "ordinal"), "level")
    return krippendorff_alpha(data, level, value_domain=PREFERENCE_ORDER)


def masi_distance(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """MASI distance between two label sets: ``1 - J·M`` (Passonneau 2006).

    ``J`` is the Jaccard index and ``M`` is 1 if the sets are equal, 2/3 if one contains the other,
    1/3 if they only intersect, 0 if disjoint. Two empty sets are equal (distance 0).

    >>> masi_distance({1, 2}, {1, 2, 3, 4})
    0.6666666666666667
    """
    set_a, set_b = frozenset(a), frozenset(b)
    inter = np.array([float(len(set_a & set_b))])
    return float(_masi_from_counts(inter, np.array([float(len(set_a))]), np.array([float(len(set_b))]))[0])


def _per_label(units: IntArray, enc: _Encoded, labels: Sequence[Any] | None) -> dict[Any, float]:
    """Binary nominal α of "label in the set" for each label, all labels in one sparse pass."""
    wanted = _sorted_if_possible(enc.labels) if labels is None else list(labels)
    out: dict[Any, float] = dict.fromkeys(wanted, math.nan)
    if units.size == 0:
        return out
    per_unit = np.bincount(units)
    keep = per_unit[units] >= 2
    units_kept = (np.cumsum(per_unit >= 2) - 1)[units[keep]]
    n_units = int((per_unit >= 2).sum())
    if n_units == 0:
        return out
    sets = cast(sparse.csr_matrix, enc.sets)
    unit_values = sparse.csr_matrix(
        (np.ones(units_kept.size), (units_kept, enc.codes[keep])), shape=(n_units, enc.n_codes)
    )
    with_label = sparse.coo_matrix(unit_values @ sets)
    m = np.bincount(units_kept, minlength=n_units).astype(np.float64)
    k, rows, cols = with_label.data, with_label.row, with_label.col
    n_labels = sets.shape[1]
    observed = _wsum(cols, 2.0 * k * (m[rows] - k) / (m[rows] - 1.0), n_labels)
    positives = _wsum(cols, k, n_labels)
    n = m.sum()
    expected = 2.0 * positives * (n - positives)
    alpha = _alpha_values(np.full(n_labels, n), observed, expected, np.where(expected > 0, 2, 1))
    index = {label: i for i, label in enumerate(enc.labels)}
    for label in wanted:
        if label in index:
            out[label] = float(alpha[index[label]])
    return out


def per_label_alpha(data: Any, labels: Sequence[Hashable] | None = None) -> dict[Any, float]:
    """Per label, nominal α of the binary question "does the coder's set contain this label?".

    ``data`` is a coders × units matrix of sets (or lists/tuples) with ``None`` for "not coded".
    ``labels`` chooses and orders the labels reported (default: every label seen, sorted when
    sortable); a label nobody used, or used by everyone on every pairable unit, gets ``nan``.
    Equals :func:`krippendorff_alpha` (nominal) on the 0/1 matrix of each label.
    """
    arr = _dense(data)
    flat = arr.reshape(-1)
    units = np.tile(np.arange(arr.shape[1], dtype=np.intp), arr.shape[0])
    present = _present(flat)
    return _per_label(units[present], _encode_sets(flat[present]), labels)


def per_label_alpha_from_triples(
    triples: Iterable[Sequence[Any]] | AnyArray, labels: Sequence[Hashable] | None = None
) -> dict[Any, float]:
    """:func:`per_label_alpha` for ``(unit_id, coder_id, set_of_labels)`` triples."""
    unit_ids, coder_ids, values = _triple_columns(triples)
    units, _, present_values = _long_codes(unit_ids, coder_ids, values)
    return _per_label(units.codes, _encode_sets(present_values), labels)


# ---------------------------------------------------------------------------------------------
# Pairwise tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two coders on the units both coded (``coder_a`` sorts before ``coder_b``)."""

    coder_a: Any
    coder_b: Any
    n_shared: int
    observed_agreement: float
    kappa: float


def pairwise_agreement(triples: Iterable[Sequence[Any]] | AnyArray) -> list[PairAgreement]:
    """For each pair of coders with ≥ 1 shared unit: shared units, share agreeing, Cohen's κ.

    ``triples`` as :func:`krippendorff_alpha_from_triples` (missing values dropped, one value per
    (unit, coder)). Values are compared with equality (nominal); κ is unweighted Cohen's κ over the
    shared units — ``nan`` when both coders used one and the same category throughout. Pairs come
    sorted by coder (sorted ids, first-seen when not sortable). Vectorized over coder pairs within
    units: cost grows with Σ_u m_u², not with the number of coder pairs.
    """
    unit_ids, coder_ids, values = _triple_columns(triples)
    units, coders, present_values = _long_codes(unit_ids, coder_ids, values)
    factors = _factorize(present_values)
    n_values = max(len(factors.uniques), 1)
    order = np.lexsort((coders.codes, units.codes))
    first, second = _within_group_pairs(units.codes[order])
    first, second = order[first], order[second]
    coder_i, coder_j = coders.codes[first], coders.codes[second]
    value_i, value_j = factors.codes[first], factors.codes[second]
    n_coders = max(len(coders.uniques), 1)
    pair_keys, pair = np.unique(coder_i.astype(np.int64) * n_coders + coder_j, return_inverse=True)
    n_pairs = pair_keys.size
    shared = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    agreeing = _wsum(pair, (value_i == value_j).astype(np.float64), n_pairs)
    # chance agreement per pair from both coders' marginals over their shared units, kept sparse
    keys_i, counts_i = np.unique(pair.astype(np.int64) * n_values + value_i, return_counts=True)
    keys_j, counts_j = np.unique(pair.astype(np.int64) * n_values + value_j, return_counts=True)
    common, at_i, at_j = np.intersect1d(keys_i, keys_j, assume_unique=True, return_indices=True)
    chance = _wsum((common // n_values).astype(np.intp), counts_i[at_i].astype(np.float64) * counts_j[at_j], n_pairs)
    p_observed = agreeing / np.maximum(shared, 1.0)
    p_expected = chance / np.maximum(shared, 1.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(p_expected < 1.0, (p_observed - p_expected) / (1.0 - p_expected), np.nan)
    return [
        PairAgreement(
            coder_a=coders.uniques[int(key // n_coders)],
            coder_b=coders.uniques[int(key % n_coders)],
            n_shared=int(shared[i]),
            observed_agreement=float(p_observed[i]),
            kappa=float(kappa[i]),
        )
        for i, key in enumerate(pair_keys)
    ]


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanScores:
    """Matched spans (``tp``), spans only the second side has (``fp``), only the first has (``fn``).

    ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``, ``f1 = 2tp / (2tp + fp + fn)``;
    each is ``nan`` when its denominator is 0 (``f1`` only when neither side has a span).
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> SpanScores:
        """Scores from the three counts."""
        return cls(
            tp=tp,
            fp=fp,
            fn=fn,
            precision=tp / (tp + fp) if tp + fp else math.nan,
            recall=tp / (tp + fn) if tp + fn else math.nan,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan,
        )


@dataclass(frozen=True)
class SpanAgreement:
    """Span agreement of two annotators, micro-averaged over items: overall and per label."""

    overall: SpanScores
    per_label: dict[Any, SpanScores]
    n_items: int

    @property
    def precision(self) -> float:
        """Overall precision (the second annotator's spans that the first also has)."""
        return self.overall.precision

    @property
    def recall(self) -> float:
        """Overall recall (the first annotator's spans that the second also has)."""
        return self.overall.recall

    @property
    def f1(self) -> float:
        """Overall F1 (symmetric in the two annotators)."""
        return self.overall.f1


@dataclass(frozen=True)
class SpanPair:
    """:class:`SpanAgreement` of one annotator pair over the items both annotated."""

    annotator_a: Any
    annotator_b: Any
    agreement: SpanAgreement


@dataclass(frozen=True)
class PairwiseSpanAgreement:
    """Mean pairwise span F1 over annotator pairs sharing items: overall, per label, and each pair."""

    f1: float
    per_label: dict[Any, float]
    pairs: list[SpanPair]


def _span(raw: Any) -> tuple[int, int, Hashable]:
    try:
        start_raw, end_raw, label = raw
        start, end = operator.index(start_raw), operator.index(end_raw)
        hash(label)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a span must be (start, end, label) with integer offsets, got {raw!r}") from exc
    if end <= start:
        raise InvalidInputError(f"a span must have end > start, got {raw!r}")
    return start, end, label


def _matched(spans_a: list[tuple[int, int]], spans_b: list[tuple[int, int]], match: str) -> int:
    """Size of a largest one-to-one matching between two annotators' spans of one label in one item."""
    if not spans_a or not spans_b:
        return 0
    if match == "exact":
        return sum((Counter(spans_a) & Counter(spans_b)).values())
    a, b = np.array(spans_a), np.array(spans_b)
    overlaps = (a[:, None, 0] < b[None, :, 1]) & (b[None, :, 0] < a[:, None, 1])
    if not overlaps.any():
        return 0
    matching = maximum_bipartite_matching(sparse.csr_matrix(overlaps), perm_type="column")
    return int((matching >= 0).sum())


def _item_counts(item_a: Iterable[Any], item_b: Iterable[Any], match: str, totals: dict[Any, list[int]]) -> None:
    by_label: dict[Any, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for side, spans in enumerate((item_a, item_b)):
        for raw in spans:
            start, end, label = _span(raw)
            by_label.setdefault(label, ([], []))[side].append((start, end))
    for label, (spans_a, spans_b) in by_label.items():
        tp = _matched(spans_a, spans_b, match)
        entry = totals.setdefault(label, [0, 0, 0])
        entry[0] += tp
        entry[1] += len(spans_b) - tp
        entry[2] += len(spans_a) - tp


def _span_agreement(totals: dict[Any, list[int]], n_items: int) -> SpanAgreement:
    per_label = {label: SpanScores.of(*totals[label]) for label in _sorted_if_possible(totals)}
    tp, fp, fn = (sum(entry[i] for entry in totals.values()) for i in range(3))
    return SpanAgreement(SpanScores.of(tp, fp, fn), per_label, n_items)


def span_f1(
    spans_a: Sequence[Iterable[Any]], spans_b: Sequence[Iterable[Any]], match: SpanMatch = "exact"
) -> SpanAgreement:
    """Precision, recall and F1 of annotator B's spans against annotator A's, micro over items and labels.

    ``spans_a[i]`` and ``spans_b[i]`` list item ``i``'s spans as ``(start, end, label)``: half-open
    integer offsets ``[start, end)`` with ``end > start`` and a hashable label. ``match="exact"``
    pairs spans with the same offsets and label; ``match="overlap"`` pairs spans of the same label
    that share at least one offset. Spans pair one-to-one (a largest matching per item and label),
    so ``tp`` counts pairs and F1 is symmetric in A and B. ``per_label`` has the same scores per
    label (sorted when sortable); ``overall`` sums the counts over labels.

    >>> span_f1([[(0, 5, "PER"), (10, 12, "LOC")]], [[(0, 5, "PER"), (9, 12, "LOC")]]).f1
    0.5
    >>> span_f1([[(0, 5, "PER"), (10, 12, "LOC")]], [[(0, 5, "PER"), (9, 12, "LOC")]], match="overlap").f1
    1.0
    """
    _check_choice(match, ("exact", "overlap"), "match")
    if len(spans_a) != len(spans_b):
        raise InvalidInputError(f"spans_a and spans_b must cover the same items: {len(spans_a)} vs {len(spans_b)}")
    totals: dict[Any, list[int]] = {}
    for item_a, item_b in zip(spans_a, spans_b, strict=True):
        _item_counts(item_a, item_b, match, totals)
    return _span_agreement(totals, len(spans_a))


def pairwise_span_agreement(
    annotations: Mapping[Any, Mapping[Any, Iterable[Any]]], match: SpanMatch = "exact"
) -> PairwiseSpanAgreement:
    """Span agreement among many annotators: mean pairwise F1 over annotator pairs that share items.

    ``annotations[annotator][item]`` lists that annotator's spans on that item as in
    :func:`span_f1`; an item present with an empty list was annotated and has no span. For each
    pair of annotators (in mapping order) with at least one item in common, :func:`span_f1` runs
    over their shared items. ``f1`` is the mean of the pairs' overall F1 and ``per_label[label]``
    the mean of the pairs' F1 on that label, each over the pairs where it is defined (a pair with
    no span of that label on its shared items is skipped); ``nan`` when no pair qualifies.
    """
    _check_choice(match, ("exact", "overlap"), "match")
    annotators = list(annotations)
    pairs: list[SpanPair] = []
    for i, first in enumerate(annotators):
        items_first = annotations[first]
        for second in annotators[i + 1 :]:
            items_second = annotations[second]
            shared = [item for item in items_first if item in items_second]
            if not shared:
                continue
            totals: dict[Any, list[int]] = {}
            for item in shared:
                _item_counts(items_first[item], items_second[item], match, totals)
            pairs.append(SpanPair(first, second, _span_agreement(totals, len(shared))))
    overall = [p.agreement.f1 for p in pairs if not math.isnan(p.agreement.f1)]
    by_label: dict[Any, list[float]] = {}
    for p in pairs:
        for label, scores in p.agreement.per_label.items():
            if not math.isnan(scores.f1):
                by_label.setdefault(label, []).append(scores.f1)
    return PairwiseSpanAgreement(
        f1=float(np.mean(overall)) if overall else math.nan,
        per_label={label: float(np.mean(by_label[label])) for label in _sorted_if_possible(by_label)},
        pairs=pairs,
    )


# ---------------------------------------------------------------------------------------------
# Generic bootstrap
# ---------------------------------------------------------------------------------------------


def bootstrap_ci(
    stat_fn: Callable[[Any], float],
    data: Any,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    *,
    axis: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of any statistic over items: ``(stat_fn(data), low, high)``.

    ``data`` is a numpy array whose ``axis`` indexes the items (e.g. ``axis=1`` for a coders × units
    matrix), or any sequence of items (``axis`` must then be 0; resamples are lists). ``level`` is
    the interval's coverage. Replicate ``r`` evaluates ``stat_fn`` on the items
    ``rng.integers(0, n, size=n)`` with ``rng = numpy.random.default_rng(seed)``: deterministic for a
    seed. Non-finite replicates are left out; with none left the bounds are ``nan``. This calls
    ``stat_fn`` ``n_boot`` times; :func:`krippendorff_alpha_ci` and :func:`cohen_kappa_ci` are the
    vectorized equivalents for α and κ.
    """
    _check_confidence(level, n_boot)
    if isinstance(data, np.ndarray):
        if not -data.ndim <= axis < data.ndim:
            raise InvalidInputError(f"axis {axis} is out of range for data of shape {data.shape}")
        n = data.shape[axis]

        def resample(idx: IntArray) -> Any:
            return np.take(data, idx, axis=axis)

    else:
        if axis != 0:
            raise InvalidInputError("axis must be 0 unless data is a numpy array")
        items = list(data)
        n = len(items)

        def resample(idx: IntArray) -> Any:
            return [items[i] for i in idx]

    estimate = float(stat_fn(data))
    if n == 0:
        return ConfidenceInterval(estimate, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    replicates = np.array([float(stat_fn(resample(rng.integers(0, n, size=n)))) for _ in range(n_boot)])
    low, high = _percentile_interval(replicates, level)
    return ConfidenceInterval(estimate, low, high)
