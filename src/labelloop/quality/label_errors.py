"""Confident learning: find likely mislabeled items from out-of-sample predicted probabilities.

Pure and deterministic: numpy only, no I/O, imports nothing of labelloop but its errors.

This is the method of Northcutt, Jiang & Chuang, *Confident Learning: Estimating Uncertainty in Dataset
Labels* (JAIR 2021), written to make the same decisions as cleanlab 2.x's ``cleanlab.filter.find_label_issues``
for single-label classification, so both can be compared one to one (``tests/unit/test_label_errors.py``,
``bench/label_errors_bench.py``). cleanlab itself is never imported here.

Inputs (every public function validates them and raises :class:`~labelloop.errors.InvalidInputError`):

* ``labels``: the ``N`` given labels, integers ``0..K-1`` (some of them wrong); a class may have no item.
* ``pred_probs``: an ``(N, K)`` float array; row ``i`` holds a model's predicted probabilities for item ``i``,
  column ``k`` for class ``k``. Rows must sum to 1 within ``1e-3``; no NaN, infinity or negative value. The
  probabilities must be **out-of-sample** (cross-validated, or from a model that never saw the item): a model
  that memorized the given labels agrees with every wrong one. ``float32`` input is computed in ``float32``.

The method, in the order it runs:

1. **Thresholds** (:func:`confident_thresholds`): ``t_k`` = the mean predicted probability of class ``k``
   over the items labelled ``k`` (the class's average self-confidence); ``2.0`` (never reached) for a class
   without items; at least ``2e-6``.
2. **Confident joint** (:func:`confident_joint`): item ``i`` with given label ``y`` is *confidently* of
   class ``j`` when ``p[i, j] >= t_j - 1e-6`` for exactly one ``j``, or when several classes pass and ``j`` is
   the argmax of its row; items that pass no threshold are not counted. ``C[y, j]`` counts those items. The
   diagonal is raised to at least 1, then the matrix is *calibrated*: row ``y`` is rescaled to sum to the
   number of items labelled ``y`` and the result rounded to integers keeping each row's total (the
   entries with the largest rounding loss get the missing units).
3. **Flagging** (:func:`find_label_issues`, ``filter_by``):

   * ``"prune_by_noise_rate"`` (default): a prune matrix ``P`` is derived from ``C`` (each diagonal raised to
     ``min_examples_per_class`` at the expense of its row's non-zero off-diagonals; off-diagonals scaled by
     ``frac_noise``, the difference moved to the diagonal; truncated to integers). For each given class
     ``y`` and other class ``j``, the ``P[y, j]`` items labelled ``y`` with the largest margin
     ``p[i, j] - p[i, y]`` are flagged.
   * ``"prune_by_class"``: for each class ``y``, the ``n_y - P[y, y]`` items labelled ``y`` with the lowest
     ``p[i, y]``.
   * ``"both"``: flagged by both of the above.
   * ``"confident_learning"``: the items counted off the diagonal of ``C`` (confidently another class).
   * ``"predicted_neq_given"``: the argmax of the row is not the given label.
   * ``"low_self_confidence"`` / ``"low_normalized_margin"``: as many items as ``"confident_learning"``
     flags, those with the lowest label-quality score of that name.

   Classes with at most ``max(min_examples_per_class, 1)`` items are never pruned by the three ``prune``
   filters. Except for the two ``low_*`` filters, an item is finally *unflagged* when the model agrees with
   its label: the given label is the argmax of the row once ``1e-6`` is added to its probability.
4. **Ranking** (:func:`label_quality_scores`, ``return_indices_ranked_by``, :func:`rank_label_issues`):
   flagged items sorted by a label-quality score in ``[0, 1]``, lowest (worst) first; ties keep index order.

   * ``"self_confidence"``: ``p[i, y]``.
   * ``"normalized_margin"``: ``(p[i, y] - max_{j != y} p[i, j] + 1) / 2``.
   * ``"confidence_weighted_entropy"``: with ``H`` the entropy of the row divided by ``log K`` and
     ``r = H / max(p[i, y], 1e-6)``: ``log(1 + r) / max(r, 1e-6)``.

Ties: where cleanlab's result depends on the order of an unstable sort (equal margins or probabilities at
a cut-off), the item with the lowest index is taken first here. With continuous probabilities there are no
such ties and both flag the same items; the bench measures the agreement on real data.

Cost: ``O(N K)`` time and memory (selection by partition, not a full sort), one pass per (class, other
class) pair with something to prune over that class's items only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, get_args, overload

import numpy as np
import numpy.typing as npt

from labelloop.domain.probabilities import ROW_SUM_TOLERANCE, check_choice, check_probabilities
from labelloop.errors import InvalidInputError

__all__ = [
    "FILTERS",
    "ROW_SUM_TOLERANCE",
    "SCORE_METHODS",
    "FilterBy",
    "LabelIssue",
    "LabelIssues",
    "ScoreMethod",
    "confident_joint",
    "confident_thresholds",
    "find_label_issues",
    "label_quality_scores",
    "rank_label_issues",
]

FilterBy = Literal[
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_self_confidence",
    "low_normalized_margin",
]
ScoreMethod = Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"]

#: Every ``filter_by`` of :func:`find_label_issues`, the default first.
FILTERS: Final[tuple[FilterBy, ...]] = get_args(FilterBy)
#: Every label-quality score of :func:`label_quality_scores`, the default first.
SCORE_METHODS: Final[tuple[ScoreMethod, ...]] = get_args(ScoreMethod)
#: How far a row of ``pred_probs`` may sum from 1.

_FUZZ: Final = 1e-6  # slack below a threshold, and the model-agrees guard of step 3
_THRESHOLD_FLOOR: Final = 2e-6
_ABSENT_CLASS_THRESHOLD: Final = 2.0  # above any probability: nothing is confidently of an empty class
_TINY: Final = 1e-100
_SCORE_FLOOR: Final = 1e-6

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------


def _check_inputs(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Validated ``(labels as intp, pred_probs as a float array)``; raises InvalidInputError."""
    probs = check_probabilities(pred_probs, "pred_probs", allow_empty=False)
    n, k = probs.shape

    try:
        given = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"labels must be a 1-D sequence of integers: {exc}") from None
    if given.ndim != 1:
        raise InvalidInputError(f"labels must be 1-D, got shape {given.shape}", shape=list(given.shape))
    if given.shape[0] != n:
        raise InvalidInputError(
            f"labels has {given.shape[0]} items but pred_probs has {n} rows", labels=int(given.shape[0]), rows=n
        )
    if given.dtype.kind in "iu":
        ints = given.astype(np.intp, copy=False)
    elif given.dtype.kind == "f" and bool(np.isfinite(given).all()) and bool((given == np.round(given)).all()):
        ints = given.astype(np.intp)
    else:
        raise InvalidInputError(f"labels must be integers 0..{k - 1}, got dtype {given.dtype}", dtype=str(given.dtype))
    out_of_range = (ints < 0) | (ints >= k)
    if out_of_range.any():
        first = int(np.flatnonzero(out_of_range)[0])
        raise InvalidInputError(
            f"labels must be in 0..{k - 1} (pred_probs has {k} columns); item {first} has label {int(ints[first])}",
            index=first,
            label=int(ints[first]),
        )
    return ints, probs


def _check_prune_options(frac_noise: float, min_examples_per_class: int) -> None:
    if isinstance(frac_noise, bool) or not isinstance(frac_noise, int | float) or not 0.0 < frac_noise <= 1.0:
        raise InvalidInputError(f"frac_noise must be a number in (0, 1], got {frac_noise!r}")
    if isinstance(min_examples_per_class, bool) or not isinstance(min_examples_per_class, int | np.integer):
        raise InvalidInputError(f"min_examples_per_class must be an integer, got {min_examples_per_class!r}")
    if min_examples_per_class < 0:
        raise InvalidInputError(f"min_examples_per_class must be >= 0, got {min_examples_per_class}")


# ------------------------------------------------------------------------------------------------
# The confident joint
# ------------------------------------------------------------------------------------------------


def _thresholds(labels: IntArray, probs: FloatArray, counts: IntArray) -> FloatArray:
    k = probs.shape[1]
    self_conf = probs[np.arange(labels.shape[0]), labels]
    totals = np.bincount(labels, weights=self_conf, minlength=k)
    means = totals / np.maximum(counts, 1)
    thresholds: FloatArray = np.maximum(np.where(counts > 0, means, _ABSENT_CLASS_THRESHOLD), _THRESHOLD_FLOOR)
    return thresholds


def _confident_counts(labels: IntArray, probs: FloatArray, thresholds: FloatArray) -> tuple[IntArray, BoolArray]:
    """Uncalibrated confident joint (diagonal not yet raised) and the mask of items counted off its diagonal."""
    k = probs.shape[1]
    passes = probs >= thresholds - _FUZZ
    n_pass = passes.sum(axis=1)
    guess = passes.argmax(axis=1)  # the only passing class, where exactly one passes
    several = np.flatnonzero(n_pass > 1)
    guess[several] = probs[several].argmax(axis=1)
    counted = n_pass > 0
    joint = np.bincount(labels[counted] * k + guess[counted], minlength=k * k).reshape(k, k).astype(np.intp)
    return joint, counted & (guess != labels)


def _round_rows(values: FloatArray) -> IntArray:
    """Round each row to integers whose sum is the row's rounded sum.

    Entries are rounded half-to-even; a row short of its total gives one more unit to each of the entries
    that lost most in rounding (ties: the later column first), a row over its total takes one unit from
    those that gained most (ties: the earlier column first). Each entry moves by at most 0.5, so the gap
    is at most ``K / 2 + 1/2 <= K`` units and one pass settles it.
    """
    k = values.shape[1]
    rounded = np.rint(values)
    loss = values - rounded
    gap = (np.rint(values.sum(axis=1)) - rounded.sum(axis=1)).astype(np.intp)
    order = np.argsort(loss, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), order.shape), axis=1)
    up = rank >= (k - gap)[:, None]  # gap > 0: the `gap` largest losses
    down = rank < (-gap)[:, None]  # gap < 0: the `-gap` smallest losses
    result: IntArray = (rounded + up - down).astype(np.intp)
    return result


def _calibrate(joint: IntArray, counts: IntArray) -> IntArray:
    rows = joint.sum(axis=1)
    scaled = joint / np.maximum(rows, _TINY)[:, None] * counts[:, None]
    scaled = scaled / max(float(scaled.sum()), _TINY) * counts.sum()
    return _round_rows(scaled)


def _joint(labels: IntArray, probs: FloatArray, *, calibrate: bool = True) -> tuple[IntArray, BoolArray]:
    counts = np.bincount(labels, minlength=probs.shape[1])
    joint, off_diagonal = _confident_counts(labels, probs, _thresholds(labels, probs, counts))
    np.fill_diagonal(joint, np.maximum(np.diagonal(joint), 1))
    if calibrate:
        joint = _calibrate(joint, counts)
    return joint, off_diagonal


def confident_thresholds(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> FloatArray:
    """Per-class confidence thresholds: the mean predicted probability of each class over its labelled items.

    ``labels`` are ``N`` integers in ``0..K-1``; ``pred_probs`` is ``(N, K)`` with rows summing to 1. Returns a
    float array of ``K`` thresholds; a class without items gets ``2.0`` (no item can reach it), and no
    threshold is below ``2e-6``. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> confident_thresholds([0, 0, 1], [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]).tolist()
    [0.7, 0.8]
    """
    ints, probs = _check_inputs(labels, pred_probs)
    return _thresholds(ints, probs, np.bincount(ints, minlength=probs.shape[1]))


def confident_joint(labels: npt.ArrayLike, pred_probs: npt.ArrayLike, *, calibrate: bool = True) -> IntArray:
    """The ``(K, K)`` confident joint: entry ``[y, j]`` counts items labelled ``y`` that are confidently ``j``.

    ``labels`` are ``N`` integers in ``0..K-1``; ``pred_probs`` is ``(N, K)`` out-of-sample probabilities with
    rows summing to 1. An item is confidently of class ``j`` when ``p[i, j]`` reaches ``j``'s threshold
    (:func:`confident_thresholds`, less ``1e-6``); when several classes do, the most probable of them. Items
    reaching no threshold are not counted. The diagonal is then raised to at least 1. With ``calibrate``
    (default, like cleanlab's ``compute_confident_joint``), each row ``y`` is rescaled to the number of items
    labelled ``y`` and rounded keeping the row totals, so the matrix sums to ``N`` and estimates the joint
    counts of (given, true) labels. Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> labels = [0, 0, 0, 1, 1, 1]
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]]
    >>> confident_joint(labels, probs).tolist()  # both thresholds 2/3: items 2 and 5 are confidently the other
    [[2, 1], [1, 2]]
    """
    ints, probs = _check_inputs(labels, pred_probs)
    return _joint(ints, probs, calibrate=calibrate)[0]


# ------------------------------------------------------------------------------------------------
# Flagging
# ------------------------------------------------------------------------------------------------


def _prune_matrix(joint: IntArray, min_examples_per_class: int, frac_noise: float) -> IntArray:
    """How many items labelled ``y`` to flag as truly ``j`` (``[y, j]``), and to keep (``[y, y]``)."""
    m = joint.astype(np.float64)
    diagonal = np.diagonal(m).copy()
    raised = np.maximum(diagonal, min_examples_per_class)
    # what the diagonal gained is taken evenly from the row's other non-zero entries
    sharing = np.maximum(np.count_nonzero(m, axis=1) - 1.0, 1.0)
    m = np.maximum(m - ((raised - diagonal) / sharing)[:, None], 0.0)
    np.fill_diagonal(m, raised)
    # keep frac_noise of each off-diagonal count, move the rest back to the diagonal
    kept = m * frac_noise
    np.fill_diagonal(kept, raised)
    np.fill_diagonal(kept, raised + (m - kept).sum(axis=1))
    result: IntArray = kept.astype(np.intp)  # truncation: counts of items
    return result


def _lowest(values: FloatArray, count: int) -> IntArray:
    """Positions of the ``count`` smallest values (all when fewer); ties at the cut: lowest positions."""
    n = values.shape[0]
    if count <= 0:
        return np.arange(0)
    if count >= n:
        return np.arange(n)
    cut = np.partition(values, count - 1)[count - 1]
    below = np.flatnonzero(values < cut)
    tied = np.flatnonzero(values == cut)[: count - below.size]
    return np.concatenate([below, tied])


def _prune(probs: FloatArray, groups: list[IntArray], prune: IntArray, by: str) -> BoolArray:
    """Mask of ``prune_by_noise_rate`` (``by="noise_rate"``) or ``prune_by_class`` (``by="class"``).

    ``groups[y]`` holds the indices of the items labelled ``y`` in a class that may be pruned, else nothing.
    """
    mask = np.zeros(probs.shape[0], dtype=bool)
    for y, rows in enumerate(groups):
        if rows.size == 0:
            continue
        if by == "class":
            to_flag = rows.size - int(prune[y, y])
            if to_flag >= 1:
                mask[rows[_lowest(probs[rows, y], to_flag)]] = True
            continue
        targets = [j for j in np.flatnonzero(prune[y] > 0).tolist() if j != y]
        if not targets:
            continue
        block = probs[rows].T  # (K, n_y): one contiguous row per class
        for j in targets:
            # largest p_j - p_y first, i.e. smallest p_y - p_j (IEEE subtraction is exactly antisymmetric)
            mask[rows[_lowest(block[y] - block[j], int(prune[y, j]))]] = True
    return mask


def _unflag_agreeing(mask: BoolArray, labels: IntArray, probs: FloatArray) -> None:
    """Clear the flag of items whose given label wins the argmax once ``1e-6`` is added to it."""
    flagged = np.flatnonzero(mask)
    if flagged.size == 0:
        return
    given = labels[flagged]
    boosted = probs[flagged]  # a copy
    boosted[np.arange(flagged.size), given] += _FUZZ
    mask[flagged[boosted.argmax(axis=1) == given]] = False


def _scores(labels: IntArray, probs: FloatArray, method: str) -> FloatArray:
    n, k = probs.shape
    rows = np.arange(n)
    self_conf: FloatArray = probs[rows, labels]
    if method == "self_confidence":
        return self_conf
    if method == "normalized_margin":
        others = probs.copy()
        others[rows, labels] = -np.inf
        margin: FloatArray = (self_conf - others.max(axis=1) + 1) / 2
        return margin
    plogp = probs * np.log(np.where(probs > 0, probs, 1))
    entropy = -plogp.sum(axis=1) / np.log(k)
    ratio = entropy / np.maximum(self_conf, _SCORE_FLOOR)
    weighted: FloatArray = np.log(ratio + 1) / np.maximum(ratio, _SCORE_FLOOR)
    return weighted


def _rank(mask: BoolArray, labels: IntArray, probs: FloatArray, method: str) -> tuple[IntArray, FloatArray]:
    flagged = np.flatnonzero(mask)
    scores = _scores(labels[flagged], probs[flagged], method)
    order = np.argsort(scores, kind="stable")
    return flagged[order], scores[order]


def _find(
    labels: IntArray, probs: FloatArray, filter_by: str, frac_noise: float, min_examples_per_class: int
) -> BoolArray:
    n, k = probs.shape
    mask: BoolArray
    if filter_by == "predicted_neq_given":
        mask = probs.argmax(axis=1) != labels
        _unflag_agreeing(mask, labels, probs)
        return mask
    joint, off_diagonal = _joint(labels, probs)
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        # as many items as confident_learning flags, the lowest-scored ones (no agreement guard)
        _unflag_agreeing(off_diagonal, labels, probs)
        mask = np.zeros(n, dtype=bool)
        mask[_lowest(_scores(labels, probs, filter_by.removeprefix("low_")), int(off_diagonal.sum()))] = True
        return mask
    if filter_by == "confident_learning":
        mask = off_diagonal
    else:
        prune = _prune_matrix(joint, min_examples_per_class, frac_noise)
        counts = np.bincount(labels, minlength=k)
        eligible = (counts > min_examples_per_class) & (counts > 1)
        order = np.argsort(labels, kind="stable")
        ends = np.cumsum(counts)
        groups = [
            order[end - size : end] if ok else order[:0] for end, size, ok in zip(ends, counts, eligible, strict=True)
        ]
        by_noise = filter_by in ("prune_by_noise_rate", "both")
        mask = _prune(probs, groups, prune, "noise_rate") if by_noise else np.ones(n, dtype=bool)
        if filter_by in ("prune_by_class", "both"):
            mask &= _prune(probs, groups, prune, "class")
    _unflag_agreeing(mask, labels, probs)
    return mask


@overload
def find_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = ...,
    return_indices_ranked_by: None = None,
    frac_noise: float = ...,
    min_examples_per_class: int = ...,
) -> BoolArray: ...


@overload
def find_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = ...,
    return_indices_ranked_by: ScoreMethod,
    frac_noise: float = ...,
    min_examples_per_class: int = ...,
) -> IntArray: ...


def find_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    return_indices_ranked_by: ScoreMethod | None = None,
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
) -> BoolArray | IntArray:
    """Flag the items whose given label is likely wrong, by confident learning (cleanlab's method and defaults).

    ``labels`` are ``N`` integers in ``0..K-1``; ``pred_probs`` is ``(N, K)`` **out-of-sample** probabilities
    (cross-validated, or from a model that never trained on these items), rows summing to 1 within 1e-3.
    ``filter_by`` picks the rule (see the module docstring; one of :data:`FILTERS`, default
    ``"prune_by_noise_rate"``). ``frac_noise`` in ``(0, 1]`` keeps that fraction of the estimated issues
    (``prune_*`` and ``both`` filters only); ``min_examples_per_class`` is how many items each class keeps
    at least (classes with at most that many items, or one, are never pruned).

    Returns a boolean mask of length ``N`` (``True``: likely mislabeled), or, when
    ``return_indices_ranked_by`` names a score of :data:`SCORE_METHODS`, the indices of the flagged items
    sorted by that score, most likely mislabeled first. Raises :class:`~labelloop.errors.InvalidInputError`
    on malformed input or an unknown option.

    >>> labels = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> probs = [[0.9, 0.1]] * 3 + [[0.1, 0.9]] + [[0.2, 0.8]] * 4
    >>> find_label_issues(labels, probs).nonzero()[0].tolist()
    [3]
    >>> find_label_issues(labels, probs, return_indices_ranked_by="self_confidence").tolist()
    [3]
    """
    check_choice("filter_by", filter_by, FILTERS)
    if return_indices_ranked_by is not None:
        check_choice("return_indices_ranked_by", return_indices_ranked_by, SCORE_METHODS)
    _check_prune_options(frac_noise, min_examples_per_class)
    ints, probs = _check_inputs(labels, pred_probs)
    mask = _find(ints, probs, filter_by, float(frac_noise), int(min_examples_per_class))
    if return_indices_ranked_by is None:
        return mask
    return _rank(mask, ints, probs, return_indices_ranked_by)[0]


def label_quality_scores(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, *, method: ScoreMethod = "self_confidence"
) -> FloatArray:
    """One label-quality score per item, in ``[0, 1]``: low means the given label is likely wrong.

    ``labels`` are ``N`` integers in ``0..K-1``; ``pred_probs`` is ``(N, K)`` with rows summing to 1.
    ``method`` (one of :data:`SCORE_METHODS`): ``"self_confidence"`` is the probability of the given label;
    ``"normalized_margin"`` is ``(p_given - max p_other + 1) / 2``; ``"confidence_weighted_entropy"`` is
    ``log(1 + r) / max(r, 1e-6)`` with ``r`` the row's entropy (divided by ``log K``) over
    ``max(p_given, 1e-6)``. The scores equal cleanlab's ``rank.get_label_quality_scores`` (without
    ``adjust_pred_probs``). Raises :class:`~labelloop.errors.InvalidInputError` on malformed input.

    >>> label_quality_scores([0, 1], [[0.9, 0.1], [0.7, 0.3]], method="normalized_margin").round(2).tolist()
    [0.9, 0.3]
    """
    check_choice("method", method, SCORE_METHODS)
    ints, probs = _check_inputs(labels, pred_probs)
    return _scores(ints, probs, method)


# ------------------------------------------------------------------------------------------------
# The ranked result
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelIssue:
    """One flagged item: its index, given label, the model's label (argmax) and its label-quality score."""

    index: int
    given_label: int
    suggested_label: int
    score: float


@dataclass(frozen=True, eq=False)
class LabelIssues:
    """Flagged items, worst (lowest score) first, as parallel arrays; iterate for :class:`LabelIssue` rows."""

    indices: IntArray
    given_labels: IntArray
    suggested_labels: IntArray
    scores: FloatArray
    filter_by: str
    rank_by: str
    n_items: int

    def __len__(self) -> int:
        """Number of flagged items."""
        return int(self.indices.shape[0])

    def __iter__(self) -> Iterator[LabelIssue]:
        """The flagged items in rank order, as :class:`LabelIssue` tuples of Python scalars."""
        for index, given, suggested, score in zip(
            self.indices.tolist(),
            self.given_labels.tolist(),
            self.suggested_labels.tolist(),
            self.scores.tolist(),
            strict=True,
        ):
            yield LabelIssue(index, given, suggested, score)

    @property
    def fraction(self) -> float:
        """Share of all items that were flagged."""
        return len(self) / self.n_items if self.n_items else 0.0

    def to_records(self) -> list[dict[str, int | float]]:
        """The flagged items as JSON-ready dicts (``index``, ``given_label``, ``suggested_label``, ``score``)."""
        return [asdict(issue) for issue in self]


def rank_label_issues(
    labels: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    rank_by: ScoreMethod = "self_confidence",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    top: int | None = None,
) -> LabelIssues:
    """The flagged items with their given label, suggested label and score, most likely mislabeled first.

    Same inputs and flagging as :func:`find_label_issues` (``labels``: ``N`` integers in ``0..K-1``;
    ``pred_probs``: ``(N, K)`` out-of-sample probabilities, rows summing to 1). Items are sorted by the
    ``rank_by`` label-quality score, lowest first (ties by index); the suggested label is the argmax of the
    item's row. ``top`` keeps only the first ``top`` items. Raises
    :class:`~labelloop.errors.InvalidInputError` on malformed input or options.

    >>> labels = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> probs = [[0.9, 0.1]] * 3 + [[0.1, 0.9]] + [[0.2, 0.8]] * 4
    >>> rank_label_issues(labels, probs).to_records()
    [{'index': 3, 'given_label': 0, 'suggested_label': 1, 'score': 0.1}]
    """
    check_choice("filter_by", filter_by, FILTERS)
    check_choice("rank_by", rank_by, SCORE_METHODS)
    _check_prune_options(frac_noise, min_examples_per_class)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
        raise InvalidInputError(f"top must be a non-negative integer or None, got {top!r}")
    ints, probs = _check_inputs(labels, pred_probs)
    mask = _find(ints, probs, filter_by, float(frac_noise), int(min_examples_per_class))
    indices, scores = _rank(mask, ints, probs, rank_by)
    if top is not None:
        indices, scores = indices[:top], scores[:top]
    return LabelIssues(
        indices=indices,
        given_labels=ints[indices],
        suggested_labels=probs[indices].argmax(axis=1).astype(np.intp),
        scores=scores,
        filter_by=filter_by,
        rank_by=rank_by,
        n_items=int(ints.shape[0]),
    )
