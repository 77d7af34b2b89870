"""Unit tests for active-learning selection strategies (labelloop.learning.strategies)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.errors import InvalidInputError
from labelloop.learning import strategies
from labelloop.learning.strategies import (
    STRATEGIES,
    Strategy,
    k_center_greedy,
    mean_kl_divergence,
    select,
    uncertainty_scores,
    vote_entropy,
)

# margins 0.2, 1.0, 0.6, 0.9, 0.4; least confidence 0.1, 0.5, 0.3, 0.45, 0.2
PROBS = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.55, 0.45], [0.8, 0.2]])


def reference_k_center(x: np.ndarray, budget: int, start: list[int], metric: str, seed: int) -> list[int]:
    """The textbook greedy on a full distance matrix: farthest row from everything picked, lowest index on ties."""
    if metric == "cosine":
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        dist = 1.0 - unit @ unit.T
    else:
        dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    n = x.shape[0]
    nearest = np.full(n, np.inf)
    taken: list[int] = []
    for row in start:
        nearest = np.minimum(nearest, dist[row])
    if not start:
        first = int(np.random.default_rng(seed).integers(n))
        taken.append(first)
        nearest = np.minimum(nearest, dist[first])
    while len(taken) < min(budget, n - len(start)):
        candidates = nearest.copy()
        candidates[start + taken] = -1.0
        row = int(candidates.argmax())
        taken.append(row)
        nearest = np.minimum(nearest, dist[row])
    return taken


def pool(seed: int, n: int, k: int = 3, d: int = 4) -> dict[str, Any]:
    """Every input a strategy may need, for ``n`` random rows."""
    rng = np.random.default_rng(seed)
    committee = rng.dirichlet(np.ones(k), size=(3, n))
    return {"probs": committee[0], "committee": committee, "features": rng.normal(size=(n, d))}


def inputs_for(strategy: str, data: dict[str, Any]) -> dict[str, Any]:
    if strategy == "random":
        return {"n_items": data["probs"].shape[0]}
    if strategy == "vote_entropy":
        return {"committee": data["committee"]}
    if strategy == "diversity":
        return {"features": data["features"]}
    if strategy == "hybrid":
        return {"probs": data["probs"], "features": data["features"]}
    return {"probs": data["probs"]}


# ------------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("least_confidence", [0.0, 0.4, 2 / 3]),
        ("margin", [0.0, 0.7, 1.0]),
        ("entropy", [0.0, -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1)) / math.log(3), 1.0]),
    ],
)
def test_uncertainty_scores_known_values(method: Any, expected: list[float]) -> None:
    probs = [[1.0, 0.0, 0.0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]]
    assert uncertainty_scores(probs, method) == pytest.approx(expected, abs=1e-9)


def test_vote_entropy_known_values() -> None:
    agree = [[0.9, 0.1, 0.0]] * 3
    spread = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
    committee = np.array([[agree[m], spread[m]] for m in range(3)])
    assert vote_entropy(committee).tolist() == pytest.approx([0.0, 1.0])
    # 4 members, 2 classes: 2-2 is the most even split (1.0); 3-1 is H(3/4, 1/4) / log 2
    four = np.array(
        [[[0.9, 0.1], [0.9, 0.1]], [[0.9, 0.1], [0.9, 0.1]], [[0.2, 0.8], [0.9, 0.1]], [[0.2, 0.8], [0.2, 0.8]]]
    )
    three_one = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert vote_entropy(four).tolist() == pytest.approx([1.0, three_one])
    # 2 members, 3 classes: a 1-1 split is already the most even the votes can be
    assert vote_entropy([[[0.8, 0.1, 0.1]], [[0.1, 0.1, 0.8]]]).tolist() == pytest.approx([1.0])


def test_mean_kl_divergence_sees_confidence_that_votes_hide() -> None:
    committee = [[[0.6, 0.4], [0.5, 0.5]], [[0.99, 0.01], [0.5, 0.5]]]
    kl = mean_kl_divergence(committee)
    assert vote_entropy(committee).tolist() == [0.0, 0.0]
    consensus = np.array([0.795, 0.205])
    expected = np.mean([np.sum(p * np.log(p / consensus)) for p in ([0.6, 0.4], [0.99, 0.01])])
    assert kl.tolist() == pytest.approx([expected, 0.0])


# ------------------------------------------------------------------------------------------------
# Ranked strategies
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "expected", "scores"),
    [
        ("least_confidence", [1, 3, 2], [0.5, 0.45, 0.3]),
        ("margin", [1, 3, 2], [1.0, 0.9, 0.6]),
        ("entropy", [1, 3, 2], None),
    ],
)
def test_uncertainty_strategies_pick_top_scores(strategy: Strategy, expected: list[int], scores: Any) -> None:
    result = select(strategy, budget=3, probs=PROBS)
    assert result.indices.tolist() == expected
    assert result.strategy == strategy
    if scores is not None:
        assert result.scores.tolist() == pytest.approx(scores)


def test_ties_go_to_the_lower_index() -> None:
    probs = [[0.9, 0.1], [0.6, 0.4], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]
    assert select("margin", budget=2, probs=probs).indices.tolist() == [1, 3]


def test_vote_entropy_strategy_breaks_ties_by_kl() -> None:
    # items 0 and 2 split the vote 2-1 (equal vote entropy); item 2's members disagree more in confidence
    committee = np.array(
        [
            [[0.6, 0.4], [0.9, 0.1], [0.99, 0.01], [0.9, 0.1]],
            [[0.6, 0.4], [0.9, 0.1], [0.99, 0.01], [0.9, 0.1]],
            [[0.4, 0.6], [0.9, 0.1], [0.01, 0.99], [0.8, 0.2]],
        ]
    )
    result = select("vote_entropy", budget=3, committee=committee)
    assert result.indices.tolist() == [2, 0, 3]
    assert result.scores[:2] == pytest.approx([vote_entropy(committee)[0]] * 2)
    assert "disagreement_kl" in result.details


def test_random_is_a_seeded_sample() -> None:
    first = select("random", budget=10, n_items=100, seed=3)
    assert first.indices.tolist() == select("random", budget=10, n_items=100, seed=3).indices.tolist()
    assert first.indices.tolist() != select("random", budget=10, n_items=100, seed=4).indices.tolist()
    assert len(set(first.indices.tolist())) == 10


def test_weighted_random_prefers_heavy_rows() -> None:
    costs = np.where(np.arange(1000) < 500, 1.0, 100.0)
    chosen = select("random", budget=100, n_items=1000, costs=costs, seed=0).indices
    assert (chosen < 500).sum() >= 95  # weight 1 against 0.01: about 99 of 100 come from the cheap half


def test_budget_larger_than_the_pool_takes_everything() -> None:
    assert sorted(select("entropy", budget=50, probs=PROBS).indices.tolist()) == [0, 1, 2, 3, 4]
    assert select("entropy", budget=0, probs=PROBS).indices.tolist() == []


def test_already_selected_rows_are_never_chosen() -> None:
    assert select("margin", budget=2, probs=PROBS, already_selected=[1]).indices.tolist() == [3, 2]


# ------------------------------------------------------------------------------------------------
# Cost and freshness
# ------------------------------------------------------------------------------------------------


def test_cost_aware_prefers_cheap_items_at_equal_score() -> None:
    probs = [[0.6, 0.4]] * 4
    result = select("margin", budget=2, probs=probs, costs=[5.0, 1.0, 3.0, 2.0])
    assert result.indices.tolist() == [1, 3]
    assert result.scores.tolist() == pytest.approx([0.8, 0.4])
    soft = select("margin", budget=1, probs=probs, costs=[5.0, 4.0, 3.0, 2.0], cost_power=0.5)
    assert soft.scores.tolist() == pytest.approx([0.8 / math.sqrt(2.0)])
    # cost_power=0 ignores costs: plain score order
    assert select("margin", budget=2, probs=probs, costs=[5, 1, 3, 2], cost_power=0).indices.tolist() == [0, 1]


def test_cost_can_outweigh_uncertainty() -> None:
    # margins 1.0 and 0.6: the expensive uncertain item loses to a cheap, less uncertain one
    probs = [[0.5, 0.5], [0.7, 0.3]]
    assert select("margin", budget=1, probs=probs, costs=[4.0, 1.0]).indices.tolist() == [1]


def test_freshness_halves_the_score_every_half_life() -> None:
    probs = [[0.6, 0.4]] * 3
    result = select("margin", budget=3, probs=probs, ages=[20.0, 0.0, 10.0], freshness_half_life=10.0)
    assert result.indices.tolist() == [1, 2, 0]
    assert result.scores.tolist() == pytest.approx([0.8, 0.4, 0.2])
    assert result.details["weight"].tolist() == pytest.approx([1.0, 0.5, 0.25])


def test_diversity_weighs_distance_by_cost() -> None:
    # from row 0, rows 1 and 2 are equally far; row 1 costs four times as much
    features = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]
    plain = select("diversity", budget=2, features=features, metric="euclidean", already_selected=[0])
    weighted = select(
        "diversity", budget=1, features=features, metric="euclidean", already_selected=[0], costs=[1, 4, 1]
    )
    assert plain.indices.tolist() == [1, 2]
    assert weighted.indices.tolist() == [2]


# ------------------------------------------------------------------------------------------------
# Near-duplicate clusters
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_at_most_one_row_per_cluster(strategy: Strategy) -> None:
    n = 60
    data = pool(7, n)
    clusters = np.arange(n) // 3  # 20 clusters of 3
    result = select(strategy, budget=15, cluster_ids=clusters, **inputs_for(strategy, data))
    chosen = clusters[result.indices]
    assert len(result) == 15
    assert len(set(chosen.tolist())) == 15
    everything = select(strategy, budget=100, cluster_ids=clusters, **inputs_for(strategy, data))
    assert sorted(clusters[everything.indices].tolist()) == list(range(20))


def test_cluster_keeps_its_best_member_and_fills_the_budget() -> None:
    # margins: 0.2, 1.0, 0.6, 0.9, 0.4; rows 1 and 3 are near duplicates, as are 2 and 4
    result = select("margin", budget=3, probs=PROBS, cluster_ids=[None, 7, 8, 7, 8])
    assert result.indices.tolist() == [1, 2, 0]
    assert select("margin", budget=3, probs=PROBS, cluster_ids=[-1, 7, 8, 7, 8]).indices.tolist() == [1, 2, 0]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    budget=st.integers(0, 50),
    n_clusters=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    strategy=st.sampled_from(STRATEGIES),
    use_costs=st.booleans(),
)
def test_selection_properties(
    n: int, budget: int, n_clusters: int, seed: int, strategy: Strategy, use_costs: bool
) -> None:
    rng = np.random.default_rng(seed)
    data = pool(seed, n)
    clusters = rng.integers(-1, n_clusters, size=n)
    extra: dict[str, Any] = {"cluster_ids": clusters, "seed": seed, **inputs_for(strategy, data)}
    if use_costs:
        extra["costs"] = rng.uniform(0.5, 5.0, size=n)
    result = select(strategy, budget=budget, **extra)
    chosen = result.indices.tolist()
    assert len(chosen) == len(set(chosen)) <= budget
    real = clusters[result.indices]
    real = real[real >= 0]
    assert len(real) == len(set(real.tolist()))
    groups = len(set(clusters[clusters >= 0].tolist())) + int((clusters < 0).sum())
    assert len(chosen) == min(budget, groups)  # the budget is filled while anything eligible is left
    again = select(strategy, budget=budget, **extra)
    assert again.indices.tolist() == chosen
    assert json.loads(json.dumps(result.to_records())) == result.to_records()


# ------------------------------------------------------------------------------------------------
# k-center greedy
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_k_center_takes_one_point_per_blob(metric: Any) -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0], [-10.0, 0, 0], [0, -10.0, 0]])
    blob = rng.integers(5, size=500)
    points = centers[blob] + rng.normal(scale=0.5, size=(500, 3))
    picks, distances = k_center_greedy(points, 5, metric=metric, seed=1)
    assert sorted(blob[picks].tolist()) == [0, 1, 2, 3, 4]
    assert math.isinf(distances[0])
    assert np.all(np.diff(distances) <= 1e-12)  # each pick is no farther than the one before


@pytest.mark.parametrize("case", range(24))
def test_k_center_matches_the_slow_reference(case: int) -> None:
    rng = np.random.default_rng(case)
    n, d = int(rng.integers(5, 300)), int(rng.integers(2, 12))
    points = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0)
    if case % 3 == 0:  # clustered data, where pruning and look-ahead do the most
        points += rng.normal(size=(6, d))[rng.integers(6, size=n)] * 10
    metric = "cosine" if case % 2 else "euclidean"
    start = sorted(set(rng.integers(n, size=int(rng.integers(0, 4))).tolist()))
    budget = int(rng.integers(1, n + 3))
    expected = reference_k_center(points, budget, start, metric, case)
    picks, _ = k_center_greedy(points, budget, already_selected=start or None, metric=metric, seed=case)
    assert picks.tolist() == expected
    sparse_picks, _ = k_center_greedy(
        sp.csr_matrix(points), budget, already_selected=start or None, metric=metric, seed=case
    )
    assert sparse_picks.tolist() == expected


def test_k_center_reports_distances() -> None:
    points = [[0.0, 0.0], [0.5, 0.0], [6.0, 0.0], [6.0, 1.0], [0.0, 9.0]]
    picks, distances = k_center_greedy(points, 3, metric="euclidean", already_selected=[0])
    assert picks.tolist() == [4, 3, 2]
    assert distances.tolist() == pytest.approx([9.0, math.sqrt(37.0), 1.0])
    _, cosine = k_center_greedy([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], 2, already_selected=[0])
    assert cosine.tolist() == pytest.approx([2.0, 1.0])


def test_k_center_look_ahead_over_many_rows_matches_reference() -> None:
    # more rows than the look-ahead set, and a budget spanning many look-ahead rounds
    rng = np.random.default_rng(5)
    points = rng.normal(size=(700, 6))
    picks, _ = k_center_greedy(points, 200, metric="euclidean", seed=2)
    assert picks.tolist() == reference_k_center(points, 200, [], "euclidean", 2)


# ------------------------------------------------------------------------------------------------
# Diversity, hybrid and slice quotas
# ------------------------------------------------------------------------------------------------


def rare_slice_pool(n: int = 400, rare: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probs, features, slices): the last ``rare`` rows are a rare source the model is sure about."""
    rng = np.random.default_rng(11)
    confidence = rng.uniform(0.5, 0.75, size=n)
    confidence[-rare:] = 0.99
    probs = np.stack([confidence, 1 - confidence], axis=1)
    features = rng.normal(size=(n, 8))
    slices = np.array(["web"] * (n - rare) + ["forum"] * rare)
    return probs, features, slices


def test_hybrid_shortlists_uncertain_rows_then_spreads() -> None:
    probs, features, _ = rare_slice_pool()
    result = select("hybrid", budget=10, probs=probs, features=features, shortlist_factor=3)
    shortlist = np.argsort(-uncertainty_scores(probs, "margin"), kind="stable")[:30]
    assert set(result.indices.tolist()) <= set(shortlist.tolist())
    assert result.indices[0] == shortlist[0]  # starts from the most uncertain row
    local = features[shortlist]
    expected = reference_k_center(local, 10, [0], "cosine", 0)
    assert result.indices[1:].tolist() == shortlist[expected[:9]].tolist()
    assert result.params["shortlist_size"] == 30


def test_hybrid_meets_the_quota_of_a_rare_slice() -> None:
    probs, features, slices = rare_slice_pool()
    without = select("hybrid", budget=20, probs=probs, features=features, slices=slices)
    assert "forum" not in slices[without.indices].tolist()
    result = select("hybrid", budget=20, probs=probs, features=features, slices=slices, slice_quota=3)
    chosen = slices[result.indices]
    assert (chosen == "forum").sum() >= 3
    assert len(result) == 20
    assert result.params["quotas"] == {"web": 3, "forum": 3}
    assert result.by_quota[chosen == "forum"].all()
    records = result.to_records()
    assert {r["slice"] for r in records} == {"web", "forum"}


@pytest.mark.parametrize("strategy", ["margin", "random", "diversity"])
def test_other_strategies_meet_slice_quotas(strategy: Strategy) -> None:
    probs, features, slices = rare_slice_pool()
    result = select(
        strategy, budget=10, probs=probs, features=features, n_items=400, slices=slices, slice_quota=4, seed=1
    )
    assert (slices[result.indices] == "forum").sum() >= 4
    assert len(result) == 10


def test_quota_caps_at_the_slice_size() -> None:
    probs, _, slices = rare_slice_pool(rare=2)
    result = select("margin", budget=10, probs=probs, slices=slices, slice_quota=5)
    assert result.params["quotas"] == {"web": 5, "forum": 2}
    assert (slices[result.indices] == "forum").sum() == 2


def test_proportional_quota_gives_every_slice_at_least_one() -> None:
    probs, _, slices = rare_slice_pool(rare=2)
    result = select("margin", budget=10, probs=probs, slices=slices, slice_quota="proportional")
    assert result.params["quotas"] == {"web": 9, "forum": 1}
    assert (slices[result.indices] == "forum").sum() == 1


def test_quotas_over_the_budget_are_cut_round_robin() -> None:
    probs = np.tile([[0.6, 0.4]], (30, 1))
    slices = ["a"] * 15 + ["b"] * 10 + ["c"] * 5
    result = select("margin", budget=7, probs=probs, slices=slices, slice_quota=4)
    # two full rounds (6 rows), then the rarest slice gets the last one
    assert result.params["quotas"] == {"a": 2, "b": 2, "c": 3}
    assert sorted(np.asarray(slices)[result.indices].tolist()) == ["a", "a", "b", "b", "c", "c", "c"]


def test_diversity_never_returns_already_selected_and_records_distances() -> None:
    features = np.random.default_rng(2).normal(size=(50, 5))
    result = select("diversity", budget=5, features=features, already_selected=[0, 1, 2], model_version="m-3")
    assert not {0, 1, 2} & set(result.indices.tolist())
    records = result.to_records()
    assert all(isinstance(r["score"], float) for r in records)  # no inf: already_selected are the first centers
    assert result.params["model_version"] == "m-3"
    assert result.params["n_already_selected"] == 3
    first = select("diversity", budget=2, features=features).to_records()
    assert first[0]["score"] is None  # the random first pick has nothing to be far from
    json.dumps(records)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "smart", "budget": 1, "probs": PROBS}, "strategy must be one of"),
        ({"strategy": "margin", "budget": -1, "probs": PROBS}, "budget must be an integer >= 0"),
        ({"strategy": "margin", "budget": True, "probs": PROBS}, "budget must be an integer"),
        ({"strategy": "margin", "budget": 1}, "needs probs"),
        ({"strategy": "vote_entropy", "budget": 1, "probs": PROBS}, "needs committee"),
        ({"strategy": "diversity", "budget": 1, "probs": PROBS}, "needs features"),
        ({"strategy": "random", "budget": 1}, "pool size is unknown"),
        ({"strategy": "margin", "budget": 1, "probs": [[0.5, 0.6]]}, "rows must sum to 1"),
        ({"strategy": "margin", "budget": 1, "probs": [[np.nan, 1.0]]}, "NaN or infinite"),
        ({"strategy": "margin", "budget": 1, "probs": [[-0.5, 1.5]]}, "negative values"),
        ({"strategy": "margin", "budget": 1, "probs": [0.5, 0.5]}, "must be 2-D"),
        ({"strategy": "margin", "budget": 1, "probs": [[1.0]] * 2}, "at least 2 columns"),
        ({"strategy": "vote_entropy", "budget": 1, "committee": [PROBS]}, "at least 2 model versions"),
        ({"strategy": "diversity", "budget": 1, "features": [[np.inf, 0.0]]}, "features has NaN"),
        ({"strategy": "hybrid", "budget": 1, "probs": PROBS, "features": np.ones((4, 2))}, "features has 4 rows"),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "cluster_ids": [1, 2]}, "cluster_ids has 2 rows"),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "cluster_ids": ["a"] * 5}, "integers or None"),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "slice_quota": 2}, "slice_quota needs slices"),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "costs": [1, 1, 0, 1, 1]}, "costs must be finite"),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "ages": [1] * 5}, "needs both ages"),
        (
            {"strategy": "margin", "budget": 1, "probs": PROBS, "ages": [1] * 5, "freshness_half_life": 0},
            "freshness_half_life must be a finite number > 0",
        ),
        ({"strategy": "margin", "budget": 1, "probs": PROBS, "already_selected": [9]}, "outside 0..4"),
        ({"strategy": "hybrid", "budget": 1, "probs": PROBS, "features": PROBS, "shortlist_factor": 0.5}, ">= 1"),
        ({"strategy": "diversity", "budget": 1, "features": PROBS, "metric": "manhattan"}, "metric must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs: dict[str, Any], message: str) -> None:
    strategy = kwargs.pop("strategy")
    with pytest.raises(InvalidInputError, match=message):
        select(strategy, **kwargs)


def test_bad_input_to_the_building_blocks() -> None:
    with pytest.raises(InvalidInputError, match="method must be one of"):
        uncertainty_scores(PROBS, "variance")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must be 3-D"):
        vote_entropy(PROBS)
    with pytest.raises(InvalidInputError, match="features must be 2-D"):
        k_center_greedy([1.0, 2.0], 1)


def test_public_api() -> None:
    assert sorted(strategies.__all__) == sorted(
        [
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
    )
