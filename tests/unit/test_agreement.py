"""Unit tests for inter-annotator agreement (labelloop.quality.agreement).

Known answers come from the reference implementations (sklearn's ``cohen_kappa_score``,
statsmodels' ``fleiss_kappa``, the ``krippendorff`` package, nltk's MASI distance and
``AnnotationTask.alpha``), from Krippendorff's published worked example, and from a slow
textbook α written here (coincidence matrix built pair by pair, any distance function).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from labelloop.errors import InvalidInputError
from labelloop.quality.agreement import (
    PREFERENCE_ORDER,
    SpanMatch,
    SpanScores,
    Weights,
    bootstrap_ci,
    cohen_kappa,
    cohen_kappa_ci,
    fleiss_kappa,
    krippendorff_alpha,
    krippendorff_alpha_ci,
    krippendorff_alpha_ci_from_triples,
    krippendorff_alpha_from_columns,
    krippendorff_alpha_from_triples,
    krippendorff_alpha_sets,
    masi_distance,
    pairwise_agreement,
    pairwise_span_agreement,
    per_label_alpha,
    per_label_alpha_from_triples,
    preference_alpha,
    span_f1,
)

# Degenerate inputs must give nan quietly: any warning from this module fails the test (the
# reference helpers silence their own).
pytestmark = pytest.mark.filterwarnings("error")

LEVELS = ["nominal", "ordinal", "interval", "ratio"]
SEEDS = [0, 1, 2, 3]
TOL = 1e-9
HYPOTHESIS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12 units example
# (also in the krippendorff package's README); None = not coded.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
# The published values, to the three decimals the paper gives.
KRIPPENDORFF_2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


# ---------------------------------------------------------------------------------------------
# Reference helpers
# ---------------------------------------------------------------------------------------------


def ref_alpha(data: Any, level: Any, value_domain: Sequence[Any] | None = None) -> float | None:
    """The krippendorff package's α; None where it refuses the data (raises ValueError)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(
                krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=value_domain)
            )
    except ValueError:
        return None


def ref_kappa(a: Sequence[Any], b: Sequence[Any], weights: Weights = None, labels: Any = None) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(a, b, weights=weights, labels=labels))


def ref_fleiss(counts: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(sm_fleiss_kappa(counts, method="fleiss"))


def same(ours: float, reference: float | None) -> bool:
    """Equal to 1e-9, or both nan."""
    assert reference is not None
    if math.isnan(reference):
        return math.isnan(ours)
    return abs(ours - reference) <= 1e-9


def as_nan(data: Sequence[Sequence[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)


def as_none(data: np.ndarray) -> list[list[Any]]:
    return [[None if isinstance(v, float) and math.isnan(v) else v for v in row] for row in data.tolist()]


def random_reliability(seed: int, coders: int, units: int, n_values: int, missing: float) -> np.ndarray:
    """Coders x units of values 1..n_values that partly agree, NaN for missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, n_values + 1, size=units)
    data = np.where(rng.random((coders, units)) < 0.6, truth, rng.integers(1, n_values + 1, size=(coders, units)))
    out = data.astype(float)
    out[rng.random((coders, units)) < missing] = np.nan
    return out


def textbook_masi(a: frozenset[Any], b: frozenset[Any]) -> float:
    """Passonneau (2006): 1 - Jaccard x monotonicity (1 equal, 2/3 subset, 1/3 overlap, 0 disjoint)."""
    if a == b:
        return 0.0
    jaccard = len(a & b) / len(a | b)
    if a <= b or b <= a:
        monotonicity = 2 / 3
    elif a & b:
        monotonicity = 1 / 3
    else:
        monotonicity = 0.0
    return 1.0 - jaccard * monotonicity


Distance = Callable[[Any, Any, dict[Any, float]], float]


def slow_alpha(data: Sequence[Sequence[Any]], distance: Distance) -> float:
    """Krippendorff's α from the textbook: coincidences pair by pair, D_o and D_e, any distance.

    ``distance(c, k, n_c)`` gets the pairable marginals so the ordinal metric can be written too.
    """
    coincidences: dict[tuple[Any, Any], float] = defaultdict(float)
    for unit in range(len(data[0])):
        values = [row[unit] for row in data if row[unit] is not None]
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            coincidences[(values[i], values[j])] += 1.0 / (m - 1)
    totals: dict[Any, float] = defaultdict(float)
    for (c, _), weight in coincidences.items():
        totals[c] += weight
    n = sum(totals.values())
    observed = sum(weight * distance(c, k, totals) for (c, k), weight in coincidences.items()) / n
    expected = sum(totals[c] * totals[k] * distance(c, k, totals) for c in totals for k in totals) / (n * (n - 1))
    return 1.0 - observed / expected


def nominal_distance(c: Any, k: Any, _: dict[Any, float]) -> float:
    return float(c != k)


def interval_distance(c: Any, k: Any, _: dict[Any, float]) -> float:
    return float((c - k) ** 2)


def ratio_distance(c: Any, k: Any, _: dict[Any, float]) -> float:
    return float(((c - k) / (c + k)) ** 2) if c + k != 0 else 0.0


def ordinal_distance(c: Any, k: Any, totals: dict[Any, float]) -> float:
    low, high = min(c, k), max(c, k)
    between = sum(n for value, n in totals.items() if low <= value <= high)
    return (between - (totals[c] + totals[k]) / 2) ** 2


def masi_metric(c: Any, k: Any, _: dict[Any, float]) -> float:
    return textbook_masi(c, k)


SLOW_DISTANCES: dict[str, Distance] = {
    "nominal": nominal_distance,
    "ordinal": ordinal_distance,
    "interval": interval_distance,
    "ratio": ratio_distance,
}


def to_triples(data: Sequence[Sequence[Any]]) -> list[tuple[Any, Any, Any]]:
    return [(f"unit{u:03d}", f"coder{c}", row[u]) for c, row in enumerate(data) for u in range(len(row))]


def random_sets(seed: int, coders: int, units: int, missing: float = 0.2) -> list[list[frozenset[str] | None]]:
    rng = np.random.default_rng(seed)
    labels = ["red", "green", "blue", "cyan"]
    truth = [frozenset(label for label in labels if rng.random() < 0.4) for _ in range(units)]
    rows: list[list[frozenset[str] | None]] = []
    for _ in range(coders):
        row: list[frozenset[str] | None] = []
        for u in range(units):
            if rng.random() < missing:
                row.append(None)
            elif rng.random() < 0.5:
                row.append(truth[u])
            else:
                row.append(frozenset(label for label in labels if rng.random() < 0.4))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Cohen's kappa
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [5, 40, 500])
@pytest.mark.parametrize("n_labels", [2, 5])
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn_on_random_data(seed: int, n: int, n_labels: int, weights: Weights) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_labels, size=n) * 10  # spaced labels: weights use positions, not values
    b = np.where(rng.random(n) < 0.6, a, rng.integers(0, n_labels, size=n) * 10)
    a_missing: list[Any] = [None if rng.random() < 0.1 else int(v) for v in a]
    b_missing: list[Any] = [float("nan") if rng.random() < 0.1 else int(v) for v in b]
    keep = [i for i in range(n) if a_missing[i] is not None and not math.isnan(float(b_missing[i]))]
    expected = ref_kappa([a_missing[i] for i in keep], [b_missing[i] for i in keep], weights)
    assert same(cohen_kappa(a_missing, b_missing, weights), expected)
    assert same(cohen_kappa(a, b, weights), ref_kappa(list(a), list(b), weights))


@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_string_labels_and_explicit_order_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    order = ["low", "mid", "high", "top"]
    a = [order[i] for i in rng.integers(0, 4, size=60)]
    b = [x if rng.random() < 0.5 else order[rng.integers(0, 4)] for x in a]
    assert same(cohen_kappa(a, b), ref_kappa(a, b))
    for weights in ("linear", "quadratic"):
        assert same(cohen_kappa(a, b, weights, labels=order), ref_kappa(a, b, weights, labels=order))
    # an unused label still takes a position in the order
    wider = ["bottom", *order]
    assert same(cohen_kappa(a, b, "linear", labels=wider), ref_kappa(a, b, "linear", labels=wider))


def test_cohen_kappa_docstring_example() -> None:
    assert cohen_kappa(["x", "y", "x", None], ["x", "y", "y", "y"]) == pytest.approx(
        ref_kappa(["x", "y", "x"], ["x", "y", "y"]), abs=TOL
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param([1, 1, 1], [1, 1, 1], id="single-category"),
        pytest.param([0, 1, 0, 1], [0, 1, 0, 1], id="all-agree"),
        pytest.param([0, 1, 0, 1], [1, 0, 1, 0], id="all-differ"),
        pytest.param([0, 0], [1, 1], id="disjoint-constant"),
        pytest.param([0], [1], id="one-item-disagree"),
        pytest.param([0], [0], id="one-item-agree"),
    ],
)
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_edge_cases_match_sklearn(a: list[int], b: list[int], weights: Weights) -> None:
    assert same(cohen_kappa(a, b, weights), ref_kappa(a, b, weights))


def test_cohen_kappa_edge_case_values() -> None:
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    assert math.isnan(cohen_kappa(["x"] * 5, ["x"] * 5))


def test_cohen_kappa_empty_is_nan_where_sklearn_raises() -> None:
    with pytest.raises(ValueError):
        cohen_kappa_score([], [])
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa([None, 1], [2, None]))  # nothing left after dropping missing


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cohen_kappa([1, 2], [1]), "same items"),
        (lambda: cohen_kappa([1, 2], [1, 2], cast(Any, "cubic")), "weights"),
        (lambda: cohen_kappa(["a", "b"], ["a", "b"], "linear"), "ordered labels"),
        (lambda: cohen_kappa([1, 5], [1, 2], labels=[1, 2]), "not in labels"),
        (lambda: cohen_kappa([1, 2], [1, 2], labels=[1, 2, 1]), "twice"),
        (lambda: cohen_kappa(np.zeros((2, 2)), np.zeros((2, 2))), "one-dimensional"),
        (lambda: cohen_kappa("ab", "ab"), "not a string"),
    ],
)
def test_cohen_kappa_rejects_malformed_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


@HYPOTHESIS
@given(
    pairs=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40),
    weights=st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_is_symmetric(pairs: list[tuple[int, int]], weights: Weights) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    forward, backward = cohen_kappa(a, b, weights), cohen_kappa(b, a, weights)
    assert (math.isnan(forward) and math.isnan(backward)) or forward == pytest.approx(backward, abs=TOL)
    assert same(forward, ref_kappa(a, b, weights))


# ---------------------------------------------------------------------------------------------
# Fleiss' kappa
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("items", "raters", "categories"), [(5, 2, 2), (30, 3, 4), (200, 7, 5), (1, 4, 3)])
def test_fleiss_kappa_matches_statsmodels(seed: int, items: int, raters: int, categories: int) -> None:
    rng = np.random.default_rng(seed)
    counts = np.zeros((items, categories), dtype=int)
    for i in range(items):
        favourite = rng.integers(categories)
        choices = np.where(rng.random(raters) < 0.5, favourite, rng.integers(0, categories, size=raters))
        np.add.at(counts[i], choices, 1)
    assert same(fleiss_kappa(counts), ref_fleiss(counts))


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param([[3, 0], [3, 0]], id="single-category"),
        pytest.param([[3, 0], [0, 3]], id="all-agree"),
        pytest.param([[1, 1], [1, 1]], id="all-differ"),
        pytest.param([[1, 0], [0, 1]], id="one-rater-per-item"),
        pytest.param([[0, 0], [0, 0]], id="no-raters"),
        pytest.param([[2, 1]], id="one-item"),
    ],
)
def test_fleiss_kappa_edge_cases_match_statsmodels(counts: list[list[int]]) -> None:
    table = np.array(counts)
    assert same(fleiss_kappa(table), ref_fleiss(table))


def test_fleiss_kappa_edge_case_values() -> None:
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0
    assert fleiss_kappa([[1, 1], [1, 1]]) == -1.0
    assert math.isnan(fleiss_kappa([[3, 0], [3, 0]]))
    assert math.isnan(fleiss_kappa([[1, 0], [0, 1]]))


def test_fleiss_kappa_empty_is_nan_where_statsmodels_raises() -> None:
    with pytest.raises(ValueError):
        sm_fleiss_kappa(np.zeros((0, 3)))
    assert math.isnan(fleiss_kappa(np.zeros((0, 3))))


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([[2, 1], [1, 1]], "same number of raters"),
        ([[2, -1], [1, 0]], "non-negative whole"),
        ([[1.5, 0.5], [1, 1]], "non-negative whole"),
        ([1, 2, 3], "2-D"),
        ([["a", "b"]], "matrix of numbers"),
    ],
)
def test_fleiss_kappa_rejects_malformed_counts(counts: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        fleiss_kappa(counts)


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: against the krippendorff package
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("coders", "units", "n_values", "missing"),
    [(2, 10, 2, 0.0), (3, 50, 4, 0.2), (5, 200, 7, 0.4), (4, 30, 12, 0.5)],
)
def test_alpha_matches_krippendorff_on_random_data(
    seed: int, level: str, coders: int, units: int, n_values: int, missing: float
) -> None:
    data = random_reliability(seed, coders, units, n_values, missing)
    expected = ref_alpha(data, level)
    assert expected is not None
    assert same(krippendorff_alpha(data, level), expected)
    assert same(krippendorff_alpha(as_none(data), level), expected)  # lists with None, same answer


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_reproduces_krippendorff_2011_worked_example(level: str) -> None:
    ours = krippendorff_alpha(KRIPPENDORFF_2011, level)
    assert round(ours, 3) == KRIPPENDORFF_2011_ALPHA[level]
    assert same(ours, ref_alpha(as_nan(KRIPPENDORFF_2011), level))


def test_alpha_matches_krippendorff_readme_example() -> None:
    data = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.810845, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_string_values_nominal_and_ordinal_with_domain(seed: int) -> None:
    domain = ["very low", "low", "mid", "high", "very high"]
    codes = random_reliability(seed, 4, 40, 5, 0.25)
    ours = [[None if math.isnan(v) else domain[int(v) - 1] for v in row] for row in codes]
    theirs = np.array([[np.nan if math.isnan(v) else domain[int(v) - 1] for v in row] for row in codes])
    assert same(krippendorff_alpha(ours, "nominal"), ref_alpha(theirs, "nominal"))
    assert same(
        krippendorff_alpha(ours, "ordinal", value_domain=domain),
        ref_alpha(theirs, "ordinal", value_domain=domain),
    )


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_value_domain_with_unused_values_matches_krippendorff(level: str) -> None:
    data = random_reliability(7, 3, 40, 4, 0.2)
    domain = [0, 1, 2, 3, 4, 5, 6]
    assert same(krippendorff_alpha(data, level, value_domain=domain), ref_alpha(data, level, value_domain=domain))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([[1, 2, 3], [1, 2, 3]], id="all-agree"),
        pytest.param([[1, 2], [2, 1]], id="all-differ-two"),
        pytest.param([[1, 2, 3], [2, 3, 1]], id="all-differ-three"),
        pytest.param([[1, 1, None], [1, 1, 2]], id="single-pairable-value"),
        pytest.param([[1, -1], [-1, 1]], id="ratio-cancelling-values"),
        pytest.param([[1, 2, None, 4], [1, 3, 3, None], [None, 2, 3, 4]], id="mixed-missing"),
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_edge_cases_match_krippendorff(data: list[list[Any]], level: str) -> None:
    assert same(krippendorff_alpha(data, level), ref_alpha(as_nan(data), level))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([[1, 1], [1, 1]], id="single-value"),
        pytest.param([[1, None], [None, 2]], id="one-coder-per-unit"),
        pytest.param([[1, 2, 3]], id="one-coder"),
        pytest.param(np.zeros((3, 0)), id="no-units"),
        pytest.param(np.zeros((0, 0)), id="empty"),
        pytest.param([[None, None], [None, None]], id="all-missing"),
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_is_nan_where_krippendorff_refuses(data: Any, level: str) -> None:
    reference_input = data if isinstance(data, np.ndarray) else as_nan(data)
    with pytest.raises(ValueError):
        krippendorff.alpha(reliability_data=reference_input, level_of_measurement=cast(Any, level))
    assert math.isnan(krippendorff_alpha(data, level))


def test_alpha_edge_case_values() -> None:
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert krippendorff_alpha([[1, 2], [2, 1]]) == pytest.approx(-0.5, abs=TOL)
    assert math.isnan(krippendorff_alpha([[1, 1, None], [1, 1, 2]]))
    assert math.isnan(krippendorff_alpha([]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: krippendorff_alpha([[1, 2], [1]]), "ragged"),
        (lambda: krippendorff_alpha(np.zeros(3)), "2-D"),
        (lambda: krippendorff_alpha(np.zeros((2, 2, 2))), "2-D"),
        (lambda: krippendorff_alpha("abc"), "not a string"),
        (lambda: krippendorff_alpha([[1, 2]], "cardinal"), "level"),
        (lambda: krippendorff_alpha([["a", "b"], ["a", "b"]], "interval"), "numeric"),
        (lambda: krippendorff_alpha([["a", "b"], ["a", "b"]], "ordinal"), "value_domain"),
        (lambda: krippendorff_alpha([[1, 9], [1, 2]], "ordinal", value_domain=[1, 2]), "not in value_domain"),
        (lambda: krippendorff_alpha([[1, 2], [1, 2]], "ordinal", value_domain=[1, 2, 1]), "twice"),
        (lambda: krippendorff_alpha([["a"], ["b"]], "interval", value_domain=["a", "b"]), "numeric"),
        (lambda: krippendorff_alpha([[{1}], [{2}]], "masi", value_domain=[1]), "masi"),
        (lambda: krippendorff_alpha([[1], [2]], "masi"), "set"),
    ],
)
def test_alpha_rejects_malformed_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: properties
# ---------------------------------------------------------------------------------------------


@st.composite
def reliability_matrices(draw: st.DrawFn) -> list[list[int | None]]:
    coders = draw(st.integers(2, 4))
    units = draw(st.integers(1, 10))
    cell = st.one_of(st.none(), st.integers(1, 4))
    return [[draw(cell) for _ in range(units)] for _ in range(coders)]


@HYPOTHESIS
@given(data=reliability_matrices(), level=st.sampled_from(LEVELS), seed=st.integers(0, 2**16))
def test_alpha_is_invariant_to_coder_and_unit_order(data: list[list[int | None]], level: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = [data[i] for i in rng.permutation(len(data))]
    columns = rng.permutation(len(data[0]))
    shuffled = [[row[j] for j in columns] for row in rows]
    original, permuted = krippendorff_alpha(data, level), krippendorff_alpha(shuffled, level)
    assert (math.isnan(original) and math.isnan(permuted)) or original == pytest.approx(permuted, abs=TOL)
    reference = ref_alpha(as_nan(data), level)
    assert same(original, math.nan if reference is None else reference)


@HYPOTHESIS
@given(
    truth=st.lists(st.integers(1, 5), min_size=2, max_size=12).filter(lambda t: len(set(t)) >= 2),
    coders=st.integers(2, 4),
    level=st.sampled_from(LEVELS),
)
def test_alpha_of_perfect_agreement_is_one(truth: list[int], coders: int, level: str) -> None:
    assert krippendorff_alpha([truth] * coders, level) == 1.0


# ---------------------------------------------------------------------------------------------
# Krippendorff's alpha: slow textbook reference, MASI, sets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", LEVELS)
def test_slow_textbook_reference_agrees_with_krippendorff(seed: int, level: str) -> None:
    # the reference used below for MASI must first reproduce the package where both apply
    data = random_reliability(seed, 3, 25, 5, 0.2)
    assert same(slow_alpha(as_none(data), SLOW_DISTANCES[level]), ref_alpha(data, level))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({1, 2}, {1, 2}, 0.0),
        ({1, 2}, {1, 2, 3, 4}, 1 - 0.5 * 2 / 3),
        ({1, 2, 3}, {3, 4}, 1 - 0.25 / 3),
        ({1}, {2}, 1.0),
        (set(), set(), 0.0),
        (set(), {1}, 1.0),
    ],
)
def test_masi_distance_known_values(a: set[int], b: set[int], expected: float) -> None:
    assert masi_distance(a, b) == pytest.approx(expected, abs=TOL)
    assert masi_distance(b, a) == pytest.approx(expected, abs=TOL)


@HYPOTHESIS
@given(
    a=st.frozensets(st.integers(0, 6), min_size=1, max_size=5),
    b=st.frozensets(st.integers(0, 6), min_size=1, max_size=5),
)
def test_masi_distance_matches_nltk_and_textbook(a: frozenset[int], b: frozenset[int]) -> None:
    nltk_distance = pytest.importorskip("nltk.metrics.distance")
    assert masi_distance(a, b) == pytest.approx(textbook_masi(a, b), abs=TOL)
    assert masi_distance(a, b) == pytest.approx(nltk_distance.masi_distance(set(a), set(b)), abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("coders", "units"), [(2, 15), (3, 40), (5, 60)])
def test_masi_alpha_matches_textbook_reference_and_nltk(seed: int, coders: int, units: int) -> None:
    agreement_module = pytest.importorskip("nltk.metrics.agreement")
    data = random_sets(seed, coders, units)
    ours = krippendorff_alpha_sets(data)
    assert ours == pytest.approx(slow_alpha(data, masi_metric), abs=TOL)
    task = agreement_module.AnnotationTask(
        data=[(c, u, cell) for c, row in enumerate(data) for u, cell in enumerate(row) if cell is not None],
        distance=textbook_masi,
    )
    assert ours == pytest.approx(task.alpha(), abs=TOL)
    assert krippendorff_alpha(data, "masi") == ours


def test_masi_alpha_accepts_lists_and_empty_sets() -> None:
    as_sets: list[list[frozenset[str] | None]] = [
        [frozenset({"a"}), frozenset(), frozenset({"a", "b"})],
        [frozenset({"a"}), frozenset({"b"}), None],
    ]
    as_lists = [[["a"], [], ["b", "a"]], [("a",), ["b"], None]]
    assert krippendorff_alpha_sets(as_lists) == krippendorff_alpha_sets(as_sets)
    assert krippendorff_alpha_sets(as_sets) == pytest.approx(slow_alpha(as_sets, masi_metric), abs=TOL)


def test_masi_alpha_of_identical_sets_is_one_and_single_set_is_nan() -> None:
    data = [[frozenset({1}), frozenset({1, 2})], [frozenset({1}), frozenset({1, 2})]]
    assert krippendorff_alpha_sets(data) == 1.0
    assert math.isnan(krippendorff_alpha_sets([[frozenset({1})] * 3] * 2))


@pytest.mark.parametrize("seed", SEEDS)
def test_per_label_alpha_is_binary_nominal_alpha_per_label(seed: int) -> None:
    data = random_sets(seed, 3, 50)
    result = per_label_alpha(data)
    assert list(result) == sorted({label for row in data for cell in row if cell for label in cell})
    for label, value in result.items():
        binary = np.array([[np.nan if cell is None else float(label in cell) for cell in row] for row in data])
        assert same(value, ref_alpha(binary, "nominal"))
    triples = to_triples(data)
    assert per_label_alpha_from_triples(triples) == pytest.approx(result, abs=TOL)


def test_per_label_alpha_reports_requested_labels_and_nan_for_unused() -> None:
    data = [[{"a"}, {"a", "b"}, set()], [{"a"}, {"b"}, {"b"}]]
    result = per_label_alpha(data, labels=["b", "zzz", "a"])
    assert list(result) == ["b", "zzz", "a"]
    assert math.isnan(result["zzz"])
    assert same(result["a"], ref_alpha(np.array([[1.0, 1, 0], [1, 0, 0]]), "nominal"))
    assert same(result["b"], ref_alpha(np.array([[0.0, 1, 0], [0, 1, 1]]), "nominal"))
    # a label in every pairable set has no variation: undefined, like any single-value α
    assert math.isnan(per_label_alpha([[{"a"}, {"a", "b"}], [{"a"}, {"a"}]])["a"])


# ---------------------------------------------------------------------------------------------
# Triples and columns
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_from_triples_equals_dense(seed: int, level: str) -> None:
    data = random_reliability(seed, 4, 60, 5, 0.3)
    triples = to_triples(as_none(data))
    rng = np.random.default_rng(seed)
    shuffled = [triples[i] for i in rng.permutation(len(triples))]
    dense = krippendorff_alpha(data, level)
    assert krippendorff_alpha_from_triples(shuffled, level) == pytest.approx(dense, abs=TOL)
    units, coders, values = zip(*shuffled, strict=True)
    assert krippendorff_alpha_from_columns(units, coders, values, level) == pytest.approx(dense, abs=TOL)
    numeric = np.array([(u, c, v) for c, row in enumerate(data) for u, v in enumerate(row)], dtype=float)
    assert krippendorff_alpha_from_triples(numeric, level) == pytest.approx(dense, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_sets_from_triples_equals_dense(seed: int) -> None:
    data = random_sets(seed, 3, 40)
    assert krippendorff_alpha_from_triples(to_triples(data), "masi") == pytest.approx(
        krippendorff_alpha_sets(data), abs=TOL
    )


def test_alpha_from_triples_edge_cases() -> None:
    assert math.isnan(krippendorff_alpha_from_triples([]))
    assert math.isnan(krippendorff_alpha_from_triples([("u1", "a", 1), ("u2", "a", 2)]))  # nothing pairable
    assert math.isnan(krippendorff_alpha_from_triples([("u1", "a", 1), ("u1", "b", 1)]))  # one value
    # a missing value is no annotation, so a second coder's real value does not collide with it
    triples = [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 2), ("u2", "b", 2), ("u2", "b", None)]
    assert krippendorff_alpha_from_triples(triples) == pytest.approx(krippendorff_alpha([[1, 2], [2, 2]]), abs=TOL)


@pytest.mark.parametrize(
    ("triples", "message"),
    [
        ([("u1", "a", 1), ("u1", "a", 2)], "more than one value"),
        ([("u1", "a", 1), ("u1", "b")], "unit_id, coder_id, value"),
        ([1, 2, 3], "sequence"),
        (np.zeros((3, 2)), "shape"),
    ],
)
def test_alpha_from_triples_rejects_malformed_input(triples: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        krippendorff_alpha_from_triples(triples)


def test_alpha_from_columns_rejects_unequal_lengths() -> None:
    with pytest.raises(InvalidInputError, match="length"):
        krippendorff_alpha_from_columns([1, 2], ["a", "b"], [1])


def test_alpha_from_a_million_triples_is_fast() -> None:
    rng = np.random.default_rng(0)
    units = 333_334
    truth = rng.integers(0, 5, size=units)
    values = np.concatenate([np.where(rng.random(units) < 0.7, truth, rng.integers(0, 5, units)) for _ in range(3)])
    unit_ids = np.tile(np.arange(units), 3)
    coder_ids = np.repeat(np.arange(3), units)
    started = time.perf_counter()
    fast = krippendorff_alpha_from_columns(unit_ids, coder_ids, values, "nominal")
    elapsed = time.perf_counter() - started
    # a per-unit Python loop takes tens of seconds here; the generous bound tolerates loaded machines
    assert elapsed < 10.0
    assert fast == pytest.approx(krippendorff_alpha(values.reshape(3, units).astype(float)), abs=TOL)


# ---------------------------------------------------------------------------------------------
# Pairwise preference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_preference_alpha_matches_krippendorff(seed: int) -> None:
    codes = random_reliability(seed, 3, 40, 3, 0.2)
    ours = [[None if math.isnan(v) else PREFERENCE_ORDER[int(v) - 1] for v in row] for row in codes]
    theirs = np.array([[np.nan if math.isnan(v) else PREFERENCE_ORDER[int(v) - 1] for v in row] for row in codes])
    assert same(preference_alpha(ours, "nominal"), ref_alpha(theirs, "nominal"))
    assert same(preference_alpha(ours, "ordinal"), ref_alpha(theirs, "ordinal", value_domain=list(PREFERENCE_ORDER)))


def test_preference_ordinal_treats_a_tie_as_a_smaller_disagreement() -> None:
    agreed = ["a", "b", "tie", "a", "b", "tie"]

    def with_last(first: str, second: str) -> list[list[str]]:
        return [[*agreed, first], [*agreed, second]]

    near, far = with_last("b", "tie"), with_last("b", "a")
    assert preference_alpha(near, "ordinal") > preference_alpha(far, "ordinal")
    assert preference_alpha(near, "ordinal") > preference_alpha(near, "nominal")


def test_preference_alpha_rejects_other_answers_and_levels() -> None:
    with pytest.raises(InvalidInputError, match="not in value_domain"):
        preference_alpha([["a", "left"], ["a", "b"]])
    with pytest.raises(InvalidInputError, match="level"):
        preference_alpha([["a", "b"], ["a", "b"]], "interval")


# ---------------------------------------------------------------------------------------------
# Bootstrap intervals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_ci_equals_generic_bootstrap_and_contains_estimate(level: str) -> None:
    data = random_reliability(11, 3, 150, 5, 0.0)
    fast = krippendorff_alpha_ci(data, level, n_boot=200, seed=5)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, level), data, n_boot=200, level=0.95, seed=5, axis=1)
    assert fast == pytest.approx(slow, abs=TOL)
    assert fast.low < fast.estimate < fast.high
    assert fast.estimate == pytest.approx(krippendorff_alpha(data, level), abs=TOL)


def test_alpha_ci_equals_generic_bootstrap_for_masi_and_wide_ordinal() -> None:
    sets = np.empty((3, 80), dtype=object)
    sets[:] = [[cell if cell is not None else frozenset() for cell in row] for row in random_sets(3, 3, 80)]
    fast = krippendorff_alpha_ci(sets, "masi", n_boot=100, seed=1)
    slow = bootstrap_ci(krippendorff_alpha_sets, sets, n_boot=100, seed=1, axis=1)
    assert fast == pytest.approx(slow, abs=TOL)
    # more than 16 ordinal values takes the per-unit path instead of the summed coincidences
    wide = random_reliability(4, 3, 120, 30, 0.0)
    fast = krippendorff_alpha_ci(wide, "ordinal", n_boot=100, seed=2)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, "ordinal"), wide, n_boot=100, seed=2, axis=1)
    assert fast == pytest.approx(slow, abs=TOL)


def test_alpha_ci_is_deterministic_and_seed_dependent() -> None:
    data = random_reliability(3, 3, 300, 4, 0.2)
    first = krippendorff_alpha_ci(data, "ordinal", n_boot=300, seed=42)
    assert krippendorff_alpha_ci(data, "ordinal", n_boot=300, seed=42) == first
    assert krippendorff_alpha_ci(data, "ordinal", n_boot=300, seed=43) != first
    narrow = krippendorff_alpha_ci(data, "ordinal", n_boot=300, seed=42, confidence=0.5)
    assert first.low < narrow.low < first.estimate < narrow.high < first.high


def test_alpha_ci_from_triples_equals_dense() -> None:
    data = random_reliability(8, 3, 100, 4, 0.3)
    triples = [(u, c, v) for c, row in enumerate(as_none(data)) for u, v in enumerate(row)]
    assert krippendorff_alpha_ci_from_triples(triples, "interval", n_boot=100, seed=3) == pytest.approx(
        krippendorff_alpha_ci(data, "interval", n_boot=100, seed=3), abs=TOL
    )


def test_alpha_ci_undefined_alpha_gives_nan_bounds() -> None:
    ci = krippendorff_alpha_ci([[1, 1, 1], [1, 1, 1]], n_boot=10)
    assert all(math.isnan(v) for v in ci)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_ci_equals_generic_bootstrap_and_contains_estimate(weights: Weights) -> None:
    rng = np.random.default_rng(9)
    a = rng.integers(0, 4, size=400)
    b = np.where(rng.random(400) < 0.6, a, rng.integers(0, 4, size=400))
    fast = cohen_kappa_ci(a, b, weights, n_boot=300, seed=7)
    pairs = np.stack([a, b], axis=1)
    slow = bootstrap_ci(lambda p: cohen_kappa(p[:, 0], p[:, 1], weights), pairs, n_boot=300, seed=7)
    assert fast == pytest.approx(slow, abs=TOL)
    assert fast.low < fast.estimate < fast.high
    assert cohen_kappa_ci(a, b, weights, n_boot=300, seed=7) == fast


def test_bootstrap_of_ten_thousand_units_is_fast() -> None:
    data = random_reliability(0, 3, 10_000, 5, 0.1)
    started = time.perf_counter()
    ci = krippendorff_alpha_ci(data, "nominal", n_boot=1000, seed=0)
    elapsed = time.perf_counter() - started
    assert ci.low < ci.estimate < ci.high
    # a loop calling α per replicate takes ~10 s here; the bound leaves room for a loaded machine
    assert elapsed < 5.0


def test_bootstrap_ci_over_a_plain_sequence() -> None:
    ci = bootstrap_ci(lambda xs: float(np.mean(xs)), [1.0, 2.0, 3.0, 4.0], n_boot=200, level=0.9, seed=1)
    assert ci.estimate == 2.5
    assert 1.0 <= ci.low < 2.5 < ci.high <= 4.0
    assert bootstrap_ci(lambda xs: float(np.mean(xs)), [1.0, 2.0, 3.0, 4.0], n_boot=200, level=0.9, seed=1) == ci


def test_bootstrap_ci_is_the_percentile_interval_of_the_documented_resamples() -> None:
    values = np.random.default_rng(5).normal(size=50)
    rng = np.random.default_rng(3)
    replicates = [float(np.mean(values[rng.integers(0, 50, size=50)])) for _ in range(400)]
    low, high = np.quantile(replicates, [0.05, 0.95])
    ci = bootstrap_ci(lambda xs: float(np.mean(xs)), values, n_boot=400, level=0.9, seed=3)
    assert ci == pytest.approx((float(np.mean(values)), low, high), abs=TOL)


def test_bootstrap_ci_leaves_out_undefined_replicates() -> None:
    data = np.array([[1, 2, 2, 2, 2, 2], [1, 2, 2, 2, 2, 2]], dtype=float)  # some resamples lack the 1
    fast = krippendorff_alpha_ci(data, n_boot=200, seed=0)
    slow = bootstrap_ci(krippendorff_alpha, data, n_boot=200, seed=0, axis=1)
    assert fast == slow == (1.0, 1.0, 1.0)
    # a resample of the first unit only holds one value (0.1 x 6): undefined and left out, as in the
    # generic bootstrap, although 0.1 rounds to a tiny non-zero expected disagreement there
    single = np.array([[0.1, 0.1], [0.1, 2.0], [0.1, 0.1]])
    fast = krippendorff_alpha_ci(single, "interval", n_boot=200, seed=0)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, "interval"), single, n_boot=200, seed=0, axis=1)
    assert fast == pytest.approx(slow, abs=TOL)
    assert math.isnan(bootstrap_ci(lambda _: math.nan, [1, 2], n_boot=5).low)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: krippendorff_alpha_ci([[1, 2], [1, 2]], confidence=1.0), "between 0 and 1"),
        (lambda: cohen_kappa_ci([1, 2], [1, 2], n_boot=0), "n_boot"),
        (lambda: bootstrap_ci(len, [1, 2], axis=1), "axis"),
        (lambda: bootstrap_ci(len, np.zeros(3), axis=2), "axis"),
    ],
)
def test_bootstrap_rejects_bad_parameters(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Pairwise agreement table
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_pairwise_agreement_matches_kappa_on_shared_units(seed: int) -> None:
    data = random_reliability(seed, 4, 80, 3, 0.4)
    rows = as_none(data)
    triples = to_triples(rows)
    result = pairwise_agreement(triples)
    expected_pairs = []
    for i, j in itertools.combinations(range(4), 2):
        shared = [u for u in range(80) if rows[i][u] is not None and rows[j][u] is not None]
        if not shared:
            continue
        a, b = [rows[i][u] for u in shared], [rows[j][u] for u in shared]
        expected_pairs.append((f"coder{i}", f"coder{j}", len(shared), np.mean(np.array(a) == np.array(b)), a, b))
    assert [(p.coder_a, p.coder_b) for p in result] == [(e[0], e[1]) for e in expected_pairs]
    for pair, (_, _, n_shared, observed, a, b) in zip(result, expected_pairs, strict=True):
        assert pair.n_shared == n_shared
        assert pair.observed_agreement == pytest.approx(observed, abs=TOL)
        assert same(pair.kappa, ref_kappa(a, b))


def test_pairwise_agreement_edge_cases() -> None:
    triples = [("u1", "ann", "x"), ("u1", "bob", "x"), ("u2", "ann", "x"), ("u2", "bob", "x"), ("u3", "cid", "y")]
    (pair,) = pairwise_agreement(triples)
    assert (pair.coder_a, pair.coder_b, pair.n_shared, pair.observed_agreement) == ("ann", "bob", 2, 1.0)
    assert math.isnan(pair.kappa)  # one category throughout, as sklearn
    assert pairwise_agreement([]) == []
    with pytest.raises(InvalidInputError, match="more than one value"):
        pairwise_agreement([("u1", "ann", "x"), ("u1", "ann", "y")])


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------


def test_span_f1_exact_versus_overlap() -> None:
    a = [[(0, 5, "PER"), (10, 12, "LOC")], [(3, 8, "ORG")]]
    b = [[(0, 5, "PER"), (9, 12, "LOC")], [(20, 25, "ORG")]]
    exact = span_f1(a, b, match="exact")
    assert exact.overall == SpanScores.of(1, 2, 2)
    assert exact.f1 == pytest.approx(1 / 3)
    assert exact.per_label["PER"].f1 == 1.0
    assert exact.per_label["LOC"].f1 == 0.0
    overlap = span_f1(a, b, match="overlap")
    assert overlap.overall == SpanScores.of(2, 1, 1)
    assert overlap.per_label["LOC"].f1 == 1.0
    assert overlap.per_label["ORG"].f1 == 0.0
    assert list(overlap.per_label) == ["LOC", "ORG", "PER"]


def test_span_f1_needs_the_same_label_and_touching_is_not_overlap() -> None:
    assert span_f1([[(0, 5, "PER")]], [[(0, 5, "LOC")]], match="overlap").f1 == 0.0
    assert span_f1([[(0, 5, "PER")]], [[(5, 9, "PER")]], match="overlap").f1 == 0.0
    assert span_f1([[(0, 5, "PER")]], [[(4, 9, "PER")]], match="overlap").f1 == 1.0


def test_span_f1_matches_one_to_one() -> None:
    long_span, two_short = [[(0, 10, "X")]], [[(0, 3, "X"), (5, 8, "X")]]
    result = span_f1(long_span, two_short, match="overlap")
    assert (result.overall.tp, result.overall.fp, result.overall.fn) == (1, 1, 0)
    # a greedy first-come pairing would match a1-b1 and strand a2; the largest matching pairs both
    a = [[(0, 10, "X"), (9, 11, "X")]]
    b = [[(8, 12, "X"), (0, 3, "X")]]
    assert span_f1(a, b, match="overlap").overall.tp == 2
    # duplicates pair once each in exact mode
    assert span_f1([[(0, 2, "X"), (0, 2, "X")]], [[(0, 2, "X")]]).overall == SpanScores.of(1, 0, 1)


def test_span_f1_empty_sides() -> None:
    none = span_f1([[], []], [[], []])
    assert math.isnan(none.f1) and math.isnan(none.precision) and math.isnan(none.recall)
    one_sided = span_f1([[(0, 1, "X")]], [[]])
    assert one_sided.f1 == 0.0 and one_sided.recall == 0.0 and math.isnan(one_sided.precision)


@HYPOTHESIS
@given(
    data=st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 20), st.integers(1, 6), st.sampled_from("AB")), max_size=4),
            st.lists(st.tuples(st.integers(0, 20), st.integers(1, 6), st.sampled_from("AB")), max_size=4),
        ),
        min_size=1,
        max_size=5,
    ),
    match=st.sampled_from(["exact", "overlap"]),
)
def test_span_f1_is_symmetric_and_overlap_dominates_exact(
    data: list[tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]], match: SpanMatch
) -> None:
    a = [[(s, s + w, label) for s, w, label in item_a] for item_a, _ in data]
    b = [[(s, s + w, label) for s, w, label in item_b] for _, item_b in data]
    forward, backward = span_f1(a, b, match=match), span_f1(b, a, match=match)
    assert forward.overall.tp == backward.overall.tp
    assert (forward.overall.fp, forward.overall.fn) == (backward.overall.fn, backward.overall.fp)
    assert span_f1(a, b, match="overlap").overall.tp >= span_f1(a, b, match="exact").overall.tp
    assert span_f1(a, a, match=match).overall.fp == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: span_f1([[(5, 5, "X")]], [[]]), "end > start"),
        (lambda: span_f1([[(1.5, 3, "X")]], [[]]), "integer offsets"),
        (lambda: span_f1([[(1, 3)]], [[]]), "start, end, label"),
        (lambda: span_f1([[]], [[], []]), "same items"),
        (lambda: span_f1([[]], [[]], match=cast(Any, "fuzzy")), "match"),
    ],
)
def test_span_f1_rejects_malformed_spans(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_pairwise_span_agreement_over_annotators_sharing_items() -> None:
    annotations: dict[str, dict[Hashable, list[tuple[int, int, str]]]] = {
        "ann": {1: [(0, 5, "PER")], 2: [(0, 3, "LOC")], 3: []},
        "bob": {1: [(0, 5, "PER")], 2: [(1, 3, "LOC")]},
        "cid": {3: [(2, 4, "PER")]},
        "dan": {9: [(0, 1, "PER")]},  # shares nothing with anyone
    }
    result = pairwise_span_agreement(annotations, match="exact")
    assert [(p.annotator_a, p.annotator_b) for p in result.pairs] == [("ann", "bob"), ("ann", "cid")]
    ann_bob = span_f1([[(0, 5, "PER")], [(0, 3, "LOC")]], [[(0, 5, "PER")], [(1, 3, "LOC")]])
    ann_cid = span_f1([[]], [[(2, 4, "PER")]])
    assert result.pairs[0].agreement == ann_bob
    assert result.pairs[1].agreement == ann_cid
    assert result.f1 == pytest.approx((ann_bob.f1 + ann_cid.f1) / 2)
    assert result.per_label == pytest.approx({"LOC": 0.0, "PER": 0.5})
    overlap = pairwise_span_agreement(annotations, match="overlap")
    assert overlap.per_label["LOC"] == 1.0


def test_pairwise_span_agreement_without_shared_items_is_nan() -> None:
    result = pairwise_span_agreement({"ann": {1: [(0, 1, "X")]}, "bob": {2: [(0, 1, "X")]}})
    assert result.pairs == [] and math.isnan(result.f1) and result.per_label == {}
