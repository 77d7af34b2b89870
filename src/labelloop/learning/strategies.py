"""Active-learning selection: which unlabeled items to send to annotators next, within a budget.

Pure and deterministic: numpy, scipy sparse and nothing of labelloop but its errors; no I/O, no
database. The product reads the predictions from the store, calls :func:`select` and records the
returned :class:`Selection` (strategy, parameters, model version and per-item scores), so a release
can say why each item was labeled.

Inputs (every public function validates them and raises :class:`~labelloop.errors.InvalidInputError`):

* ``probs``: an ``(N, K)`` float array, one model's predicted class probabilities for the ``N`` pool
  items; rows sum to 1 within ``1e-3``, no NaN, infinity or negative value, ``K >= 2``.
* ``committee``: an ``(M, N, K)`` array, the same for ``M >= 2`` model versions (a committee).
* ``features``: an ``(N, D)`` dense array or scipy sparse matrix (embeddings, TF-IDF vectors), finite.
* per-row vectors of length ``N``: ``cluster_ids`` (near-duplicate cluster of each row; ``None`` or a
  negative id means a cluster of its own), ``slices`` (any hashable label, e.g. source or predicted
  class), ``costs`` (positive, e.g. text length), ``ages`` (non-negative, in the unit of
  ``freshness_half_life``).

Strategies (:data:`STRATEGIES`), all answering "the ``budget`` most useful rows":

* ``"random"``: a seeded uniform sample (weighted by cost/freshness when given, see below).
* ``"least_confidence"``, ``"margin"``, ``"entropy"``: the top rows by :func:`uncertainty_scores`.
* ``"vote_entropy"``: committee disagreement, the top rows by :func:`vote_entropy`; its ties (it takes
  few distinct values) are broken by :func:`mean_kl_divergence`, then by index.
* ``"diversity"``: :func:`k_center_greedy` over ``features``: each pick is the row farthest from every
  row picked (or ``already_selected``) before it.
* ``"hybrid"``: uncertainty shortlist, then diversity: the ``ceil(shortlist_factor * budget)`` most
  uncertain rows (by ``uncertainty``, default margin) are shortlisted, and k-center greedy picks the
  ``budget`` most spread-out of them, starting from the most uncertain (or from ``already_selected``).

Rules shared by every strategy:

* **Ranking.** Ranked strategies sort by score, highest first, ties by the lower index; the result is in
  that order. ``diversity`` and ``hybrid`` return rows in pick order; ties in distance go to the lower
  index (of the shortlist, for ``hybrid``, which is in uncertainty order).
* **Near duplicates.** With ``cluster_ids``, at most one row per cluster is chosen. For ranked strategies
  the best-ranked member of each cluster stands for it and the others are never chosen; the budget is
  filled from the next rows. For ``diversity`` the first member picked excludes the rest of its
  cluster; for ``hybrid`` the most uncertain member stands for its cluster in the shortlist.
* **Budget.** ``budget`` larger than the eligible pool is not an error: every eligible row is chosen
  (one per cluster). ``budget=0`` chooses nothing.
* **Weights** (cost-aware and freshness-weighted selection). Each row gets the weight
  ``w = 0.5 ** (age / freshness_half_life) / cost ** cost_power`` (a missing part counts as 1; at least
  ``1e-300``). Ranked strategies rank by ``score * w``; with ``cost_power=1`` that is information per unit
  of cost, ``0.5`` a softer preference for cheap items, ``0`` ignores costs. ``diversity`` picks the
  largest ``distance * w``. ``random`` samples without replacement with probability proportional to ``w``
  (Efraimidis-Spirakis keys ``u ** (1 / w)``). ``hybrid`` uses ``w`` for its shortlist (``uncertainty *
  w``); the diversity step within the shortlist uses plain distances.
* **Slice quotas.** With ``slices`` and ``slice_quota``, every slice present in the eligible pool is
  guaranteed ``q_s`` chosen rows: ``q_s = min(slice_quota, n_s)`` for an integer quota, where ``n_s`` is
  the number of eligible rows (one per cluster) of the slice, or ``q_s = min(max(1, floor(budget * n_s /
  n)), n_s)`` for ``slice_quota="proportional"``. When the quotas add up to more than the budget they are
  cut back round-robin: one row per slice per round, rarest slices first in the last round, so every
  slice keeps about ``budget / number_of_slices``. The quota rows are the best a strategy would choose
  within the slice (the top-ranked, or the farthest: the greedy is restricted to unfilled slices until
  the quotas are met); the rest of the budget is filled without regard to slices. ``hybrid`` makes sure
  the shortlist holds at least ``ceil(shortlist_factor * q_s)`` rows of each slice (or all of them), so a
  rare slice that is never among the most uncertain rows overall still gets its quota.
* **Determinism.** The same inputs and ``seed`` give the same selection.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelloop.domain.probabilities import ROW_SUM_TOLERANCE, check_choice, check_probabilities
from labelloop.errors import InvalidInputError

__all__ = [
    "DISTANCES",
    "ROW_SUM_TOLERANCE",
    "STRATEGIES",
    "UNCERTAINTY_METHODS",
    "Distance",
    "Selection",
    "Strategy",
    "UncertaintyMethod",
    "k_center_greedy",
    "mean_kl_divergence",
    "select",
    "uncertainty_scores",
    "vote_entropy",
]

UncertaintyMethod = Literal["least_confidence", "margin", "entropy"]
Strategy = Literal["random", "least_confidence", "margin", "entropy", "vote_entropy", "diversity", "hybrid"]
Distance = Literal["cosine", "euclidean"]
HybridUncertainty = Literal["least_confidence", "margin", "entropy", "vote_entropy"]

#: The uncertainty measures of :func:`uncertainty_scores`.
UNCERTAINTY_METHODS: Final[tuple[UncertaintyMethod, ...]] = get_args(UncertaintyMethod)
#: Every strategy of :func:`select`.
STRATEGIES: Final[tuple[Strategy, ...]] = get_args(Strategy)
#: The distances of :func:`k_center_greedy`.
DISTANCES: Final[tuple[Distance, ...]] = get_args(Distance)
#: How far a row of probabilities may sum from 1.

_MIN_WEIGHT: Final = 1e-300
_CHUNK: Final = 2048  # rows per block when measuring distances to many starting centers
_LOOKAHEAD: Final = 128  # rows the greedy is played ahead on (see _greedy)
_WHOLE_SHARE: Final = 0.5  # above this share of rows to measure, read the features in order instead of gathering

FloatArray = npt.NDArray[np.floating[Any]]
F64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------


def _check_committee(committee: npt.ArrayLike) -> FloatArray:
    try:
        array = np.asarray(committee)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"committee must be an (M, N, K) array of numbers: {exc}") from None
    if array.ndim != 3:
        raise InvalidInputError(
            f"committee must be 3-D (M models x N items x K classes), got shape {array.shape}",
            shape=list(array.shape),
        )
    if array.shape[0] < 2:
        raise InvalidInputError(f"committee needs at least 2 model versions, got {array.shape[0]}")
    m, n, k = array.shape
    check_probabilities(array.reshape(m * n, k), "committee")
    checked = array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
    return checked


def _check_int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_number(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise InvalidInputError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return number


def _pool_size(name: str, length: int, n: int | None) -> int:
    if n is not None and length != n:
        raise InvalidInputError(f"{name} has {length} rows but the pool has {n}", rows=length, pool=n)
    return length


def _vector(name: str, values: npt.ArrayLike, n: int, *, positive: bool) -> F64Array:
    """A finite float vector of length ``n``; all ``> 0`` (``positive``) or ``>= 0``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a 1-D sequence of numbers: {exc}") from None
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {array.shape}")
    _pool_size(name, array.shape[0], n)
    bad = ~np.isfinite(array) | ((array <= 0) if positive else (array < 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{name} must be finite and {'> 0' if positive else '>= 0'}; row {first} is {array[first]!r}", row=first
        )
    return array


def _cluster_codes(cluster_ids: Sequence[int | None] | npt.ArrayLike, n: int) -> IntArray:
    """Cluster ids as intp, ``-1`` for a row alone in its cluster."""
    raw = np.asarray(cluster_ids, dtype=object) if not isinstance(cluster_ids, np.ndarray) else cluster_ids
    if raw.ndim != 1:
        raise InvalidInputError(f"cluster_ids must be 1-D, got shape {raw.shape}")
    _pool_size("cluster_ids", raw.shape[0], n)
    if raw.dtype.kind in "iu":
        codes = raw.astype(np.intp)
    else:
        codes = np.empty(n, dtype=np.intp)
        for i, value in enumerate(raw.tolist()):
            if value is None:
                codes[i] = -1
            elif isinstance(value, int) and not isinstance(value, bool):
                codes[i] = value
            else:
                raise InvalidInputError(f"cluster_ids must be integers or None; row {i} is {value!r}", row=i)
    codes[codes < 0] = -1
    return codes


def _slice_codes(slices: Sequence[Hashable] | npt.ArrayLike, n: int) -> tuple[IntArray, list[Hashable]]:
    """Integer code of each row's slice, and the slice labels in order of first appearance."""
    values = slices.tolist() if isinstance(slices, np.ndarray) else list(slices)  # type: ignore[arg-type]
    _pool_size("slices", len(values), n)
    labels: dict[Hashable, int] = {}
    codes = np.empty(n, dtype=np.intp)
    for i, value in enumerate(values):
        try:
            codes[i] = labels.setdefault(value, len(labels))
        except TypeError:
            raise InvalidInputError(f"slices must be hashable labels; row {i} is {value!r}", row=i) from None
    return codes, list(labels)


def _check_features(features: Any) -> tuple[Any, int]:
    """``(features as a float ndarray or CSR matrix, N)``."""
    if sp.issparse(features):
        matrix = sp.csr_matrix(features)
        if matrix.dtype not in (np.float32, np.float64):
            matrix = matrix.astype(np.float64)
        if not np.isfinite(matrix.data).all():
            raise InvalidInputError("features has NaN or infinite values")
        return matrix, int(matrix.shape[0])
    try:
        array = np.asarray(features)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"features must be an (N, D) array of numbers: {exc}") from None
    if array.ndim != 2:
        raise InvalidInputError(f"features must be 2-D (N items x D dimensions), got shape {array.shape}")
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"features must hold numbers, got dtype {array.dtype}")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"features has NaN or infinite values (first: row {first})", row=first)
    return array, int(array.shape[0])


def _check_indices(name: str, values: npt.ArrayLike | None, n: int) -> IntArray:
    if values is None:
        return np.zeros(0, dtype=np.intp)
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(0, dtype=np.intp)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise InvalidInputError(f"{name} must be a 1-D sequence of row indices")
    out_of_range = (array < 0) | (array >= n)
    if out_of_range.any():
        raise InvalidInputError(f"{name} has row index {int(array[out_of_range][0])} outside 0..{n - 1}")
    return np.unique(array.astype(np.intp))


# ------------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------------


def _uncertainty(probs: FloatArray, method: str) -> F64Array:
    p = probs.astype(np.float64, copy=False)
    if method == "least_confidence":
        scores: F64Array = 1.0 - p.max(axis=1)
    elif method == "margin":
        top2 = -np.partition(-p, 1, axis=1)[:, :2]
        scores = 1.0 - (top2[:, 0] - top2[:, 1])
    else:
        plogp = p * np.log(np.where(p > 0, p, 1.0))
        scores = -plogp.sum(axis=1) / np.log(p.shape[1])
    result: F64Array = np.clip(scores, 0.0, 1.0) + 0.0  # + 0.0: no -0.0
    return result


def uncertainty_scores(probs: npt.ArrayLike, method: UncertaintyMethod = "least_confidence") -> F64Array:
    """How unsure one model is about each item, in ``[0, 1]``: higher means more informative to label.

    ``probs`` is an ``(N, K)`` array of predicted class probabilities (rows sum to 1 within ``1e-3``,
    ``K >= 2``). ``method`` (one of :data:`UNCERTAINTY_METHODS`):

    * ``"least_confidence"``: ``1 - max_k p_k``;
    * ``"margin"``: ``1 - (p_1 - p_2)``, with ``p_1 >= p_2`` the two largest probabilities;
    * ``"entropy"``: ``-sum_k p_k log p_k / log K`` (``0 log 0 = 0``).

    Returns ``N`` float64 scores. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> uncertainty_scores([[0.9, 0.1], [0.5, 0.5]], "margin").round(2).tolist()
    [0.2, 1.0]
    >>> uncertainty_scores([[1.0, 0.0, 0.0], [0.6, 0.3, 0.1]]).round(2).tolist()
    [0.0, 0.4]
    """
    check_choice("method", method, UNCERTAINTY_METHODS)
    return _uncertainty(check_probabilities(probs), method)


def _vote_entropy(committee: FloatArray) -> F64Array:
    m, n, k = committee.shape
    votes = committee.argmax(axis=2)  # (M, N); ties go to the lower class
    counts = np.zeros((n, k), dtype=np.float64)
    rows = np.arange(n)
    for member in votes:
        counts[rows, member] += 1.0
    share = counts / m
    entropy = -(share * np.log(np.where(share > 0, share, 1.0))).sum(axis=1)
    result: F64Array = np.clip(entropy / math.log(min(m, k)), 0.0, 1.0) + 0.0  # + 0.0: no -0.0
    return result


def vote_entropy(committee: npt.ArrayLike) -> F64Array:
    """Committee disagreement: the entropy of the members' votes for each item, in ``[0, 1]``.

    ``committee`` is an ``(M, N, K)`` array: ``M >= 2`` model versions' class probabilities for the same
    ``N`` items (each row summing to 1). Each member votes for its most probable class (ties: the lower
    class); with ``v_k`` the share of votes for class ``k``, the score is ``-sum_k v_k log v_k`` divided by
    ``log min(M, K)``, its largest possible value. So ``0``: all members agree; ``1``: the votes are spread
    as evenly as they can be. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> vote_entropy([[[0.9, 0.1], [0.6, 0.4]], [[0.8, 0.2], [0.3, 0.7]]]).tolist()
    [0.0, 1.0]
    """
    return _vote_entropy(_check_committee(committee))


def _mean_kl(committee: FloatArray) -> F64Array:
    p = committee.astype(np.float64, copy=False)
    consensus = p.mean(axis=0)
    ratio = np.where(p > 0, p / np.where(consensus > 0, consensus, 1.0), 1.0)
    kl = (p * np.log(ratio)).sum(axis=2)  # (M, N)
    result: F64Array = np.maximum(kl.mean(axis=0), 0.0)
    return result


def mean_kl_divergence(committee: npt.ArrayLike) -> F64Array:
    """Committee disagreement as the mean KL divergence of each member from the consensus (nats, ``>= 0``).

    ``committee`` is an ``(M, N, K)`` array as for :func:`vote_entropy`. The consensus of item ``i`` is the
    members' mean distribution ``c``; the score is ``mean_m sum_k p_mk log(p_mk / c_k)``: ``0`` when every
    member predicts the same distribution, larger the more they differ (also when they vote alike but
    with different confidence, which :func:`vote_entropy` cannot see). Raises
    :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> mean_kl_divergence([[[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]]]).round(4).tolist()
    [0.0, 0.6931]
    """
    return _mean_kl(_check_committee(committee))


# ------------------------------------------------------------------------------------------------
# k-center greedy
# ------------------------------------------------------------------------------------------------


class _Space:
    """Rows as points for squared euclidean distances ``|x|^2 + |c|^2 - 2 x.c`` (matrix products only)."""

    def __init__(self, features: Any, metric: str) -> None:
        self.sparse = sp.issparse(features)
        matrix = features
        if metric == "cosine":
            if self.sparse:
                norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
                scale = 1.0 / np.where(norms > 0, norms, 1.0)
                matrix = sp.csr_matrix(sp.diags(scale.astype(matrix.dtype)) @ matrix)
            else:
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                matrix = matrix / np.where(norms > 0, norms, 1.0).astype(matrix.dtype)
        self.matrix = matrix
        self.n = int(matrix.shape[0])
        if self.sparse:
            self.sqnorm: F64Array = np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64).ravel()
        else:
            self.sqnorm = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)
        # float32 rounding in the expanded form; the pruning bound keeps this much slack
        eps = 1e-5 if matrix.dtype == np.float32 else 1e-12
        self.tolerance = eps * 4.0 * max(float(self.sqnorm.max(initial=0.0)), 1.0)

    def d2(self, rows: IntArray | slice, cols: IntArray) -> F64Array:
        """Squared distances, ``(len(rows), len(cols))``."""
        product = self.matrix[rows] @ self.matrix[cols].T
        if sp.issparse(product):
            product = product.toarray()
        d2 = self.sqnorm[rows][:, None] + self.sqnorm[cols][None, :] - 2.0 * np.asarray(product, dtype=np.float64)
        result: F64Array = np.maximum(d2, 0.0)
        return result

    def nearest(self, rows: IntArray, centers: IntArray) -> tuple[F64Array, IntArray]:
        """Squared distance of each of ``rows`` to its nearest center, and that center's position in ``centers``."""
        mind2 = np.empty(rows.size, dtype=np.float64)
        assign = np.empty(rows.size, dtype=np.intp)
        for start in range(0, rows.size, _CHUNK):
            stop = min(start + _CHUNK, rows.size)
            d2 = self.d2(rows[start:stop], centers)
            assign[start:stop] = d2.argmin(axis=1)
            mind2[start:stop] = d2[np.arange(stop - start), assign[start:stop]]
        return mind2, assign


@dataclass
class _Picks:
    rows: list[int] = field(default_factory=list)
    d2: list[float] = field(default_factory=list)
    by_quota: list[bool] = field(default_factory=list)


class _Greedy:
    """State of one k-center greedy run over ``space``'s rows (local indices); see :func:`_greedy`."""

    def __init__(
        self,
        space: _Space,
        *,
        eligible: BoolArray,
        weights: F64Array | None,
        clusters: IntArray | None,
        slice_codes: IntArray | None,
        quotas: IntArray | None,
    ) -> None:
        self.space = space
        self.alive = eligible.copy()  # may still be picked (now or once the quotas are met)
        self.weights = weights
        self.slice_codes = slice_codes
        self.members: dict[int, IntArray] = {}
        self.clusters = clusters
        if clusters is not None:
            order = np.argsort(clusters, kind="stable")
            ids, begins, sizes = np.unique(clusters[order], return_index=True, return_counts=True)
            for c, b, s in zip(ids.tolist(), begins.tolist(), sizes.tolist(), strict=True):
                if c >= 0:
                    self.members[c] = order[b : b + s]
        self.mind2 = np.full(space.n, np.inf)
        self.assign = np.full(space.n, -1, dtype=np.intp)
        self.centers: list[int] = []
        self.remaining = None if quotas is None or slice_codes is None or quotas.sum() == 0 else quotas.copy()
        self.pickable = self.alive.copy()
        if self.remaining is not None and slice_codes is not None:
            self.pickable &= self.remaining[slice_codes] > 0
        self.picks = _Picks()

    def key(self, rows: IntArray | slice, mind2: F64Array) -> F64Array:
        if self.weights is None:
            return mind2
        result: F64Array = np.sqrt(mind2) * self.weights[rows]
        return result

    def add_centers(self, rows: IntArray) -> None:
        """Measure the rows again against new centers ``rows``, skipping those no new center can come closer to."""
        space = self.space
        if self.centers:
            old = np.asarray(self.centers, dtype=np.intp)
            # a center c can only come closer to x (nearest center a) when |x - a| > |c - a| / 2
            bound = space.d2(old, rows).min(axis=1)
            live = np.flatnonzero(self.mind2 > 0)
            live = live[4.0 * self.mind2[live] > bound[self.assign[live]] - space.tolerance]
        else:
            live = np.flatnonzero(self.mind2 > 0)
        whole = live.size > _WHOLE_SHARE * space.n  # contiguous blocks: no copy of the rows' features
        for start in range(0, space.n if whole else live.size, _CHUNK):
            part = live[start : start + _CHUNK]
            if whole:
                block = live[np.searchsorted(live, start) : np.searchsorted(live, start + _CHUNK)]
                d2 = space.d2(slice(start, start + _CHUNK), rows)[block - start]
                part = block
            else:
                d2 = space.d2(part, rows)
            best = d2.argmin(axis=1)
            value = d2[np.arange(part.size), best]
            closer = value < self.mind2[part]
            moved = part[closer]
            self.mind2[moved] = value[closer]
            self.assign[moved] = len(self.centers) + best[closer]
        self.centers.extend(rows.tolist())

    def take(self, j: int, d2: float) -> bool:
        """Record pick ``j``; False when the quota phase just ended (more rows became pickable)."""
        self.picks.rows.append(j)
        self.picks.d2.append(d2)
        self.picks.by_quota.append(self.remaining is not None)
        gone = np.array([j], dtype=np.intp)
        if self.clusters is not None and self.clusters[j] >= 0:
            gone = self.members[int(self.clusters[j])]
        self.alive[gone] = False
        self.pickable[gone] = False
        self.pickable[j] = False
        self.alive[j] = False
        self.mind2[gone] = 0.0
        self.mind2[j] = 0.0
        if self.remaining is None or self.slice_codes is None:
            return True
        s = int(self.slice_codes[j])
        self.remaining[s] -= 1
        if self.remaining[s] <= 0:
            self.pickable &= self.slice_codes != s
        if self.remaining.sum() <= 0:
            self.end_quotas()
            return False
        return True

    def end_quotas(self) -> None:
        self.remaining = None
        self.pickable = self.alive.copy()


def _greedy(
    space: _Space,
    budget: int,
    *,
    eligible: BoolArray,
    start: IntArray,
    first: int | None,
    seed: int,
    weights: F64Array | None = None,
    clusters: IntArray | None = None,
    slice_codes: IntArray | None = None,
    quotas: IntArray | None = None,
) -> _Picks:
    """k-center greedy over ``space``'s rows (local indices), with the cluster rule and slice quotas.

    Keeps each row's squared distance to its nearest center (``mind2``) and which center that is. Two
    savings keep it near ``O(N D budget / look-ahead)``, exact all the same:

    * **Pruning.** A new center ``c`` can only come closer to a row ``x`` whose nearest center is ``a`` when
      ``|x - a| > |c - a| / 2`` (triangle inequality); only those rows are measured again.
    * **Verified look-ahead.** The greedy is played ahead on the ``_LOOKAHEAD`` farthest rows using their
      mutual distances; a pick made there is the true next pick as long as its key stays above the best
      key of every row outside that set (keys only fall as centers are added). The verified picks are then
      measured against all rows in one matrix product, which reads the features once for many picks.
    """
    state = _Greedy(
        space, eligible=eligible, weights=weights, clusters=clusters, slice_codes=slice_codes, quotas=quotas
    )
    state.alive[start] = False
    state.pickable[start] = False
    state.mind2[~state.alive] = 0.0
    if start.size:
        live = np.flatnonzero(state.alive)
        state.mind2[live], state.assign[live] = space.nearest(live, start)
        state.centers = start.tolist()
    rng = np.random.default_rng(seed)
    picks = state.picks

    while len(picks.rows) < budget:
        if not state.centers:
            choices = np.flatnonzero(state.pickable)
            if choices.size == 0:
                if state.remaining is not None:
                    state.end_quotas()
                    continue
                break
            j = first if first is not None and state.pickable[first] else int(choices[rng.integers(choices.size)])
            state.take(j, math.inf)
            state.add_centers(np.array([j], dtype=np.intp))
            continue
        masked = np.where(state.pickable, state.key(slice(None), state.mind2), -1.0)
        j = int(masked.argmax())
        if masked[j] < 0:
            if state.remaining is not None:  # the unfilled slices have nothing left: fill without quotas
                state.end_quotas()
                continue
            break
        # the look-ahead set: the farthest rows, ascending (ties go to the lower index, as in argmax)
        if masked.size > _LOOKAHEAD:
            top = np.argpartition(masked, masked.size - _LOOKAHEAD)[-_LOOKAHEAD:]
            top = np.union1d(top[masked[top] >= 0], [j])
            rest = masked.copy()
            rest[top] = -1.0
            outside = float(rest.max())
        else:
            top = np.flatnonzero(masked >= 0)
            outside = -1.0
        local_d2 = space.d2(top, top)
        local_mind2 = state.mind2[top].copy()
        batch: list[int] = []
        local = int(np.searchsorted(top, j))
        while True:
            more = state.take(j, float(local_mind2[local]))
            batch.append(j)
            if not more or len(picks.rows) >= budget:
                break
            local_mind2 = np.minimum(local_mind2, local_d2[:, local])
            local_mind2[~state.alive[top]] = 0.0
            local_key = np.where(state.pickable[top], state.key(top, local_mind2), -1.0)
            local = int(local_key.argmax())
            if local_key[local] <= outside or local_key[local] < 0:
                break
            j = int(top[local])
        if len(picks.rows) < budget:
            state.add_centers(np.asarray(batch, dtype=np.intp))
    return picks


def _distance(d2: F64Array, metric: str) -> F64Array:
    """Squared euclidean distance (of normalized rows, for cosine) to the reported distance."""
    result: F64Array = d2 / 2.0 if metric == "cosine" else np.sqrt(d2)
    return result


def k_center_greedy(
    features: npt.ArrayLike | Any,
    budget: int,
    *,
    already_selected: npt.ArrayLike | None = None,
    metric: Distance = "cosine",
    seed: int = 0,
) -> tuple[IntArray, F64Array]:
    """Pick ``budget`` spread-out rows: each is the row farthest from all rows picked before it.

    ``features`` is an ``(N, D)`` dense array or scipy sparse matrix (embeddings, TF-IDF vectors).
    ``metric``: ``"cosine"`` (``1 - cos``; all-zero rows count as at distance ``0.5`` from the others) or
    ``"euclidean"``. ``already_selected`` (row indices, e.g. the labeled items) count as picked before the
    first pick and are never returned; without them the first pick is a uniformly random row (``seed``).
    Ties go to the lower index. Budget larger than the pool: every row is returned.

    Returns ``(indices, distances)`` in pick order: each pick's distance to the nearest row picked (or
    already selected) before it; ``inf`` for a random first pick. This is the 2-approximation of the
    k-center problem (Gonzalez 1985) used as "core-set" selection by Sener & Savarese (2018).

    Cost: ``O(N D)`` per pick at worst, and much less late in the run, when each new center is close to few
    rows (those are found with the triangle inequality); memory ``O(N + budget D)`` plus a normalized copy
    of ``features`` for cosine. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> points = [[0.0, 0.0], [0.5, 0.0], [6.0, 0.0], [6.0, 1.0], [0.0, 9.0]]
    >>> picks, dists = k_center_greedy(points, 3, metric="euclidean", already_selected=[0])
    >>> picks.tolist(), dists.round(2).tolist()
    ([4, 3, 2], [9.0, 6.08, 1.0])
    """
    check_choice("metric", metric, DISTANCES)
    budget = _check_int("budget", budget)
    seed = _check_int("seed", seed)
    matrix, n = _check_features(features)
    start = _check_indices("already_selected", already_selected, n)
    if n == 0 or budget == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float64)
    space = _Space(matrix, metric)
    picks = _greedy(space, budget, eligible=np.ones(n, dtype=bool), start=start, first=None, seed=seed)
    return np.asarray(picks.rows, dtype=np.intp), _distance(np.asarray(picks.d2, dtype=np.float64), metric)


# ------------------------------------------------------------------------------------------------
# Selection
# ------------------------------------------------------------------------------------------------


def _json_safe(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, eq=False)
class Selection:
    """The rows a strategy chose, why, and how; what the product records next to the labeling tasks.

    ``indices`` are the chosen rows in pick order (ranked strategies: best first). ``scores`` holds, for
    each of them, the value that decided it: the weighted score for ranked strategies, the random key
    ``u ** (1 / w)`` for ``random``, the (weighted) distance to the nearest earlier pick for ``diversity``
    and ``hybrid`` (``inf`` for a first pick without anything to be far from). ``details`` holds further
    per-row values in the same order (``uncertainty``, ``weight``, ``distance``, ``disagreement_kl`` as they
    apply); ``by_quota`` says which rows were taken to fill a slice quota; ``slices`` their slice labels
    when slices were given. ``params`` is a JSON-safe dict of everything that decided the selection
    (strategy, budget, seed, options, model version, pool size, quotas per slice).
    """

    indices: IntArray
    scores: F64Array
    strategy: str
    params: dict[str, Any]
    details: dict[str, F64Array] = field(default_factory=dict)
    by_quota: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    slices: tuple[Hashable, ...] | None = None

    def __len__(self) -> int:
        """Number of chosen rows."""
        return int(self.indices.shape[0])

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per chosen row, in pick order.

        Keys: ``rank`` (0-based pick order), ``index``, ``score``, ``by_quota``, each entry of ``details``,
        and ``slice`` (as a string) when slices were given. Infinite values become ``None``.

        >>> select("least_confidence", budget=1, probs=[[0.9, 0.1], [0.6, 0.4]]).to_records()
        [{'rank': 0, 'index': 1, 'score': 0.4, 'by_quota': False, 'uncertainty': 0.4}]
        """
        by_quota = self.by_quota if self.by_quota.shape[0] == len(self) else np.zeros(len(self), dtype=bool)
        details = {name: values.tolist() for name, values in self.details.items()}
        records: list[dict[str, Any]] = []
        for rank, (index, score, quota) in enumerate(
            zip(self.indices.tolist(), self.scores.tolist(), by_quota.tolist(), strict=True)
        ):
            record: dict[str, Any] = {"rank": rank, "index": index, "score": _json_safe(score), "by_quota": quota}
            for name, values in details.items():
                record[name] = _json_safe(values[rank])
            if self.slices is not None:
                record["slice"] = str(self.slices[rank])
            records.append(record)
        return records


def _weights(
    n: int,
    costs: npt.ArrayLike | None,
    cost_power: float,
    ages: npt.ArrayLike | None,
    freshness_half_life: float | None,
) -> F64Array | None:
    if (ages is None) != (freshness_half_life is None):
        raise InvalidInputError("freshness weighting needs both ages and freshness_half_life")
    if costs is None and ages is None:
        return None
    weights = np.ones(n, dtype=np.float64)
    if costs is not None:
        weights /= _vector("costs", costs, n, positive=True) ** cost_power
    if ages is not None and freshness_half_life is not None:
        weights *= 0.5 ** (_vector("ages", ages, n, positive=False) / freshness_half_life)
    result: F64Array = np.maximum(weights, _MIN_WEIGHT)
    return result


def _fit_quotas(wanted: IntArray, budget: int, sizes: IntArray) -> IntArray:
    """Cut ``wanted`` (per slice) back to ``budget`` round-robin: one row per slice per round, rarest first."""
    if int(wanted.sum()) <= budget:
        return wanted
    granted = np.zeros_like(wanted)
    left = budget
    order = np.lexsort((np.arange(wanted.size), sizes))  # rarest slice first, then first seen
    while left > 0:
        open_slices = order[granted[order] < wanted[order]]
        if open_slices.size == 0:
            break
        served = open_slices[:left]
        granted[served] += 1
        left -= served.size
    return granted


def _quotas(
    slice_quota: int | str,
    budget: int,
    slice_codes: IntArray,
    n_slices: int,
    available: BoolArray,
    clusters: IntArray | None,
) -> IntArray:
    """Rows guaranteed to each slice (see the module docstring), counting one row per cluster."""
    rows = np.flatnonzero(available)
    codes = slice_codes[rows]
    if clusters is not None:  # one per (slice, cluster); singletons count one each
        groups = np.where(clusters[rows] >= 0, clusters[rows], -2 - rows)
        pairs = np.unique(np.stack([codes, groups]), axis=1)
        sizes = np.bincount(pairs[0], minlength=n_slices)
    else:
        sizes = np.bincount(codes, minlength=n_slices)
    total = int(sizes.sum())
    if slice_quota == "proportional":
        wanted = np.maximum(1, (budget * sizes) // max(total, 1))
    else:
        wanted = np.full(n_slices, int(slice_quota))
    wanted = np.minimum(wanted, sizes).astype(np.intp)
    return _fit_quotas(wanted, budget, sizes)


def _representatives(order: IntArray, clusters: IntArray | None) -> IntArray:
    """``order`` without the rows that a better-ranked member of their cluster stands for."""
    if clusters is None:
        return order
    ranked = clusters[order]
    keep = ranked < 0
    _, first = np.unique(ranked, return_index=True)
    keep[first] = True
    result: IntArray = order[keep]
    return result


def _take_ranked(
    order: IntArray, budget: int, slice_codes: IntArray | None, quotas: IntArray | None
) -> tuple[IntArray, BoolArray]:
    """The first ``budget`` rows of ``order`` after each slice's first ``quotas[s]`` rows; kept in rank order."""
    if slice_codes is None or quotas is None or quotas.sum() == 0:
        chosen = order[:budget]
        return chosen, np.zeros(chosen.size, dtype=bool)
    codes = slice_codes[order]
    position = np.empty(order.size, dtype=np.intp)
    sorter = np.argsort(codes, kind="stable")
    _, begins, sizes = np.unique(codes[sorter], return_index=True, return_counts=True)
    position[sorter] = np.arange(order.size) - np.repeat(begins, sizes)  # rank within the slice
    by_quota = position < quotas[codes]
    fill = np.flatnonzero(~by_quota)[: max(budget - int(by_quota.sum()), 0)]
    taken = np.sort(np.concatenate([np.flatnonzero(by_quota), fill]))
    return order[taken], by_quota[taken]


def _resolve_pool(
    n_items: int | None,
    probs: FloatArray | None,
    committee: FloatArray | None,
    features_n: int | None,
) -> int:
    n = n_items
    if probs is not None:
        n = _pool_size("probs", probs.shape[0], n)
    if committee is not None:
        n = _pool_size("committee", committee.shape[1], n)
    if features_n is not None:
        n = _pool_size("features", features_n, n)
    if n is None:
        raise InvalidInputError("the pool size is unknown: pass n_items, probs, committee or features")
    return n


def select(
    strategy: Strategy,
    *,
    budget: int,
    probs: npt.ArrayLike | None = None,
    committee: npt.ArrayLike | None = None,
    features: npt.ArrayLike | Any = None,
    n_items: int | None = None,
    already_selected: npt.ArrayLike | None = None,
    cluster_ids: Sequence[int | None] | npt.ArrayLike | None = None,
    slices: Sequence[Hashable] | npt.ArrayLike | None = None,
    slice_quota: int | Literal["proportional"] | None = None,
    costs: npt.ArrayLike | None = None,
    cost_power: float = 1.0,
    ages: npt.ArrayLike | None = None,
    freshness_half_life: float | None = None,
    uncertainty: HybridUncertainty = "margin",
    shortlist_factor: float = 5.0,
    metric: Distance = "cosine",
    model_version: str | None = None,
    seed: int = 0,
) -> Selection:
    """Choose up to ``budget`` rows of the pool to label next with ``strategy``; see the module docstring.

    The pool is the ``N`` rows of whatever per-row input is given (all must agree; ``n_items`` for
    ``random`` alone). What each strategy needs: ``probs`` (``(N, K)`` probabilities) for
    ``least_confidence``, ``margin`` and ``entropy``; ``committee`` (``(M, N, K)``) for ``vote_entropy``;
    ``features`` (``(N, D)`` dense or sparse) for ``diversity``; ``features`` and ``probs`` (or
    ``committee`` with ``uncertainty="vote_entropy"``) for ``hybrid``.

    Options: ``already_selected`` rows (already labeled or queued) are never chosen and count as picked for
    the diversity strategies; ``cluster_ids`` (near-duplicate cluster per row, ``None``/negative: alone)
    allow at most one row per cluster; ``slices`` (a label per row) with ``slice_quota`` (an integer
    minimum per slice, or ``"proportional"``) guarantee rows to every slice; ``costs`` with ``cost_power``
    and ``ages`` with ``freshness_half_life`` weight the rows; ``uncertainty`` is the hybrid's shortlist
    score and ``shortlist_factor`` (``>= 1``) its size per budget unit; ``metric`` is the distance of the
    diversity strategies; ``model_version`` is only recorded; ``seed`` drives ``random`` and the first
    ``diversity`` pick. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input, a missing
    input for the strategy or an unknown option.

    >>> probs = [[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.55, 0.45]]
    >>> select("margin", budget=2, probs=probs).indices.tolist()
    [1, 3]
    >>> select("margin", budget=2, probs=probs, cluster_ids=[0, 1, 2, 1]).indices.tolist()
    [1, 2]
    >>> select("margin", budget=2, probs=probs, costs=[1, 4, 1, 1]).indices.tolist()
    [3, 2]
    """
    check_choice("strategy", strategy, STRATEGIES)
    check_choice("metric", metric, DISTANCES)
    check_choice("uncertainty", uncertainty, get_args(HybridUncertainty))
    budget = _check_int("budget", budget)
    seed = _check_int("seed", seed)
    cost_power = _check_number("cost_power", cost_power)
    shortlist_factor = _check_number("shortlist_factor", shortlist_factor)
    if shortlist_factor < 1:
        raise InvalidInputError(f"shortlist_factor must be >= 1, got {shortlist_factor!r}")
    half_life = (
        None
        if freshness_half_life is None
        else _check_number("freshness_half_life", freshness_half_life, positive=True)
    )
    if n_items is not None:
        n_items = _check_int("n_items", n_items)
    if slice_quota is not None:
        if slices is None:
            raise InvalidInputError("slice_quota needs slices (a slice label per row)")
        if slice_quota != "proportional":
            slice_quota = _check_int("slice_quota", slice_quota)

    uses_probs = strategy in UNCERTAINTY_METHODS or (strategy == "hybrid" and uncertainty != "vote_entropy")
    uses_committee = strategy == "vote_entropy" or (strategy == "hybrid" and uncertainty == "vote_entropy")
    uses_features = strategy in ("diversity", "hybrid")
    if uses_probs and probs is None:
        hint = f" (with uncertainty={uncertainty!r})" if strategy == "hybrid" else ""
        raise InvalidInputError(f"strategy {strategy!r}{hint} needs probs (N x K predicted probabilities)")
    if uses_committee and committee is None:
        raise InvalidInputError(f"strategy {strategy!r} needs committee (M x N x K probabilities of M models)")
    if uses_features and features is None:
        raise InvalidInputError(f"strategy {strategy!r} needs features (N x D embeddings or TF-IDF vectors)")
    checked_probs = check_probabilities(probs) if probs is not None and uses_probs else None
    checked_committee = _check_committee(committee) if committee is not None and uses_committee else None
    matrix: Any
    features_n: int | None
    matrix, features_n = _check_features(features) if features is not None and uses_features else (None, None)
    n = _resolve_pool(n_items, checked_probs, checked_committee, features_n)

    start = _check_indices("already_selected", already_selected, n)
    clusters = None if cluster_ids is None else _cluster_codes(cluster_ids, n)
    slice_codes, slice_labels = (None, []) if slices is None else _slice_codes(slices, n)
    weights = _weights(n, costs, cost_power, ages, half_life)
    eligible = np.ones(n, dtype=bool)
    eligible[start] = False

    params: dict[str, Any] = {
        "strategy": strategy,
        "budget": budget,
        "seed": seed,
        "model_version": model_version,
        "n_pool": n,
        "n_already_selected": int(start.size),
        "clusters": clusters is not None,
        "slice_quota": slice_quota,
        "cost_power": cost_power if costs is not None else None,
        "freshness_half_life": half_life,
    }
    if uses_features:
        params["metric"] = metric
    if strategy == "hybrid":
        params["uncertainty"] = uncertainty
        params["shortlist_factor"] = shortlist_factor

    def quotas_for(available: BoolArray) -> IntArray | None:
        if slice_codes is None or slice_quota is None:
            return None
        quotas = _quotas(slice_quota, budget, slice_codes, len(slice_labels), available, clusters)
        params["quotas"] = {str(label): int(q) for label, q in zip(slice_labels, quotas.tolist(), strict=True)}
        return quotas

    def finish(chosen: IntArray, scores: F64Array, by_quota: BoolArray, details: dict[str, F64Array]) -> Selection:
        if weights is not None:
            details.setdefault("weight", weights[chosen])
        labels = None if slice_codes is None else tuple(slice_labels[c] for c in slice_codes[chosen].tolist())
        return Selection(chosen.astype(np.intp), scores, strategy, params, details, by_quota, labels)

    if strategy == "diversity":
        space = _Space(matrix, metric)
        picks = _greedy(
            space,
            budget,
            eligible=eligible,
            start=start,
            first=None,
            seed=seed,
            weights=weights,
            clusters=clusters,
            slice_codes=slice_codes,
            quotas=quotas_for(eligible),
        )
        chosen = np.asarray(picks.rows, dtype=np.intp)
        distance = _distance(np.asarray(picks.d2, dtype=np.float64), metric)
        scores = distance if weights is None else distance * weights[chosen]
        return finish(chosen, scores, np.asarray(picks.by_quota, dtype=bool), {"distance": distance})

    # ranked strategies, and the hybrid's shortlist
    details: dict[str, F64Array] = {}
    if strategy == "random":
        u = 1.0 - np.random.default_rng(seed).random(n)  # in (0, 1]
        log_key = np.log(u) if weights is None else np.log(u) / weights
        score = np.exp(log_key)
        order = np.lexsort((-log_key,))
    else:
        if checked_committee is not None:
            raw = _vote_entropy(checked_committee)
            tie_break = _mean_kl(checked_committee)
            details["disagreement_kl"] = tie_break
        else:
            method = strategy if strategy in UNCERTAINTY_METHODS else uncertainty
            raw = _uncertainty(checked_probs if checked_probs is not None else np.zeros((n, 2)), method)
            tie_break = np.zeros(n)
        details["uncertainty"] = raw
        score = raw if weights is None else raw * weights
        tie_key = tie_break if weights is None else tie_break * weights
        order = np.lexsort((-tie_key, -score))  # best first; ties: tie-break, then the lower index
    order = order[eligible[order]].astype(np.intp)
    order = _representatives(order, clusters)

    if strategy != "hybrid":
        represented = np.zeros(n, dtype=bool)
        represented[order] = True
        chosen, by_quota = _take_ranked(order, budget, slice_codes, quotas_for(represented))
        return finish(chosen, score[chosen], by_quota, {name: values[chosen] for name, values in details.items()})

    represented = np.zeros(n, dtype=bool)
    represented[order] = True
    quotas = quotas_for(represented)
    size = math.ceil(shortlist_factor * budget)
    shortlist = order[:size]
    if quotas is not None and slice_codes is not None:  # every slice's best rows, enough to fill its quota
        per_slice = np.ceil(shortlist_factor * quotas).astype(np.intp)
        extra, _ = _take_ranked(order, 0, slice_codes, per_slice)
        in_list = np.zeros(n, dtype=bool)
        in_list[shortlist] = True
        in_list[extra] = True
        shortlist = order[in_list[order]]  # still in uncertainty order
    local = np.concatenate([shortlist, start])
    space = _Space(matrix[local], metric)
    local_eligible = np.zeros(local.size, dtype=bool)
    local_eligible[: shortlist.size] = True
    picks = _greedy(
        space,
        budget,
        eligible=local_eligible,
        start=np.arange(shortlist.size, local.size, dtype=np.intp),
        first=0,
        seed=seed,
        slice_codes=None if slice_codes is None else slice_codes[local],
        quotas=quotas,
    )
    chosen = local[np.asarray(picks.rows, dtype=np.intp)]
    distance = _distance(np.asarray(picks.d2, dtype=np.float64), metric)
    details = {name: values[chosen] for name, values in details.items()}
    details["shortlist_score"] = score[chosen]
    details["distance"] = distance
    params["shortlist_size"] = int(shortlist.size)
    return finish(chosen, distance, np.asarray(picks.by_quota, dtype=bool), details)
