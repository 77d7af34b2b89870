"""Unit tests for label aggregation: majority vote, weighted votes, Dawid-Skene (labelloop.quality.aggregation)."""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InvalidInputError
from labelloop.quality.aggregation import (
    AggregationInput,
    DawidSkene,
    DawidSkeneResult,
    MajorityVote,
    VoteResult,
    dawid_skene,
    gold_weighted_vote,
    majority_vote,
    weighted_vote,
)

Triples = list[tuple[Hashable, Hashable, Hashable]]

# ------------------------------------------------------------------------------------------------
# Simulated crowds and an independent, loop-based Dawid-Skene used as the reference
# ------------------------------------------------------------------------------------------------


def simulate(
    seed: int,
    n_items: int,
    kinds: Sequence[str],
    *,
    k: int = 3,
    per_item: int = 5,
    priors: Sequence[float] | None = None,
) -> tuple[AggregationInput, np.ndarray, np.ndarray]:
    """A crowd of annotators of the given kinds; returns (input, true label per item code, true confusions).

    Kinds: "good" (accuracy ~.85) and "ok" (~.65) with random error rows, "spammer" (90% one class
    whatever the truth), "swapper" (90% the next class: systematically wrong), "swap01" (swaps classes
    0 and 1, 85%), "coin" (one-coin, accuracy .75, errors uniform). Items are 0..n_items-1, each
    labelled by ``per_item`` distinct annotators.
    """
    rng = np.random.default_rng(seed)
    p = np.full(k, 1 / k) if priors is None else np.asarray(priors)
    matrices = []
    for kind in kinds:
        m = np.empty((k, k))
        if kind == "spammer":
            m[:] = 0.1 / (k - 1)
            m[:, rng.integers(k)] = 0.9
        elif kind == "swapper":
            m[:] = 0.1 / (k - 1)
            m[np.arange(k), np.roll(np.arange(k), 1)] = 0.9
        elif kind == "swap01":
            target = np.arange(k)
            target[[0, 1]] = [1, 0]
            m[:] = 0.15 / (k - 1)
            m[np.arange(k), target] = 0.85
        elif kind == "coin":
            m[:] = 0.25 / (k - 1)
            np.fill_diagonal(m, 0.75)
        else:
            accuracy = {"good": 0.85, "ok": 0.65}[kind]
            for true in range(k):
                a = rng.uniform(accuracy - 0.05, accuracy + 0.05)
                m[true] = (1 - a) * rng.dirichlet(np.ones(k))
                m[true, true] += a
        matrices.append(m / m.sum(axis=1, keepdims=True))
    confusion = np.stack(matrices)
    truth = rng.choice(k, size=n_items, p=p)
    who = np.argsort(rng.random((n_items, len(kinds))), axis=1)[:, :per_item]
    cumulative = confusion.cumsum(axis=2)[who, truth[:, None]]
    labels = np.minimum((rng.random((n_items, per_item, 1)) > cumulative).sum(axis=2), k - 1)
    inp = AggregationInput.from_arrays(
        np.repeat(np.arange(n_items), per_item), who.reshape(-1), labels.reshape(-1), classes=list(range(k))
    )
    return inp, truth, confusion


def reference_dawid_skene(
    inp: AggregationInput,
    n_iter: int,
    smoothing: float,
    gold: dict[int, int] | None = None,
    one_coin: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Plain loops over annotations, log domain: (posteriors, confusions, priors, log-likelihoods)."""
    n_items, n_annotators, k = inp.n_items, inp.n_annotators, inp.n_classes
    rows = list(zip(inp.item_index.tolist(), inp.annotator_index.tolist(), inp.label_index.tolist(), strict=True))
    post = np.zeros((n_items, k))
    for i, _, y in rows:
        post[i, y] += 1
    post /= post.sum(axis=1, keepdims=True)
    gold = gold or {}
    for i, c in gold.items():
        post[i] = np.eye(k)[c]
    history = []
    for _ in range(n_iter):
        counts = np.zeros((n_annotators, k, k))
        for i, w, y in rows:
            counts[w, :, y] += post[i]
        priors = (post.sum(axis=0) + smoothing) / (n_items + k * smoothing)
        if one_coin:
            accuracy = (np.einsum("wkk->w", counts) + smoothing) / (counts.sum(axis=(1, 2)) + k * smoothing)
            confusion = np.empty_like(counts)
            for w in range(n_annotators):
                confusion[w] = (1 - accuracy[w]) / (k - 1)
                np.fill_diagonal(confusion[w], accuracy[w])
        else:
            confusion = (counts + smoothing) / (counts.sum(axis=2, keepdims=True) + k * smoothing)
        log_joint = np.tile(np.log(priors), (n_items, 1))
        for i, w, y in rows:
            log_joint[i] += np.log(confusion[w, :, y])
        top = log_joint.max(axis=1, keepdims=True)
        total = np.exp(log_joint - top).sum(axis=1, keepdims=True)
        item_ll = (top + np.log(total))[:, 0]
        post = np.exp(log_joint - top) / total
        for i, c in gold.items():
            item_ll[i] = log_joint[i, c]
            post[i] = np.eye(k)[c]
        history.append(float(item_ll.sum()))
    return post, confusion, priors, history


def accuracy(result: VoteResult | DawidSkeneResult, truth: np.ndarray, skip: set[int] | None = None) -> float:
    """Accuracy over items that are the codes 0..n-1 of ``simulate`` (whose items are sorted ints)."""
    keep = np.ones(truth.shape[0], dtype=bool)
    if skip:
        keep[list(skip)] = False
    return float((result.label_index[keep] == truth[keep]).mean())


CROWD = ["good"] * 8 + ["ok"] * 8 + ["spammer"] * 4


# ------------------------------------------------------------------------------------------------
# Input encoding
# ------------------------------------------------------------------------------------------------


def test_input_paths_agree_and_sort_keys() -> None:
    triples: Triples = [("b", 2, "dog"), ("a", 1, "cat"), ("b", 1, "cat"), ("c", 3, "dog")]
    items, annotators, labels = (list(x) for x in zip(*triples, strict=True))
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")
    columns = {"item": items, "annotator": annotators, "label": labels}
    encoded = [
        AggregationInput.from_triples(triples),
        AggregationInput.from_arrays(np.array(items), np.array(annotators), np.array(labels)),
        AggregationInput.from_arrays(items, annotators, labels),
        AggregationInput.from_table(columns),
        AggregationInput.from_table(pandas.DataFrame(columns)),
        AggregationInput.from_table(pyarrow.table(columns)),
        AggregationInput.from_table(
            pandas.DataFrame({"task": items, "worker": annotators, "label": labels}), item="task", annotator="worker"
        ),
    ]
    for inp in encoded:
        assert inp.items == ("a", "b", "c")
        assert inp.annotators == (1, 2, 3)
        assert inp.classes == ("cat", "dog")
        assert inp.item_index.tolist() == [1, 0, 1, 2]
        assert inp.annotator_index.tolist() == [1, 0, 0, 2]
        assert inp.label_index.tolist() == [1, 0, 0, 1]
        assert (inp.n_annotations, inp.n_items, inp.n_annotators, inp.n_classes) == (4, 3, 3, 2)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([10**12, 5, 10**12], (5, 10**12)),  # sparse ints: the sort path
        ([7, 3, 7, 4], (3, 4, 7)),  # dense ints: the bincount path
        ([2.5, -1.0, 2.5], (-1.0, 2.5)),
        ([True, False, True], (False, True)),
        (["b", "a", "b"], ("a", "b")),
        (np.array(["b", 1, "b"], dtype=object), ("b", 1)),  # not comparable: first-appearance order
    ],
)
def test_factorized_keys(ids: Any, expected: tuple[Any, ...]) -> None:
    inp = AggregationInput.from_arrays(ids, [0] * len(ids), ["x"] * len(ids))
    assert inp.items == expected
    assert [inp.items[c] for c in inp.item_index.tolist()] == list(ids)


def test_explicit_classes_fix_order_and_add_unused_classes() -> None:
    inp = AggregationInput.from_triples([(1, "a", "dog"), (2, "a", "cat")], classes=["dog", "cat", "bird"])
    assert inp.classes == ("dog", "cat", "bird")
    assert inp.label_index.tolist() == [0, 1]
    result = dawid_skene(inp)
    assert result.confusion_array.shape == (1, 3, 3)
    assert result.posterior_array.shape == (2, 3)


@pytest.mark.parametrize(
    "triples",
    [
        [(1, "a", None)],
        [(None, "a", "x")],
        [(1, None, "x")],
        [(1, "a", float("nan"))],
        [(1, "a", ["unhashable"])],
        [(1, {"a": 1}, "x")],
        [(1, "a")],
        [(1, "a", "x", "extra")],
        [5],
        ["ab"],
        ["abc"],  # a string is not a triple
        [{1, 2, 3}],  # nor is a set
    ],
)
@pytest.mark.parametrize("aggregate", [majority_vote, dawid_skene])
def test_bad_triples_are_invalid_input(triples: list[Any], aggregate: Any) -> None:
    with pytest.raises(InvalidInputError):
        aggregate([(0, "ok", "x"), *triples])


@pytest.mark.parametrize(
    ("items", "annotators", "labels"),
    [
        (np.array([1, 2]), np.array([1, 2]), np.array([0.0, np.nan])),
        (np.array([1, 2]), np.array([1]), np.array([0, 1])),
        (np.array([[1, 2]]), np.array([1, 2]), np.array([0, 1])),
        (np.array([1, 2]), np.array([1, 2]), np.array([0, None], dtype=object)),
        (np.array([1, 2]), np.array([1, 2]), np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")),
    ],
)
def test_bad_arrays_are_invalid_input(items: Any, annotators: Any, labels: Any) -> None:
    with pytest.raises(InvalidInputError):
        AggregationInput.from_arrays(items, annotators, labels)


def test_bad_classes_tables_and_codes_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="not in classes"):
        AggregationInput.from_triples([(1, "a", "x")], classes=["y"])
    with pytest.raises(InvalidInputError, match="distinct"):
        AggregationInput.from_triples([(1, "a", "x")], classes=["x", "x"])
    with pytest.raises(InvalidInputError):
        AggregationInput.from_triples([(1, "a", "x")], classes="x")
    with pytest.raises(InvalidInputError, match="no column"):
        AggregationInput.from_table({"item": [1], "annotator": [1]})
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(InvalidInputError, match="outside"):
        AggregationInput((1,), ("a",), ("x",), one, one, one + 1)
    with pytest.raises(InvalidInputError, match="at least one annotation"):
        AggregationInput((1, 2), ("a",), ("x",), one, one, one)
    with pytest.raises(InvalidInputError, match="int64"):
        AggregationInput((1,), ("a",), ("x",), one.astype(np.int32), one, one)
    with pytest.raises(InvalidInputError, match="fixed"):
        majority_vote(AggregationInput.from_triples([(1, "a", "x")]), classes=["x", "y"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_iter": 0},
        {"max_iter": 2.5},
        {"tol": -1.0},
        {"tol": math.inf},
        {"smoothing": 0.0},
        {"smoothing": math.nan},
        {"model": "two_coin"},
        {"init": "random"},
        {"init": "gold"},  # without gold
        {"gold": {1: "not-a-class"}},
        {"gold": [(1, "x")]},
    ],
)
def test_bad_dawid_skene_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        dawid_skene([(1, "a", "x"), (2, "a", "y")], **kwargs)


def test_bad_estimator_arguments() -> None:
    with pytest.raises(InvalidInputError):
        DawidSkene(init="best")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        DawidSkene(max_iter=0)
    with pytest.raises(InvalidInputError):
        MajorityVote(tie="coin")  # type: ignore[arg-type]


def test_bad_vote_arguments() -> None:
    data = [(1, "a", "x"), (1, "b", "y")]
    with pytest.raises(InvalidInputError, match="mapping"):
        weighted_vote(data, [("a", 1.0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        majority_vote(data, tie="last")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no weight"):
        weighted_vote(data, {"a": 1.0})
    with pytest.raises(InvalidInputError, match=">= 0"):
        weighted_vote(data, {"a": 1.0, "b": -1.0})
    with pytest.raises(InvalidInputError, match=">= 0"):
        weighted_vote(data, {"a": 1.0, "b": math.nan})
    with pytest.raises(InvalidInputError, match="not a number"):
        weighted_vote(data, {"a": 1.0, "b": "heavy"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError):
        gold_weighted_vote(data, {1: "x"}, smoothing=0.0)
    with pytest.raises(InvalidInputError):
        gold_weighted_vote(data, {1: "z"})


@pytest.mark.parametrize("aggregate", [majority_vote, dawid_skene])
@pytest.mark.parametrize("empty", [[], iter(()), AggregationInput.from_triples([])])
def test_empty_input_gives_an_empty_result(aggregate: Any, empty: Any) -> None:
    result = aggregate(empty)
    assert dict(result.labels) == {}
    assert len(result.confidence) == 0
    assert result.items == ()
    if isinstance(result, DawidSkeneResult):
        assert (result.n_iter, result.converged, result.log_likelihood) == (0, True, 0.0)
        assert dict(result.posteriors) == {}


# ------------------------------------------------------------------------------------------------
# Majority vote
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("triples", "labels", "confidence"),
    [
        ([(1, "a", "x"), (1, "b", "x"), (1, "c", "y")], {1: "x"}, {1: 2 / 3}),
        ([(1, "a", "x"), (1, "b", "x"), (1, "c", "x")], {1: "x"}, {1: 1.0}),
        ([(1, "a", "x")], {1: "x"}, {1: 1.0}),
        (
            [(1, "a", 3), (1, "b", 2), (1, "c", 2), (1, "d", 1), (2, "a", 1)],
            {1: 2, 2: 1},
            {1: 0.5, 2: 1.0},
        ),
        ([(1, "a", "x"), (1, "a", "y"), (1, "a", "y")], {1: "y"}, {1: 2 / 3}),  # every row is a vote
    ],
)
def test_majority_vote_known_answers(triples: Triples, labels: dict[Any, Any], confidence: dict[Any, float]) -> None:
    result = majority_vote(triples)
    assert dict(result.labels) == labels
    assert dict(result.confidence) == pytest.approx(confidence)
    assert result.probas.sum(axis=1) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("triples", "winner"),
    [
        ([(1, "a", "b"), (1, "b", "a")], "a"),  # smallest label wins a tie
        ([(1, "a", "a"), (1, "b", "b")], "a"),  # whatever the row order
        ([(1, "a", 10), (1, "b", 2)], 2),  # numeric order, not text order
        ([(1, "a", "z"), (1, "b", "y"), (1, "c", "x"), (1, "d", "x"), (1, "e", "z")], "x"),
        ([(1, "a", "x"), (1, "b", 1)], "x"),  # not comparable: first seen
        ([(1, "a", 1), (1, "b", "x")], 1),
    ],
)
def test_majority_vote_tie_rule(triples: Triples, winner: Hashable) -> None:
    assert majority_vote(triples).labels[1] == winner
    assert MajorityVote().fit(triples).labels_[1] == winner


def test_tie_rule_follows_explicit_classes_and_ignores_row_order() -> None:
    triples: Triples = [(i, a, label) for i in range(50) for a, label in (("p", "x"), ("q", "y"))]
    assert set(majority_vote(triples).labels.values()) == {"x"}
    assert set(majority_vote(triples, classes=["y", "x"]).labels.values()) == {"y"}
    shuffled = triples[:]
    random.Random(3).shuffle(shuffled)
    assert dict(majority_vote(shuffled).labels) == dict(majority_vote(triples).labels)


def test_random_tie_break_is_seeded_and_only_picks_tied_labels() -> None:
    triples: Triples = [(i, a, label) for i in range(200) for a, label in (("p", "x"), ("q", "y"), ("r", "z"))]
    triples += [(i, "s", "x") for i in range(200, 210)]
    first = majority_vote(triples, tie="random", seed=7)
    again = majority_vote(triples, tie="random", seed=7)
    other = majority_vote(triples, tie="random", seed=8)
    assert dict(first.labels) == dict(again.labels)
    assert dict(first.labels) != dict(other.labels)
    assert {first.labels[i] for i in range(200)} == {"x", "y", "z"}  # all three tied labels drawn
    assert {first.labels[i] for i in range(200, 210)} == {"x"}  # no tie, no randomness
    assert MajorityVote(tie="random", seed=7).fit(triples).labels_ == first.labels


def test_weighted_vote_and_default_weight() -> None:
    triples: Triples = [(1, "a", "x"), (1, "b", "y"), (1, "c", "y"), (2, "a", "y"), (2, "d", "x")]
    result = weighted_vote(triples, {"a": 3.0, "b": 1.0, "c": 1.0}, default_weight=0.5)
    assert dict(result.labels) == {1: "x", 2: "y"}
    assert result.confidence[1] == pytest.approx(0.6)
    assert result.annotator_weights.tolist() == [3.0, 1.0, 1.0, 0.5]
    zero = weighted_vote([(1, "a", "y"), (1, "b", "x")], {"a": 0.0, "b": 0.0})
    assert zero.labels[1] == "x"  # all-zero weights: a tie between the labels given
    assert zero.confidence[1] == 0.0
    assert MajorityVote().fit(triples, {"a": 3.0, "b": 1.0, "c": 1.0, "d": 1.0}).labels_[1] == "x"


# ------------------------------------------------------------------------------------------------
# Dawid-Skene: exact arithmetic
# ------------------------------------------------------------------------------------------------


def test_dawid_skene_one_iteration_worked_by_hand() -> None:
    """Three items, annotators A and B, classes 0/1, smoothing 1/2, one EM iteration, in fractions.

    i1: A=0 B=0 -> soft MV (1, 0); i2: A=1 B=1 -> (0, 1); i3: A=0 B=1 -> (1/2, 1/2).
    """
    s = Fraction(1, 2)
    triples = [("i1", "A", 0), ("i1", "B", 0), ("i2", "A", 1), ("i2", "B", 1), ("i3", "A", 0), ("i3", "B", 1)]
    # M-step. Class mass: class 0 = 1 + 0 + 1/2, class 1 = 0 + 1 + 1/2.
    prior = [(Fraction(3, 2) + s) / (3 + 2 * s), (Fraction(3, 2) + s) / (3 + 2 * s)]
    # A said 0 on i1, i3 and 1 on i2: true-0 row counts (1 + 1/2, 0), true-1 row counts (1/2, 1).
    a = [[(Fraction(3, 2) + s) / (Fraction(3, 2) + 2 * s), s / (Fraction(3, 2) + 2 * s)],
         [(Fraction(1, 2) + s) / (Fraction(3, 2) + 2 * s), (1 + s) / (Fraction(3, 2) + 2 * s)]]  # fmt: skip
    # B said 0 on i1 and 1 on i2, i3: true-0 row (1, 1/2), true-1 row (0, 1 + 1/2).
    b = [[(1 + s) / (Fraction(3, 2) + 2 * s), (Fraction(1, 2) + s) / (Fraction(3, 2) + 2 * s)],
         [s / (Fraction(3, 2) + 2 * s), (Fraction(3, 2) + s) / (Fraction(3, 2) + 2 * s)]]  # fmt: skip
    assert a == [[Fraction(4, 5), Fraction(1, 5)], [Fraction(2, 5), Fraction(3, 5)]]
    assert b == [[Fraction(3, 5), Fraction(2, 5)], [Fraction(1, 5), Fraction(4, 5)]]
    # E-step, joint p(class) * A(answer | class) * B(answer | class):
    # i1 (A=0, B=0): 1/2 * 4/5 * 3/5 = 12/50 vs 1/2 * 2/5 * 1/5 = 2/50 -> P(0) = 6/7;
    # i2 (A=1, B=1): 1/2 * 1/5 * 2/5 = 2/50 vs 1/2 * 3/5 * 4/5 = 12/50 -> P(0) = 1/7;
    # i3 (A=0, B=1): 1/2 * 4/5 * 2/5 = 8/50 vs 1/2 * 2/5 * 4/5 = 8/50 -> P(0) = 1/2.
    result = dawid_skene(triples, max_iter=1, smoothing=0.5)
    assert result.prior_array.tolist() == pytest.approx([float(p) for p in prior])
    np.testing.assert_allclose(result.confusion["A"], np.array(a, dtype=float))
    np.testing.assert_allclose(result.confusion["B"], np.array(b, dtype=float))
    assert result.posteriors["i1"][0] == pytest.approx(6 / 7)
    assert result.posteriors["i2"][0] == pytest.approx(1 / 7)
    assert result.posteriors["i3"] == pytest.approx({0: 0.5, 1: 0.5})
    assert (result.labels["i1"], result.labels["i2"]) == (0, 1)
    assert result.confidence["i1"] == pytest.approx(6 / 7)
    assert result.log_likelihood == pytest.approx(2 * math.log(14 / 50) + math.log(16 / 50))
    assert (result.n_iter, result.converged) == (1, False)


def _varied_input(seed: int, max_per_item: int, n_items: int = 120, k: int = 3) -> AggregationInput:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_per_item + 1, size=n_items)
    items = np.repeat(np.arange(n_items) * 7 + 3, counts)
    order = rng.permutation(items.shape[0])
    annotators = rng.integers(0, 9, size=items.shape[0])
    truthy = (items // 7) % k
    labels = np.where(rng.random(items.shape[0]) < 0.6, truthy, rng.integers(0, k, size=items.shape[0]))
    return AggregationInput.from_arrays(items[order], annotators[order], labels[order])


@pytest.mark.parametrize(
    ("layout", "make"),
    [
        ("uniform 3", lambda s: simulate(s, 150, CROWD, per_item=3)[0]),
        ("uniform 1", lambda s: simulate(s, 150, CROWD, per_item=1)[0]),
        ("uniform 20 (beyond the slots)", lambda s: simulate(s, 60, CROWD, per_item=20)[0]),
        ("varied 1-6", lambda s: _varied_input(s, 6)),
        ("varied 1-40 (rescaling + beyond the slots)", lambda s: _varied_input(s, 40)),
    ],
)
@pytest.mark.parametrize("model", ["full", "one_coin"])
@pytest.mark.parametrize("with_gold", [False, True])
def test_dawid_skene_equals_a_loop_reference(layout: str, make: Any, model: str, with_gold: bool) -> None:
    inp = make(11)
    gold = {3: 1, 10: 0, 25: 2} if with_gold else None
    result = dawid_skene(
        inp,
        max_iter=6,
        tol=0.0,
        model=model,  # type: ignore[arg-type]
        smoothing=0.05,
        gold={inp.items[i]: inp.classes[c] for i, c in gold.items()} if gold else None,
        init="majority",
    )
    post, confusion, priors, history = reference_dawid_skene(inp, 6, 0.05, gold, one_coin=model == "one_coin")
    np.testing.assert_allclose(result.posterior_array, post, atol=1e-12)
    np.testing.assert_allclose(result.confusion_array, confusion, atol=1e-12)
    np.testing.assert_allclose(result.prior_array, priors, atol=1e-12)
    np.testing.assert_allclose(result.log_likelihood_history, history, rtol=1e-10)
    assert result.label_index.tolist() == post.argmax(axis=1).tolist()
    assert (result.n_iter, result.converged, result.start) == (6, False, "majority")


def test_e_step_rescales_products_that_would_underflow() -> None:
    """16 answers per item of probability 1e-30 each: the product (1e-480) is below the smallest double.

    The E-step multiplies probabilities and rescales every few slots; compared here with log-domain sums.
    """
    from labelloop.quality.aggregation import _Layout  # the parameters are forced, so the private step

    rng = np.random.default_rng(0)
    n_items, per_item, k = 30, 16, 3
    items = np.repeat(np.arange(n_items), per_item)
    annotators = np.tile(np.arange(per_item), n_items)
    labels = annotators % k  # annotator w always gives label w % k ...
    inp = AggregationInput.from_arrays(items, annotators, labels)
    confusion = rng.uniform(0.2, 1.0, size=(k, per_item, k))  # [true, annotator, given]
    tiny = np.exp(rng.uniform(-70, -60, size=(k, per_item)))  # ... which has probability 4e-31 to 9e-27
    confusion[:, np.arange(per_item), np.arange(per_item) % k] = 0.0
    confusion /= confusion.sum(axis=2, keepdims=True) / (1 - tiny[:, :, None])
    confusion[:, np.arange(per_item), np.arange(per_item) % k] = tiny
    priors = np.array([0.5, 0.3, 0.2])
    post, item_ll = _Layout.build(inp).e_step(priors, confusion)
    log_joint = np.log(priors)[None, :] + np.zeros((n_items, k))
    for i, w, y in zip(items.tolist(), annotators.tolist(), labels.tolist(), strict=True):
        log_joint[i] += np.log(confusion[:, w, y])
    top = log_joint.max(axis=1, keepdims=True)
    expected = np.exp(log_joint - top) / np.exp(log_joint - top).sum(axis=1, keepdims=True)
    assert float(log_joint.max()) < -745  # the plain product would be 0.0 for every item and class
    np.testing.assert_allclose(post.T, expected, atol=1e-12)
    np.testing.assert_allclose(item_ll, (top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))), rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Dawid-Skene: statistics on simulated crowds
# ------------------------------------------------------------------------------------------------


def oracle_confusion(inp: AggregationInput, truth: np.ndarray, smoothing: float = 0.01) -> np.ndarray:
    """Confusion matrices counted against the true labels: the best any estimator can do with these rows."""
    k = inp.n_classes
    counts = np.zeros((inp.n_annotators, k, k))
    np.add.at(counts, (inp.annotator_index, truth[inp.item_index], inp.label_index), 1)
    estimate: np.ndarray = (counts + smoothing) / (counts.sum(axis=2, keepdims=True) + k * smoothing)
    return estimate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_recovers_confusion_matrices(seed: int) -> None:
    """2,000 items x 5 of 20 annotators: ~500 annotations each, ~170 per true-class row.

    A row estimated from ~170 answers has a sampling error of sqrt(p(1-p)/170) = .017-.028 per cell, so
    even the oracle (counting against the true labels) is ~.017 off on average (measured .015-.020 on
    seeds 0-5). DS, which never sees the truth, measured within 10% of the oracle (.016-.020): the bound
    is 1.25 x the oracle's error, and .03 in absolute terms.
    """
    inp, truth, confusion = simulate(seed, 2_000, CROWD)
    result = dawid_skene(inp)
    error = float(np.abs(result.confusion_array - confusion).mean())
    oracle = float(np.abs(oracle_confusion(inp, truth) - confusion).mean())
    assert error <= 1.25 * oracle
    assert error <= 0.03
    assert result.confusion_array.sum(axis=2) == pytest.approx(1.0)
    np.testing.assert_allclose(result.prior_array, np.bincount(truth, minlength=3) / truth.shape[0], atol=0.02)


@pytest.mark.parametrize(("seed", "spammers"), [(0, 4), (1, 6), (2, 8)])
def test_dawid_skene_beats_majority_vote_with_spammers(seed: int, spammers: int) -> None:
    """Measured (seed, spammers): DS - MV = +5.3 (0, 4), +5.8 (1, 6), +13.5 (2, 8), +13.8 (3, 8), +8.5 (4, 6) points.

    The spammers' estimated rows differ by at most .05-.09 (sampling noise of ~170 answers per row).
    """
    kinds = ["good"] * 8 + ["ok"] * (12 - spammers) + ["spammer"] * spammers
    inp, truth, _ = simulate(seed, 2_000, kinds)
    ds, mv = dawid_skene(inp), majority_vote(inp)
    assert accuracy(ds, truth) >= accuracy(mv, truth) + 0.03
    # the spammers' answers carry (almost) no weight: their rows are (nearly) identical
    spam_rows = ds.confusion_array[len(kinds) - spammers :]
    assert float(np.abs(spam_rows - spam_rows[:, :1, :]).max()) < 0.12


@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecation notices, not ours
def test_dawid_skene_agrees_with_crowdkit() -> None:
    pandas = pytest.importorskip("pandas")
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    inp, truth, _ = simulate(5, 3_000, ["good"] * 10 + ["ok"] * 12 + ["spammer"] * 3 + ["swapper"] * 2, per_item=4)
    frame = pandas.DataFrame({"task": inp.item_index, "worker": inp.annotator_index, "label": inp.label_index})
    theirs = crowdkit.DawidSkene(n_iter=100).fit(frame).labels_.reindex(range(inp.n_items)).to_numpy()
    ours = dawid_skene(inp)
    assert float((theirs == ours.label_index).mean()) >= 0.99
    assert abs(accuracy(ours, truth) - float((theirs == truth).mean())) <= 0.005
    assert accuracy(ours, truth) > accuracy(majority_vote(inp), truth)


def test_one_coin_model_fits_one_accuracy_per_annotator() -> None:
    inp, truth, _ = simulate(4, 1_500, ["coin"] * 6 + ["ok"] * 2, k=4, per_item=3)
    result = dawid_skene(inp, model="one_coin")
    for matrix in result.confusion_array:
        off = matrix[~np.eye(4, dtype=bool)]
        assert np.diag(matrix) == pytest.approx(np.full(4, matrix[0, 0]))
        assert off == pytest.approx(np.full(12, (1 - matrix[0, 0]) / 3))
    assert [float(m[0, 0]) for m in result.confusion_array[:6]] == pytest.approx([0.75] * 6, abs=0.04)
    assert accuracy(result, truth) >= accuracy(majority_vote(inp), truth)
    assert result.model == "one_coin"


# ------------------------------------------------------------------------------------------------
# Gold
# ------------------------------------------------------------------------------------------------


def test_gold_items_keep_their_label() -> None:
    """Unanimous answers, two gold items that contradict them (and one gold item not in the data)."""
    triples: Triples = [(i, a, "xy"[i % 2]) for i in range(20) for a in "abc"]
    gold = {3: "x", 4: "y", 999: "x"}
    for init in ("auto", "majority", "gold"):
        result = dawid_skene(triples, gold=gold, init=init)
        assert (result.labels[3], result.labels[4]) == ("x", "y")
        assert result.posteriors[3] == {"x": 1.0, "y": 0.0}
        assert result.confidence[4] == 1.0
        assert result.n_gold == 2
    # started from the majority, the other items keep their unanimous answer ...
    kept = dawid_skene(triples, gold=gold, init="majority")
    assert all(kept.labels[i] == "xy"[i % 2] for i in range(20) if i not in (3, 4))
    # ... while the likelier explanation of the gold is that the crowd swaps x and y throughout
    swapped = dawid_skene(triples, gold=gold)
    assert swapped.start == "gold"
    assert swapped.log_likelihood > kept.log_likelihood
    assert all(swapped.labels[i] == "yx"[i % 2] for i in range(20))
    vote = gold_weighted_vote(triples, {3: "x"})
    assert (vote.labels[3], vote.confidence[3]) == ("x", 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gold_never_hurts_on_an_ordinary_crowd(seed: int) -> None:
    inp, truth, _ = simulate(seed, 1_500, CROWD, per_item=3)
    gold_codes = set(np.random.default_rng(seed).choice(inp.n_items, size=60, replace=False).tolist())
    gold = {inp.items[i]: inp.classes[truth[i]] for i in gold_codes}
    plain, with_gold = dawid_skene(inp), dawid_skene(inp, gold=gold)
    assert accuracy(with_gold, truth) >= accuracy(plain, truth)
    # on the other items, 60 gold items move a few borderline ones either way (seeds 0-5: -.002 to +.0014)
    assert accuracy(with_gold, truth, gold_codes) >= accuracy(plain, truth, gold_codes) - 0.005


def test_gold_rescues_a_crowd_whose_majority_swaps_two_classes() -> None:
    """60% of the annotators swap classes 0 and 1: majority vote, and EM started from it, get them backwards."""
    inp, truth, _ = simulate(3, 2_000, ["swap01"] * 12 + ["good"] * 8, per_item=5, priors=[0.5, 0.3, 0.2])
    gold_codes = set(range(20))
    gold = {inp.items[i]: inp.classes[truth[i]] for i in gold_codes}
    plain = dawid_skene(inp)
    from_majority = dawid_skene(inp, gold=gold, init="majority")
    rescued = dawid_skene(inp, gold=gold)
    assert accuracy(majority_vote(inp), truth) < 0.6
    assert accuracy(plain, truth, gold_codes) < 0.5
    assert accuracy(from_majority, truth, gold_codes) < 0.5
    assert rescued.start == "gold"
    assert accuracy(rescued, truth, gold_codes) > 0.95
    assert accuracy(dawid_skene(inp, gold=gold, init="gold"), truth) == accuracy(rescued, truth)
    weighted = gold_weighted_vote(inp, gold)
    assert accuracy(weighted, truth, gold_codes) > accuracy(majority_vote(inp), truth, gold_codes) + 0.2
    # the swappers (at or near chance on gold) weigh less than any good annotator
    assert weighted.annotator_weights[:12].max() < weighted.annotator_weights[12:].min()


# ------------------------------------------------------------------------------------------------
# Convergence, edge cases, determinism, result views
# ------------------------------------------------------------------------------------------------


def test_convergence_flags_and_history() -> None:
    inp, _, _ = simulate(0, 800, CROWD)
    done = dawid_skene(inp)
    assert done.converged
    assert 2 <= done.n_iter < 100
    assert len(done.log_likelihood_history) == done.n_iter
    assert done.log_likelihood == done.log_likelihood_history[-1]
    steps = np.diff(done.log_likelihood_history)
    assert abs(steps[-1]) < 1e-6 * inp.n_annotations
    assert (steps > -1e-9 * inp.n_annotations).all()  # EM never lowers the likelihood
    cut = dawid_skene(inp, max_iter=2)
    assert (cut.n_iter, cut.converged) == (2, False)
    forever = dawid_skene(inp, max_iter=40, tol=0.0)
    assert (forever.n_iter, forever.converged) == (40, False)
    loose = dawid_skene(inp, tol=1e-2)
    assert loose.converged and loose.n_iter < done.n_iter
    model = DawidSkene(max_iter=2).fit(inp)
    assert (model.n_iter_, model.converged_, len(model.loss_history_)) == (2, False, 2)


def test_one_annotator_only() -> None:
    triples: Triples = [(i, "solo", "xyz"[i % 3]) for i in range(30)]
    result = dawid_skene(triples)
    assert dict(result.labels) == {i: "xyz"[i % 3] for i in range(30)}
    assert result.converged
    assert np.diag(result.confusion["solo"]) == pytest.approx(np.ones(3), abs=0.01)
    assert dict(majority_vote(triples).labels) == dict(result.labels)


@pytest.mark.parametrize("model", ["full", "one_coin"])
def test_a_single_class(model: str) -> None:
    triples: Triples = [(i, a, "only") for i in range(5) for a in "ab"]
    result = dawid_skene(triples, model=model)  # type: ignore[arg-type]
    assert set(result.labels.values()) == {"only"}
    assert result.confusion["a"].tolist() == [[1.0]]
    assert result.posterior_array.tolist() == [[1.0]] * 5
    assert result.converged


def test_items_with_a_single_annotation() -> None:
    inp, truth, _ = simulate(2, 600, ["good"] * 6 + ["spammer"] * 2, per_item=3)
    rows = [(inp.items[i], inp.annotators[w], inp.classes[y]) for i, w, y in zip(
        inp.item_index.tolist(), inp.annotator_index.tolist(), inp.label_index.tolist(), strict=True)]  # fmt: skip
    # 100 extra items labelled once by annotator 0 (good), and 100 once by a spammer
    rows += [(1000 + j, 0, int(truth[j])) for j in range(100)]
    rows += [(2000 + j, 7, 0) for j in range(100)]
    result = dawid_skene(rows)
    assert result.posterior_array.sum(axis=1) == pytest.approx(1.0)
    assert [result.labels[1000 + j] for j in range(100)] == truth[:100].tolist()  # a good annotator's word
    spam = [result.confidence[2000 + j] for j in range(100)]
    assert max(spam) < 0.9  # a spammer's lone answer convinces nobody
    assert all(majority_vote(rows).confidence[2000 + j] == 1.0 for j in range(100))


def test_output_is_deterministic_and_independent_of_row_order() -> None:
    inp, _, _ = simulate(6, 500, CROWD, per_item=3)
    rows = list(zip(inp.item_index.tolist(), inp.annotator_index.tolist(), inp.label_index.tolist(), strict=True))
    first, second = dawid_skene(rows), dawid_skene(rows)
    assert np.array_equal(first.posterior_array, second.posterior_array)
    assert np.array_equal(first.confusion_array, second.confusion_array)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    other = dawid_skene(shuffled)
    assert other.items == first.items and other.annotators == first.annotators
    np.testing.assert_allclose(other.posterior_array, first.posterior_array, atol=1e-9)
    assert dict(other.labels) == dict(first.labels)
    assert dict(majority_vote(shuffled).labels) == dict(majority_vote(rows).labels)


def test_result_views_and_estimator_attributes() -> None:
    inp, _, _ = simulate(1, 300, CROWD, per_item=3)
    model = DawidSkene().fit(inp)
    result = model.result_
    assert model.labels_ is result.labels
    assert model.probas_ is result.posterior_array
    assert model.classes_ == result.classes == (0, 1, 2)
    assert model.confusion_.shape == (20, 3, 3)
    assert set(result.labels) == set(range(300))
    assert list(result.labels) == list(result.items)
    assert len(result.posteriors) == 300
    assert sum(result.posteriors[5].values()) == pytest.approx(1.0)
    assert result.confidence[5] == max(result.posteriors[5].values())
    assert result.labels[5] == max(result.posteriors[5], key=result.posteriors[5].__getitem__)
    assert sum(result.priors.values()) == pytest.approx(1.0)
    assert result.confusion[19].shape == (3, 3)
    assert 12345 not in result.labels
    with pytest.raises(KeyError):
        result.labels[12345]
    assert result.label_list() == [result.labels[i] for i in result.items]
    assert "n=300" in repr(result.labels)
    assert model.fit_predict(inp) == result.labels
    assert np.array_equal(model.fit_predict_proba(inp), result.posterior_array)
    mv = MajorityVote().fit(inp)
    assert mv.probas_.shape == (300, 3)
    assert mv.fit_predict(inp) == majority_vote(inp).labels


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from("abcd"), st.sampled_from(["p", "q", "r"])),
        min_size=1,
        max_size=40,
    )
)
def test_properties_on_random_annotations(triples: list[tuple[int, str, str]]) -> None:
    mv = majority_vote(triples)
    votes: dict[int, dict[str, int]] = {}
    for item, _, label in triples:
        votes.setdefault(item, {}).setdefault(label, 0)
        votes[item][label] += 1
    for item, count in votes.items():
        best = max(count.values())
        assert mv.labels[item] == min(label for label, n in count.items() if n == best)
        assert mv.confidence[item] == pytest.approx(best / sum(count.values()))
    ds = dawid_skene(triples)
    assert set(ds.labels) == set(votes)
    assert np.isfinite(ds.posterior_array).all()
    assert ds.posterior_array.sum(axis=1) == pytest.approx(1.0)
    assert ds.confusion_array.sum(axis=2) == pytest.approx(1.0)
    assert math.isfinite(ds.log_likelihood)
    assert all(ds.labels[item] in votes[item] or ds.confidence[item] < 1.0 for item in votes)
