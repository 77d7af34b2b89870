"""Unit tests for confident learning (labelloop.quality.label_errors), with cleanlab as the reference."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint as cleanlab_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_find
from cleanlab.rank import get_label_quality_scores as cleanlab_scores
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InvalidInputError
from labelloop.quality.label_errors import (
    FILTERS,
    SCORE_METHODS,
    FilterBy,
    LabelIssue,
    ScoreMethod,
    confident_joint,
    confident_thresholds,
    find_label_issues,
    label_quality_scores,
    rank_label_issues,
)

PRUNE_FILTERS: tuple[FilterBy, ...] = ("prune_by_noise_rate", "prune_by_class", "both")


def cleanlab(labels: Any, probs: Any, **kwargs: Any) -> np.ndarray:
    """cleanlab's find_label_issues, single process, its warnings (few examples per class) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result: np.ndarray = cleanlab_find(np.asarray(labels), np.asarray(probs, dtype=float), n_jobs=1, **kwargs)
    return result


def flagged(mask: np.ndarray) -> set[int]:
    return set(np.flatnonzero(mask).tolist())


def noisy_problem(
    seed: int, k: int, n: int, *, noise: float = 0.15, margin: float = 2.5, drop_class: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noisy labels, pred_probs, planted mask): imbalanced classes, Gaussian logits, uniform label flips."""
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.full(k, 3.0))
    true = rng.choice(k, size=n, p=prior)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += margin
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    planted = rng.random(n) < noise
    labels = true.copy()
    labels[planted] = (true[planted] + rng.integers(1, k, int(planted.sum()))) % k
    if drop_class:  # the last class keeps its column but loses every item
        labels[labels == k - 1] = 0
    return labels, probs, planted & (labels != true)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    either = int((a | b).sum())
    return int((a & b).sum()) / either if either else 1.0


# ------------------------------------------------------------------------------------------------
# Known answers, computed by hand
# ------------------------------------------------------------------------------------------------

# Example A: 12 items, 3 classes. Indices: a0-a5 = 0-5 (label 0), b0-b2 = 6-8 (label 1), c0-c2 = 9-11 (label 2).
A_LABELS = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
A_PROBS = [
    [0.9, 0.05, 0.05],  # a0
    [0.8, 0.1, 0.1],  # a1
    [0.7, 0.2, 0.1],  # a2
    [0.3, 0.7, 0.0],  # a3: confidently class 1
    [0.15, 0.05, 0.8],  # a4: confidently class 2
    [0.25, 0.4, 0.35],  # a5: unsure, reaches no threshold
    [0.1, 0.8, 0.1],  # b0
    [0.1, 0.7, 0.2],  # b1
    [0.2, 0.6, 0.2],  # b2: reaches no threshold
    [0.1, 0.1, 0.8],  # c0
    [0.1, 0.2, 0.7],  # c1: reaches no threshold
    [0.2, 0.1, 0.7],  # c2: reaches no threshold
]
# Thresholds (mean self-confidence): t0 = (.9+.8+.7+.3+.15+.25)/6 = 3.1/6 = 0.5167,
# t1 = (.8+.7+.6)/3 = 0.7, t2 = (.8+.7+.7)/3 = 0.7333.
# Confident class (p >= t - 1e-6): a0, a1, a2 -> 0; a3 -> 1 (0.7 >= 0.7); a4 -> 2 (0.8 >= 0.733); a5 none;
# b0, b1 -> 1; b2 none (0.6 < 0.7); c0 -> 2; c1, c2 none (0.7 < 0.733).
# Raw joint [[3, 1, 1], [0, 2, 0], [0, 0, 1]]; calibrated: row 0 to 6 items: 6/5 * [3, 1, 1] = [3.6, 1.2, 1.2]
# -> [4, 1, 1]; row 1 to 3 items: [0, 3, 0]; row 2 to 3 items: [0, 0, 3].
A_RAW_JOINT = [[3, 1, 1], [0, 2, 0], [0, 0, 1]]
A_JOINT = [[4, 1, 1], [0, 3, 0], [0, 0, 3]]
# Prune matrix (min_examples_per_class=1) = the calibrated joint. By filter:
#   prune_by_noise_rate: class 0 -> 1: one item, largest p1 - p0: a3 (0.4; a5 0.15); class 0 -> 2: one item,
#     largest p2 - p0: a4 (0.65; a5 0.1). Classes 1 and 2 have nothing off the diagonal.
#   prune_by_class: class 0 drops 6 - 4 = 2 items with the lowest p0: a4 (0.15), a5 (0.25).
#   both: a4 only. confident_learning: the off-diagonal items a3, a4. predicted_neq_given: a3, a4, a5.
#   low_self_confidence: as many as confident_learning (2) with the lowest p_given: a4 (0.15), a5 (0.25).
#   low_normalized_margin: (p_given - max other + 1) / 2: a4 0.175, a3 0.3, a5 0.425, b2 0.7 -> a4, a3.
A_EXPECTED = {
    "prune_by_noise_rate": {3, 4},
    "prune_by_class": {4, 5},
    "both": {4},
    "confident_learning": {3, 4},
    "predicted_neq_given": {3, 4, 5},
    "low_self_confidence": {4, 5},
    "low_normalized_margin": {3, 4},
}


def test_thresholds_are_the_mean_self_confidence_per_class() -> None:
    np.testing.assert_allclose(confident_thresholds(A_LABELS, A_PROBS), [3.1 / 6, 0.7, 2.2 / 3])


def test_confident_joint_known_answer() -> None:
    assert confident_joint(A_LABELS, A_PROBS, calibrate=False).tolist() == A_RAW_JOINT
    joint = confident_joint(A_LABELS, A_PROBS)
    assert joint.tolist() == A_JOINT
    assert joint.sum(axis=1).tolist() == [6, 3, 3]  # calibrated rows hold the given-label counts
    assert joint.tolist() == cleanlab_confident_joint(np.array(A_LABELS), np.array(A_PROBS)).tolist()


@pytest.mark.parametrize("filter_by", FILTERS)
def test_find_label_issues_known_answer(filter_by: FilterBy) -> None:
    mask = find_label_issues(A_LABELS, A_PROBS, filter_by=filter_by)
    assert mask.dtype == bool and mask.shape == (12,)
    assert flagged(mask) == A_EXPECTED[filter_by]
    assert flagged(cleanlab(A_LABELS, A_PROBS, filter_by=filter_by)) == A_EXPECTED[filter_by]


def test_min_examples_per_class_known_answers() -> None:
    # min_examples_per_class=5: the diagonal of row 0 is raised 4 -> 5, the unit taken evenly from the 2
    # non-zero off-diagonals: 1 - 0.5 = 0.5, truncated to 0. Prune matrix row 0 = [5, 0, 0]: nothing to prune
    # by noise rate; by class 6 - 5 = 1 item, the lowest p0: a4.
    assert flagged(find_label_issues(A_LABELS, A_PROBS, min_examples_per_class=5)) == set()
    assert flagged(find_label_issues(A_LABELS, A_PROBS, filter_by="prune_by_class", min_examples_per_class=5)) == {4}
    # min_examples_per_class=6: class 0 has only 6 items, so it is never pruned; the others have no issue.
    for filter_by in PRUNE_FILTERS:
        assert not find_label_issues(A_LABELS, A_PROBS, filter_by=filter_by, min_examples_per_class=6).any()
    # ... while the filters that do not prune still flag it
    assert flagged(find_label_issues(A_LABELS, A_PROBS, filter_by="confident_learning", min_examples_per_class=6)) == {
        3,
        4,
    }


def test_frac_noise_known_answer() -> None:
    # frac_noise=0.5: off-diagonals of row 0 become 0.5 and 0.5, the diagonal 4 + 1 = 5; truncated:
    # [5, 0, 0]. Same outcome as min_examples_per_class=5 above.
    assert flagged(find_label_issues(A_LABELS, A_PROBS, frac_noise=0.5)) == set()
    assert flagged(find_label_issues(A_LABELS, A_PROBS, filter_by="prune_by_class", frac_noise=0.5)) == {4}
    for filter_by in PRUNE_FILTERS:
        assert np.array_equal(
            find_label_issues(A_LABELS, A_PROBS, filter_by=filter_by, frac_noise=0.5),
            cleanlab(A_LABELS, A_PROBS, filter_by=filter_by, frac_noise=0.5),
        )


def test_calibration_rounding_gives_the_missing_unit_to_the_later_column_on_a_tie() -> None:
    # Class 0 has 4 items: x0 confidently 0, x1 confidently 1, x2 confidently 2, x3 reaches no threshold
    # (t0 = (0.9 + 0.05 + 0.05 + 0.3) / 4 = 0.325 > 0.3; t1 = t2 = 0.8 > 0.35).
    # Raw row 0 = [1, 1, 1]; calibrated to 4 items: [4/3, 4/3, 4/3] -> rounded [1, 1, 1] is one short; every
    # entry lost 1/3, so the tie goes to the last column: [1, 1, 2].
    labels = [0, 0, 0, 0, 1, 1, 2, 2]
    probs = [
        [0.9, 0.05, 0.05],
        [0.05, 0.9, 0.05],
        [0.05, 0.05, 0.9],
        [0.3, 0.35, 0.35],
        [0.1, 0.8, 0.1],
        [0.1, 0.8, 0.1],
        [0.1, 0.1, 0.8],
        [0.1, 0.1, 0.8],
    ]
    assert confident_joint(labels, probs, calibrate=False).tolist() == [[1, 1, 1], [0, 2, 0], [0, 0, 2]]
    assert confident_joint(labels, probs).tolist() == [[1, 1, 2], [0, 2, 0], [0, 0, 2]]


def test_raised_diagonal_and_rounding_down_take_from_the_earlier_column_on_a_tie() -> None:
    # Class 0 has 2 items, x0 confidently 1 and x1 confidently 2 (t0 = 0.05, so both also pass class 0 and
    # the argmax decides). Raw row 0 = [0, 1, 1], diagonal raised to 1: [1, 1, 1]; calibrated to 2 items:
    # [2/3, 2/3, 2/3] -> rounded [1, 1, 1] is one over; every entry gained 1/3, so the first column gives
    # the unit back: [0, 1, 1].
    labels = [0, 0, 1, 1, 2, 2]
    probs = [[0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]
    assert confident_joint(labels, probs, calibrate=False).tolist() == [[1, 1, 1], [0, 2, 0], [0, 0, 2]]
    assert confident_joint(labels, probs).tolist() == [[0, 1, 1], [0, 2, 0], [0, 0, 2]]
    # a class of two items keeps at least one (min_examples_per_class=1): prune matrix row 0 = [1, 0, 0]
    # after taking the raised unit from the two non-zero off-diagonals (1 - 0.5 -> 0): nothing pruned
    assert not find_label_issues(labels, probs).any()
    assert flagged(find_label_issues(labels, probs, filter_by="confident_learning")) == {0, 1}


def test_a_class_without_items_is_never_confident_and_has_an_empty_row() -> None:
    # Column 2 exists but no item is labelled 2: its threshold is 2.0 (unreachable), so item 1, which the
    # model puts in class 2, reaches no threshold and the joint's row 2 is zero after calibration.
    labels = [0, 0, 0, 1, 1, 1]
    probs = [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.9, 0.0]]
    thresholds = confident_thresholds(labels, probs)
    assert thresholds[2] == 2.0
    joint = confident_joint(labels, probs)
    assert joint[2].tolist() == [0, 0, 0]
    assert joint.tolist() == cleanlab_confident_joint(np.array(labels), np.array(probs)).tolist()
    assert not find_label_issues(labels, probs, filter_by="confident_learning").any()
    assert flagged(find_label_issues(labels, probs, filter_by="predicted_neq_given")) == {1}
    for filter_by in FILTERS:
        ours = find_label_issues(labels, probs, filter_by=filter_by)
        assert np.array_equal(ours, cleanlab(labels, probs, filter_by=filter_by)), filter_by


def test_items_the_model_agrees_with_are_never_flagged() -> None:
    # Item 0 is labelled 0 with p = [0.5, 0.5]: predicted_neq_given's argmax says 0 (first of the tie) and
    # the 1e-6 guard keeps it unflagged even if the tie were the other way round (item 1: [0.4999995, ...]).
    labels = [0, 0, 0, 1, 1, 1]
    probs = [[0.5, 0.5], [0.4999995, 0.5000005], [0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05]]
    assert flagged(find_label_issues(labels, probs, filter_by="predicted_neq_given")) == {5}


def test_singleton_classes_are_not_pruned_even_with_min_examples_zero() -> None:
    # Item 3, the only one labelled 1, is confidently class 2 (0.9 >= t2 = 0.775; it also passes t1 = 0.05,
    # and the argmax decides). Raw row 1 = [0, 0, 1], diagonal raised: [0, 1, 1]; calibrated to 1 item:
    # [0, 0.5, 0.5] -> [0, 0, 0] + the unit to the later column on the tie: [0, 0, 1]. So the prune matrix
    # says "prune 1 item of class 1 as class 2", but a class of one item is never pruned (as cleanlab).
    labels = [0, 0, 0, 1, 2, 2, 2, 2]
    probs = [[0.8, 0.1, 0.1]] * 3 + [[0.05, 0.05, 0.9]] + [[0.1, 0.1, 0.8]] * 3 + [[0.2, 0.1, 0.7]]
    assert confident_joint(labels, probs)[1].tolist() == [0, 0, 1]
    assert flagged(find_label_issues(labels, probs, filter_by="confident_learning")) == {3}
    for filter_by in PRUNE_FILTERS:
        for minimum in (0, 1):
            mask = find_label_issues(labels, probs, filter_by=filter_by, min_examples_per_class=minimum)
            assert not mask.any()
            assert np.array_equal(mask, cleanlab(labels, probs, filter_by=filter_by, min_examples_per_class=minimum))


def test_ties_at_a_pruning_cut_off_go_to_the_lowest_index() -> None:
    # Items 3 and 4 (label 0) are identical and confidently class 1 (0.8 >= t1 = 0.8): raw joint
    # [[4, 2], [0, 4]]. With frac_noise=0.5 the prune matrix row 0 is [4 + 1, 1]: one of the two is pruned,
    # by noise rate (equal margins) and by class (equal p0): the lower index.
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    probs = [[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 2 + [[0.9, 0.1]] + [[0.2, 0.8]] * 4
    assert confident_joint(labels, probs).tolist() == [[4, 2], [0, 4]]
    for filter_by in PRUNE_FILTERS:
        assert flagged(find_label_issues(labels, probs, filter_by=filter_by, frac_noise=0.5)) == {3}
        assert flagged(find_label_issues(labels, probs, filter_by=filter_by)) == {3, 4}


# ------------------------------------------------------------------------------------------------
# Scores and ranking
# ------------------------------------------------------------------------------------------------


def test_label_quality_scores_known_answers() -> None:
    labels = [0, 1, 2]
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(label_quality_scores(labels, probs), [0.7, 0.3, 1 / 3])
    # (p_given - max other + 1) / 2: (0.7 - 0.2 + 1)/2, (0.3 - 0.6 + 1)/2, (1/3 - 1/3 + 1)/2
    np.testing.assert_allclose(label_quality_scores(labels, probs, method="normalized_margin"), [0.75, 0.35, 0.5])
    # uniform row: entropy / log 3 = 1, r = 1 / (1/3) = 3, score log(4) / 3
    cwe = label_quality_scores(labels, probs, method="confidence_weighted_entropy")
    assert cwe[2] == pytest.approx(np.log(4) / 3)
    assert cwe[0] > cwe[1]  # same entropy, the given label of item 1 is less probable


@pytest.mark.parametrize("method", SCORE_METHODS)
@pytest.mark.parametrize("seed", range(3))
def test_label_quality_scores_equal_cleanlab(method: ScoreMethod, seed: int) -> None:
    labels, probs, _ = noisy_problem(seed, 6, 500)
    probs[:5] = np.eye(6)[:5]  # exact zeros and ones in some rows
    ours = label_quality_scores(labels, probs, method=method)
    np.testing.assert_allclose(ours, cleanlab_scores(labels, probs, method=method), rtol=1e-12, atol=0)
    assert ((ours >= 0) & (ours <= 1)).all()


@pytest.mark.parametrize("method", SCORE_METHODS)
def test_ranked_indices_are_the_mask_sorted_by_score(method: ScoreMethod) -> None:
    labels, probs, _ = noisy_problem(11, 5, 800)
    mask = find_label_issues(labels, probs)
    ranked = find_label_issues(labels, probs, return_indices_ranked_by=method)
    assert set(ranked.tolist()) == flagged(mask) and len(ranked) == mask.sum()
    scores = label_quality_scores(labels, probs, method=method)
    assert (np.diff(scores[ranked]) >= 0).all()  # worst first
    assert np.array_equal(ranked, cleanlab(labels, probs, return_indices_ranked_by=method))


def test_ranking_ties_keep_index_order() -> None:
    # items 3, 4, 5 are identical mislabeled rows: same score, so index order
    labels = [0] * 6 + [1] * 6
    probs = [[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 3 + [[0.1, 0.9]] * 6
    assert find_label_issues(labels, probs, return_indices_ranked_by="self_confidence").tolist() == [3, 4, 5]


def test_rank_label_issues_rows() -> None:
    issues = rank_label_issues(A_LABELS, A_PROBS, filter_by="predicted_neq_given")
    # self-confidence: a4 0.15, a5 0.25, a3 0.3
    assert list(issues) == [LabelIssue(4, 0, 2, 0.15), LabelIssue(5, 0, 1, 0.25), LabelIssue(3, 0, 1, 0.3)]
    assert len(issues) == 3 and issues.n_items == 12 and issues.fraction == pytest.approx(0.25)
    assert issues.indices.tolist() == [4, 5, 3]
    assert issues.to_records()[0] == {"index": 4, "given_label": 0, "suggested_label": 2, "score": 0.15}
    assert [i.index for i in rank_label_issues(A_LABELS, A_PROBS, filter_by="predicted_neq_given", top=2)] == [4, 5]
    margin = rank_label_issues(A_LABELS, A_PROBS, filter_by="predicted_neq_given", rank_by="normalized_margin")
    assert margin.indices.tolist() == [4, 3, 5] and margin.rank_by == "normalized_margin"  # 0.175, 0.3, 0.425
    assert len(rank_label_issues(A_LABELS, A_PROBS, top=0)) == 0


def test_rank_label_issues_matches_find_label_issues() -> None:
    labels, probs, _ = noisy_problem(5, 4, 1000)
    issues = rank_label_issues(labels, probs, filter_by="both", rank_by="normalized_margin")
    expected = find_label_issues(labels, probs, filter_by="both", return_indices_ranked_by="normalized_margin")
    assert np.array_equal(issues.indices, expected)
    assert np.array_equal(issues.given_labels, labels[expected])
    assert np.array_equal(issues.suggested_labels, probs[expected].argmax(axis=1))
    assert (issues.suggested_labels != issues.given_labels).all()


# ------------------------------------------------------------------------------------------------
# Agreement with cleanlab
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4, 10])
@pytest.mark.parametrize("filter_by", FILTERS)
@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_cleanlab(seed: int, filter_by: FilterBy, k: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(1000, 2500))
    labels, probs, _ = noisy_problem(
        seed,
        k,
        n,
        noise=float(rng.uniform(0.05, 0.3)),
        margin=float(rng.uniform(1.0, 4.0)),
        drop_class=seed == 4 and k > 2,
    )
    ours = find_label_issues(labels, probs, filter_by=filter_by)
    joint = confident_joint(labels, probs)
    theirs_joint = cleanlab_confident_joint(labels, probs)
    # the calibrated joints can differ only where rounding met a tie: by at most one unit, same row totals
    assert np.abs(joint - theirs_joint).max() <= 1
    assert np.array_equal(joint.sum(axis=1), theirs_joint.sum(axis=1))
    theirs = cleanlab(labels, probs, filter_by=filter_by)
    assert jaccard(ours, theirs) >= 0.95
    if np.array_equal(joint, theirs_joint) or filter_by not in PRUNE_FILTERS:
        assert np.array_equal(ours, theirs)
    # given the same confident joint, the decisions are identical, ranked output included
    same_joint = {"confident_joint": joint} if filter_by in PRUNE_FILTERS else {}
    assert np.array_equal(ours, cleanlab(labels, probs, filter_by=filter_by, **same_joint))
    method = SCORE_METHODS[seed % len(SCORE_METHODS)]
    ranked = find_label_issues(labels, probs, filter_by=filter_by, return_indices_ranked_by=method)
    assert np.array_equal(
        ranked, cleanlab(labels, probs, filter_by=filter_by, return_indices_ranked_by=method, **same_joint)
    )


@pytest.mark.parametrize("filter_by", PRUNE_FILTERS)
@pytest.mark.parametrize(("frac_noise", "minimum"), [(0.5, 1), (1.0, 20), (0.3, 0), (0.8, 50)])
def test_prune_options_agree_with_cleanlab(filter_by: FilterBy, frac_noise: float, minimum: int) -> None:
    labels, probs, _ = noisy_problem(7, 5, 1500, noise=0.25)
    joint = confident_joint(labels, probs)
    ours = find_label_issues(labels, probs, filter_by=filter_by, frac_noise=frac_noise, min_examples_per_class=minimum)
    theirs = cleanlab(
        labels, probs, filter_by=filter_by, frac_noise=frac_noise, min_examples_per_class=minimum, confident_joint=joint
    )
    assert np.array_equal(ours, theirs)
    assert ours.sum() <= find_label_issues(labels, probs, filter_by=filter_by).sum()


def test_float32_probabilities_are_accepted_and_agree() -> None:
    labels, probs, _ = noisy_problem(3, 4, 2000)
    probs32 = probs.astype(np.float32)
    ours = find_label_issues(labels, probs32)
    assert jaccard(ours, cleanlab(labels, probs32)) >= 0.95
    assert jaccard(ours, find_label_issues(labels, probs)) >= 0.95


# ------------------------------------------------------------------------------------------------
# Invariants (hypothesis) and planted-noise recall
# ------------------------------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(2, 6))
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, draw(st.sampled_from([0.2, 1.0, 5.0]))), size=n)
    labels = rng.integers(0, draw(st.integers(1, k)), size=n)
    return labels, probs


@settings(max_examples=150, deadline=None)
@given(problems())
def test_invariants(problem: tuple[np.ndarray, np.ndarray]) -> None:
    labels, probs = problem
    n, k = probs.shape
    counts = np.bincount(labels, minlength=k)
    joint = confident_joint(labels, probs)
    assert joint.shape == (k, k) and (joint >= 0).all()
    assert np.array_equal(joint.sum(axis=1), counts)  # calibrated: row y holds the items labelled y
    masks = {f: find_label_issues(labels, probs, filter_by=f) for f in FILTERS}
    for mask in masks.values():
        assert mask.shape == (n,) and mask.dtype == bool
    assert not (masks["both"] & ~masks["prune_by_noise_rate"]).any()
    assert not (masks["both"] & ~masks["prune_by_class"]).any()
    assert masks["low_self_confidence"].sum() == masks["confident_learning"].sum()
    # outside the low_* filters the model never agrees with a flagged label
    guarded = masks["predicted_neq_given"] | masks["prune_by_noise_rate"] | masks["prune_by_class"]
    agrees = probs[np.arange(n), labels] + 1e-6 >= probs.max(axis=1)
    assert not (guarded & agrees).any()
    # the pruning filters leave every class at least min_examples_per_class items (1)
    kept = np.bincount(labels[~masks["prune_by_noise_rate"]], minlength=k)
    assert (kept >= np.minimum(counts, 1)).all()


def out_of_sample_probs(texts: list[str], labels: np.ndarray, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Cross-validated TF-IDF + logistic-regression probabilities (each item predicted by a model without it)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(C=10.0, max_iter=1000))
    with threadpool_limits(1):
        probs: np.ndarray = cross_val_predict(
            model, texts, labels, cv=StratifiedKFold(n_folds, shuffle=True, random_state=seed), method="predict_proba"
        )
    return probs


def test_planted_noise_is_found_on_well_separated_texts() -> None:
    # 5 topics x 100 texts of 40 words: half from the topic's own 60 words, half from 1,000 shared ones.
    rng = np.random.default_rng(42)
    k, per_class = 5, 100
    texts, true = [], []
    for topic in range(k):
        for _ in range(per_class):
            own = [f"t{topic}w{i}" for i in rng.integers(0, 60, 20)]
            shared = [f"s{i}" for i in rng.integers(0, 1000, 20)]
            words = own + shared
            rng.shuffle(words)
            texts.append(" ".join(words))
            true.append(topic)
    y = np.array(true)
    planted = rng.choice(y.size, size=y.size // 10, replace=False)
    noisy = y.copy()
    noisy[planted] = (y[planted] + rng.integers(1, k, planted.size)) % k
    is_planted = np.zeros(y.size, dtype=bool)
    is_planted[planted] = True

    probs = out_of_sample_probs(texts, noisy)
    mask = find_label_issues(noisy, probs)
    hits = int((mask & is_planted).sum())
    assert hits / is_planted.sum() >= 0.9  # recall
    assert hits / mask.sum() >= 0.9  # precision
    top = rank_label_issues(noisy, probs, top=25)
    assert is_planted[top.indices].all()  # the 25 worst-ranked are all planted errors
    assert (top.suggested_labels == y[top.indices]).all()  # and the suggestion is the true topic


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------

GOOD_LABELS = [0, 1, 1]
GOOD_PROBS = [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        (GOOD_LABELS, [0.9, 0.1, 0.5], "must be 2-D"),
        (GOOD_LABELS, np.ones((3, 2, 1)) / 2, "must be 2-D"),
        (GOOD_LABELS, [[0.9, 0.1], [0.2]], "pred_probs must be"),
        ([], np.empty((0, 2)), "no rows"),
        (GOOD_LABELS, [[1.0], [1.0], [1.0]], "at least 2 columns"),
        (GOOD_LABELS, [[0.9, 0.1], [np.nan, 0.8], [0.3, 0.7]], "NaN or infinite values in 1 row.*row 1"),
        (GOOD_LABELS, [[0.9, 0.1], [0.2, 0.8], [np.inf, 0.7]], "NaN or infinite.*row 2"),
        (GOOD_LABELS, [[1.1, -0.1], [0.2, 0.8], [0.3, 0.7]], "negative values.*row 0"),
        (GOOD_LABELS, [[0.9, 0.1], [0.2, 0.8], [3.0, 7.0]], r"sum to 1 .*row 2 sums to 10"),
        (GOOD_LABELS, [[0.9, 0.1], [0.2, 0.79], [0.3, 0.7]], r"within 0.001.*row 1 sums to 0.99"),
        (GOOD_LABELS, [["a", "b"]] * 3, "must hold numbers"),
        ([0, 1], GOOD_PROBS, "labels has 2 items but pred_probs has 3 rows"),
        ([[0], [1], [1]], GOOD_PROBS, "labels must be 1-D"),
        ([0, 2, 1], GOOD_PROBS, r"labels must be in 0\.\.1 .*item 1 has label 2"),
        ([0, -1, 1], GOOD_PROBS, "item 1 has label -1"),
        ([0, 1.5, 1], GOOD_PROBS, "labels must be integers"),
        (["a", "b", "b"], GOOD_PROBS, "labels must be integers"),
        ([True, False, True], GOOD_PROBS, "labels must be integers"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(labels: Any, probs: Any, message: str) -> None:
    for call in (
        lambda: find_label_issues(labels, probs),
        lambda: confident_joint(labels, probs),
        lambda: label_quality_scores(labels, probs),
        lambda: rank_label_issues(labels, probs),
    ):
        with pytest.raises(InvalidInputError, match=message):
            call()


def test_row_sum_tolerance_is_1e_3() -> None:
    inside = [[0.9, 0.1], [0.2, 0.8009], [0.3, 0.7]]
    assert find_label_issues(GOOD_LABELS, inside).shape == (3,)
    with pytest.raises(InvalidInputError, match=r"row 1 sums to 1\.0011"):
        find_label_issues(GOOD_LABELS, [[0.9, 0.1], [0.2, 0.8011], [0.3, 0.7]])
    assert find_label_issues([0.0, 1.0, 1.0], GOOD_PROBS).tolist() == [False, False, False]  # integral floats
    assert find_label_issues(np.array(GOOD_LABELS, dtype=np.uint8), np.array(GOOD_PROBS, dtype=np.float32)).shape == (
        3,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter_by": "prune"}, "filter_by must be one of prune_by_noise_rate"),
        ({"return_indices_ranked_by": "margin"}, "return_indices_ranked_by must be one of self_confidence"),
        ({"frac_noise": 0.0}, r"frac_noise must be a number in \(0, 1\]"),
        ({"frac_noise": 1.5}, "frac_noise"),
        ({"frac_noise": "1"}, "frac_noise"),
        ({"min_examples_per_class": -1}, "min_examples_per_class must be >= 0"),
        ({"min_examples_per_class": 1.5}, "min_examples_per_class must be an integer"),
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        find_label_issues(GOOD_LABELS, GOOD_PROBS, **kwargs)


def test_bad_rank_options_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="method must be one of"):
        label_quality_scores(GOOD_LABELS, GOOD_PROBS, method="entropy")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="rank_by must be one of"):
        rank_label_issues(GOOD_LABELS, GOOD_PROBS, rank_by="entropy")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="top must be a non-negative integer"):
        rank_label_issues(GOOD_LABELS, GOOD_PROBS, top=-1)
    with pytest.raises(InvalidInputError, match="filter_by must be one of"):
        rank_label_issues(GOOD_LABELS, GOOD_PROBS, filter_by="all")  # type: ignore[arg-type]
