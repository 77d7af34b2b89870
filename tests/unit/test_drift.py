"""Drift detection: known answers against scipy, planted shifts, false-positive rates, slices, bad input."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon as scipy_js

from labelloop.errors import InvalidInputError
from labelloop.quality import drift
from labelloop.quality.drift import (
    DriftThresholds,
    FeatureThresholds,
    categorical_drift,
    chi_squared,
    drift_report,
    embedding_drift,
    jensen_shannon,
    ks_2samp,
    label_drift,
    numeric_drift,
    prediction_drift,
    psi,
    select_window,
    text_drift,
)

# ------------------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov against scipy
# ------------------------------------------------------------------------------------------------------


def _samples(kind: str, n1: int, n2: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(size=n1), rng.normal(size=n2)
    if kind == "shifted":
        return rng.normal(size=n1), rng.normal(0.05, 1.0, size=n2)
    if kind == "ties":  # integer values: ties inside and across the windows
        return rng.integers(0, 12, n1).astype(float), rng.integers(0, 13, n2).astype(float)
    if kind == "rounded":  # mostly distinct values with some exact cross-window ties
        return np.round(rng.normal(size=n1), 2), np.round(rng.normal(0.1, 1.0, size=n2), 2)
    if kind == "infinite":
        a, b = rng.normal(size=n1), rng.normal(size=n2)
        a[:3], b[-2:] = np.inf, -np.inf
        return a, b
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["continuous", "shifted", "ties", "rounded", "infinite"])
@pytest.mark.parametrize(("n1", "n2", "seed"), [(7, 5, 0), (100, 130, 1), (2_000, 2_000, 2), (30_000, 41_000, 3)])
def test_ks_equals_scipy_asymp(kind: str, n1: int, n2: int, seed: int) -> None:
    a, b = _samples(kind, n1, n2, seed)
    ours = ks_2samp(a, b)
    ref = sps.ks_2samp(a, b, method="asymp")
    assert ours.statistic == float(ref.statistic)  # bit-identical, not just within 1e-12
    assert abs(ours.pvalue - float(ref.pvalue)) <= 1e-9
    assert ours.statistic_sign == int(ref.statistic_sign)
    assert (ours.n_ref, ours.n_cur) == (n1, n2)


@pytest.mark.parametrize("seed", range(3))
def test_ks_drops_nans_like_scipy_omit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=500), rng.normal(0.2, 1.0, size=700)
    a[rng.random(500) < 0.1] = np.nan
    b[rng.random(700) < 0.3] = np.nan
    ours = ks_2samp(a, b)
    ref = sps.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)], method="asymp")
    assert ours.statistic == float(ref.statistic)
    assert abs(ours.pvalue - float(ref.pvalue)) <= 1e-9
    assert ours.n_ref == int((~np.isnan(a)).sum())


def test_ks_pvalue_in_scipys_slow_branch_matches() -> None:
    # n_eff > 20,000 and 2.2 <= n*d^2 < 370: our vectorised Smirnov sum instead of scipy's one-by-one sum
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=50_000), rng.normal(0.03, 1.0, size=50_000)
    ours, ref = ks_2samp(a, b), sps.ks_2samp(a, b, method="asymp")
    n_eff = 25_000
    assert 2.2 <= n_eff * ours.statistic**2 < 370  # the test really exercises that branch
    assert ours.statistic == float(ref.statistic)
    assert 1e-9 < ref.pvalue < 0.05
    assert abs(ours.pvalue - float(ref.pvalue)) <= 1e-12


@pytest.mark.parametrize("nx2", [2.2, 4.0, 9.0, 30.0, 200.0])
def test_vectorised_smirnov_agrees_with_scipy(nx2: float) -> None:
    n = 30_001
    d = math.sqrt(nx2 / n)
    assert drift._kstwo_sf(d, float(n)) == pytest.approx(float(sps.kstwo.sf(d, n)), rel=1e-9, abs=0)


def test_ks_exact_mode_delegates_to_scipy() -> None:
    a, b = _samples("rounded", 40, 35, 5)
    ours, ref = ks_2samp(a, b, method="exact"), sps.ks_2samp(a, b, method="exact")
    assert (ours.statistic, ours.pvalue) == (float(ref.statistic), float(ref.pvalue))
    with pytest.raises(InvalidInputError):
        ks_2samp(a, b, method="nope")  # type: ignore[arg-type]


def test_ks_needs_values_on_both_sides() -> None:
    with pytest.raises(InvalidInputError):
        ks_2samp([1.0, 2.0], [np.nan, np.nan])
    with pytest.raises(InvalidInputError):
        ks_2samp([], [1.0])


# ------------------------------------------------------------------------------------------------------
# PSI
# ------------------------------------------------------------------------------------------------------


def test_psi_hand_example() -> None:
    # bins=2: one edge at the reference median 2 (bins (-inf, 2], (2, inf)); reference 50/50, current 75/25
    result = psi([1, 2, 3, 4], [1, 1, 1, 4], bins=2)
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert result.edges == (2.0,)
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert result.ref_shares == (0.5, 0.5, 0.0) and result.cur_shares == (0.75, 0.25, 0.0)


def test_psi_counts_missing_values_as_their_own_bin() -> None:
    ref = [1.0, 2.0, 3.0, 4.0]
    cur = [1.0, 2.0, 3.0, 4.0, None, None, None, None]
    result = psi(ref, cur, bins=2)
    assert result.ref_missing_share == 0.0 and result.cur_missing_share == 0.5
    # shares over all rows: current (0.25, 0.25, 0.5 missing); the empty reference missing bin is floored
    eps = drift.PSI_EPS
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.5 - eps) * math.log(0.5 / eps)
    assert result.value == pytest.approx(expected, rel=1e-12)


def test_psi_merges_duplicate_quantile_edges_of_a_point_mass() -> None:
    ref = np.array([0.0] * 900 + list(range(1, 101)), dtype=float)
    result = psi(ref, ref, bins=10)
    assert result.edges == (0.0,)  # the 0.1 .. 0.9 quantiles are all 0: merged into one edge
    assert result.ref_shares == (0.9, 0.1, 0.0)
    assert result.value == 0.0
    moved = psi(ref, np.concatenate([ref[:500], ref[:500] + 200]), bins=10)
    assert math.isfinite(moved.value) and moved.value > 0.2


def test_psi_floors_empty_bins_so_it_stays_finite() -> None:
    rng = np.random.default_rng(0)
    result = psi(rng.normal(size=1000), np.full(1000, 100.0))
    assert math.isfinite(result.value)
    # everything in the top bin: 9 bins at 0 (floored to eps) and the top bin at 1
    eps = drift.PSI_EPS
    expected = 9 * (eps - 0.1) * math.log(eps / 0.1) + (1 - 0.1) * math.log(1 / 0.1)
    assert result.value == pytest.approx(expected, rel=1e-9)


def test_psi_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInputError):
        psi([1.0], [1.0], bins=1)
    with pytest.raises(InvalidInputError):
        psi([], [1.0])
    with pytest.raises(InvalidInputError):
        psi(["a", "b"], [1.0])


# ------------------------------------------------------------------------------------------------------
# Categorical against scipy
# ------------------------------------------------------------------------------------------------------


def _categories(seed: int, n1: int, n2: int) -> tuple[list[Any], list[Any]]:
    rng = np.random.default_rng(seed)
    ref = rng.choice(["a", "b", "c", "d"], n1, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    cur = rng.choice(["a", "b", "c", "e"], n2, p=[0.3, 0.3, 0.3, 0.1]).tolist()  # d vanishes, e is new
    return ref, cur


def _count_vectors(ref: list[Any], cur: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    cats = sorted(set(ref) | set(cur), key=str)
    rc, cc = Counter(ref), Counter(cur)
    return np.array([rc[c] for c in cats], dtype=float), np.array([cc[c] for c in cats], dtype=float)


@pytest.mark.parametrize(("seed", "n1", "n2"), [(0, 50, 60), (1, 500, 300), (2, 5_000, 7_000)])
def test_chi_squared_equals_scipy_contingency(seed: int, n1: int, n2: int) -> None:
    ref, cur = _categories(seed, n1, n2)
    ours = chi_squared(ref, cur)
    stat, p, dof, _ = sps.chi2_contingency(np.vstack(_count_vectors(ref, cur)), correction=False)
    assert ours.statistic == pytest.approx(stat, rel=1e-12)
    assert ours.dof == dof
    assert ours.pvalue == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert ours.only_in_reference == ("d",) and ours.only_in_current == ("e",)


def test_chi_squared_single_category_and_missing_values() -> None:
    same = chi_squared(["a"] * 5, ["a"] * 9)
    assert (same.statistic, same.dof, same.pvalue) == (0.0, 0, 1.0)
    with_missing = chi_squared(["a", None, "b"], ["a", "b", "b", float("nan")])
    assert None in with_missing.categories  # missing (None and NaN) is one category
    without = chi_squared(["a", None, "b"], ["a", "b", "b", None], include_missing=False)
    assert None not in without.categories


@pytest.mark.parametrize(("seed", "n1", "n2"), [(0, 30, 40), (1, 1_000, 800), (2, 20_000, 20_000)])
def test_jensen_shannon_equals_scipy(seed: int, n1: int, n2: int) -> None:
    ref, cur = _categories(seed, n1, n2)
    ours = jensen_shannon(ref, cur)
    p, q = _count_vectors(ref, cur)
    assert ours.distance == pytest.approx(float(scipy_js(p, q, base=2)), rel=1e-12, abs=1e-15)
    assert ours.divergence == pytest.approx(ours.distance**2, rel=1e-12)
    assert jensen_shannon(["a"], ["b"]).distance == 1.0
    natural = jensen_shannon(ref, cur, base=math.e)
    assert natural.distance == pytest.approx(float(scipy_js(p, q)), rel=1e-12)


def test_categorical_input_formats_agree() -> None:
    ref, cur = _categories(3, 400, 400)
    from_lists = chi_squared(ref, cur).statistic
    assert chi_squared(np.array(ref), np.array(cur)).statistic == pytest.approx(from_lists, rel=1e-12)
    assert chi_squared(pa.array(ref), pa.chunked_array([cur[:100], cur[100:]])).statistic == pytest.approx(
        from_lists, rel=1e-12
    )
    assert chi_squared(pa.array(ref).dictionary_encode(), pa.array(cur)).statistic == pytest.approx(
        from_lists, rel=1e-12
    )


# ------------------------------------------------------------------------------------------------------
# Planted shifts are detected
# ------------------------------------------------------------------------------------------------------


def test_mean_shift_alerts() -> None:
    rng = np.random.default_rng(0)
    result = numeric_drift(rng.normal(size=5000), rng.normal(0.5, 1.0, size=5000), name="x")
    assert result.severity == "alert"
    assert result.metrics["ks_sign"] == 1 and result.metrics["psi"] > 0.2


def test_variance_change_alerts() -> None:
    rng = np.random.default_rng(1)
    result = numeric_drift(rng.normal(size=5000), rng.normal(0.0, 2.0, size=5000))
    assert result.severity == "alert"
    assert abs(result.metrics["cur_mean"] - result.metrics["ref_mean"]) < 0.1  # the mean did not move


def test_small_mean_shift_only_warns() -> None:
    rng = np.random.default_rng(2)
    result = numeric_drift(rng.normal(size=20_000), rng.normal(0.2, 1.0, size=20_000))
    assert result.severity == "warn", result.reasons


def test_missing_surge_alerts_through_the_missing_bin() -> None:
    rng = np.random.default_rng(3)
    cur = rng.normal(size=5000)
    cur[:2500] = np.nan
    result = numeric_drift(rng.normal(size=5000), cur)
    assert result.severity == "alert"
    assert result.cur_missing_share == 0.5 and result.ref_missing_share == 0.0


def test_new_category_alerts() -> None:
    rng = np.random.default_rng(4)
    ref = rng.choice(["a", "b", "c"], 3000).tolist()
    cur = rng.choice(["a", "b", "c"], 2000).tolist() + ["new"] * 1000
    result = categorical_drift(ref, cur, name="colour")
    assert result.severity == "alert"
    assert result.metrics["new_categories"] == ["new"]


def test_label_shift_alerts() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["spam", "ham"], 4000, p=[0.1, 0.9])
    cur = rng.choice(["spam", "ham"], 4000, p=[0.4, 0.6])
    result = label_drift(ref, cur)
    assert result.kind == "label" and result.severity == "alert"
    same = label_drift(ref, rng.choice(["spam", "ham"], 4000, p=[0.1, 0.9]))
    assert same.severity == "ok"


def test_prediction_drift_on_classes_and_confidence() -> None:
    rng = np.random.default_rng(6)
    ref = rng.dirichlet([2, 2, 2], 3000)
    confident = rng.dirichlet([0.2, 0.2, 0.2], 3000)  # same classes, far more confident
    result = prediction_drift(ref, confident)
    assert result.severity == "alert"
    assert any("confidence_" in r for r in result.reasons)
    assert prediction_drift(ref, rng.dirichlet([2, 2, 2], 3000)).severity == "ok"
    # binary model given as P(positive)
    binary = prediction_drift(rng.beta(2, 5, 3000), rng.beta(5, 2, 3000))
    assert binary.severity == "alert" and binary.metrics["class_chi2_dof"] == 1


WORDS = [f"w{i}" for i in range(2000)]
_WEIGHTS = 1 / np.arange(1, 2001) ** 1.1
_WEIGHTS /= _WEIGHTS.sum()


def _texts(rng: np.random.Generator, n: int, extra: list[str] | None = None) -> list[str]:
    """``n`` texts of 5-24 words drawn from one Zipf-like vocabulary (plus 3 words of ``extra`` each)."""
    lengths = rng.integers(5, 25, n)
    words = np.array(WORDS)[rng.choice(len(WORDS), size=int(lengths.sum()), p=_WEIGHTS)]
    texts = [" ".join(chunk) for chunk in np.split(words, np.cumsum(lengths)[:-1])]
    if extra:
        texts = [t + " " + " ".join(rng.choice(extra, 3)) for t in texts]
    return texts


def test_oov_surge_alerts_and_lists_new_tokens() -> None:
    rng = np.random.default_rng(7)
    ref = _texts(rng, 800)
    cur = _texts(rng, 800, extra=[f"novel{i}" for i in range(50)])
    result = text_drift(ref, cur)
    assert result.oov_increase > 0.05 and result.oov_pvalue < 1e-6
    assert result.oov_baseline is not None and result.oov_current_vs_half > result.oov_baseline + 0.05
    assert all(tok.startswith("novel") for tok, _ in result.new_tokens)
    # without a change the increase is ~0 although the natural rate of unseen words is not
    same = text_drift(ref, _texts(rng, 800))
    assert same.oov_baseline is not None and same.oov_baseline > 0.03
    assert abs(same.oov_increase) < 0.02
    report = drift_report({"t": ref}, {"t": cur}, text=["t"])
    assert report.feature("t").severity == "alert"
    assert any("oov" in r for r in report.feature("t").reasons)


def test_text_length_drift_and_missing_texts() -> None:
    ref = ["short text"] * 300 + [None] * 10
    cur = ["a much much longer text than before, with many more words in it"] * 300
    result = text_drift(ref, cur)
    assert result.length_psi.value > 1 and result.length_psi.ref_missing_share == pytest.approx(10 / 310)
    assert result.length_ks is not None and result.length_ks.statistic == 1.0
    tokens = text_drift(ref, cur, length="tokens")
    assert tokens.cur_mean_length == 13.0


def test_embedding_shift_is_detected() -> None:
    rng = np.random.default_rng(8)
    ref = rng.normal(size=(600, 16))
    shifted = rng.normal(size=(600, 16))
    shifted[:, 0] += 1.0  # one direction moves by one standard deviation
    result = embedding_drift(ref, shifted)
    assert result.mmd_pvalue < 0.01 and result.mmd2 > 0.01
    report = drift_report({"e": ref}, {"e": shifted}, embeddings=["e"])
    assert report.feature("e").severity == "alert"
    same = embedding_drift(ref, rng.normal(size=(600, 16)))
    assert same.mmd_pvalue > 0.01


def test_embedding_cosine_distance_of_means() -> None:
    rng = np.random.default_rng(9)
    base = np.zeros(8)
    base[0] = 5.0
    ref = base + rng.normal(size=(300, 8))
    turned = np.roll(base, 1) + rng.normal(size=(300, 8))
    result = embedding_drift(ref, turned, permutations=50)
    assert result.mean_cosine_distance == pytest.approx(1.0, abs=0.1)  # orthogonal means
    assert embedding_drift(ref, ref, permutations=20).mean_cosine_distance == pytest.approx(0.0, abs=1e-12)


def test_embedding_columns_from_pyarrow_lists() -> None:
    rng = np.random.default_rng(10)
    vectors = rng.normal(size=(50, 4))
    column = pa.array(vectors.tolist(), type=pa.list_(pa.float64(), 4))
    result = drift_report({"e": column}, {"e": pa.array(vectors.tolist())}, embeddings=["e"])
    assert result.feature("e").severity == "ok" and result.feature("e").n_ref == 50


def test_every_kind_in_one_report_with_slices_is_json_safe() -> None:
    rng = np.random.default_rng(12)
    n = 1200

    def window(shift: float) -> pa.Table:
        vectors = rng.normal(size=(n, 4)).tolist()
        vectors[0] = None  # a missing vector row
        return pa.table(
            {
                "x": rng.normal(shift, 1.0, n),
                "c": rng.choice(["a", "b"], n),
                "t": [" ".join(rng.choice(["one", "two", "three"], 4)) for _ in range(n)],
                "e": pa.array(vectors, type=pa.list_(pa.float64())),
                "y": rng.choice(["pos", "neg"], n),
                "p": pa.array(rng.dirichlet([1, 1], n).tolist()),
                "s": rng.choice(["u", "v"], n),
            }
        )

    report = drift_report(
        window(0.0),
        window(1.0),
        categorical=["c"],
        text=["t"],
        embeddings=["e"],
        label="y",
        prediction="p",
        slice_by="s",
    )
    kinds = {f.name: f.kind for f in report.features}
    assert kinds == {
        "x": "numeric",
        "c": "categorical",
        "t": "text",
        "e": "embedding",
        "y": "label",
        "p": "prediction",
    }
    assert report.feature("e").ref_missing_share == pytest.approx(1 / n)
    assert len(report.slices) == 2 * len(report.features)
    assert {a.feature for a in report.alerts} == {"x"}
    json.dumps(report.to_dict(), allow_nan=False)


# ------------------------------------------------------------------------------------------------------
# Identical distributions are not flagged: measured false-positive rates
# ------------------------------------------------------------------------------------------------------


def test_false_positive_rate_numeric() -> None:
    """Same distribution, n = 5,000 vs 5,000, 300 seeded repetitions: no alert and no warning (measured 0/300).

    At smaller n the two p-value gates hold the rate near their level (measured over 300 repetitions:
    n = 200 vs 200, 2-3 % alerts; n = 500, 0.3 % alerts, 0.7 % warnings; n = 1,000 log-normal, 0 alerts,
    2 % warnings).
    """
    severities: Counter[str] = Counter()
    for seed in range(300):
        rng = np.random.default_rng(seed)
        severities[numeric_drift(rng.normal(size=5000), rng.normal(size=5000)).severity] += 1
    assert severities["alert"] == 0
    assert severities["warn"] <= 3  # < 1 %; measured 0
    small: Counter[str] = Counter()
    for seed in range(300):
        rng = np.random.default_rng(10_000 + seed)
        small[numeric_drift(rng.lognormal(size=1000), rng.lognormal(size=1000)).severity] += 1
    assert small["alert"] <= 3


def test_false_positive_rate_categorical() -> None:
    """20 categories with unequal shares, n = 5,000 vs 5,000, 300 repetitions: alerts < 1 % (measured 0)."""
    p = np.linspace(1, 3, 20)
    p /= p.sum()
    severities: Counter[str] = Counter()
    for seed in range(300):
        rng = np.random.default_rng(seed)
        ref, cur = pa.array(rng.choice(20, 5000, p=p)), pa.array(rng.choice(20, 5000, p=p))
        severities[categorical_drift(ref, cur).severity] += 1
    assert severities["alert"] == 0
    assert severities["warn"] <= 3


def test_false_positive_rate_text() -> None:
    """400 vs 400 texts from one Zipf vocabulary, 20 repetitions: no alert (measured 0)."""
    severities: Counter[str] = Counter()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        report = drift_report({"t": _texts(rng, 400)}, {"t": _texts(rng, 400)}, text=["t"], workers=1)
        severities[report.feature("t").severity] += 1
    assert severities["alert"] == 0


def test_false_positive_rate_embeddings() -> None:
    """400 vs 400 vectors (16-d), 10 repetitions: no alert (measured 0; the permutation test has level 1 %)."""
    alerts = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        report = drift_report(
            {"e": rng.normal(size=(400, 16))}, {"e": rng.normal(size=(400, 16))}, embeddings=["e"], seed=seed
        )
        alerts += report.feature("e").severity == "alert"
    assert alerts == 0


# ------------------------------------------------------------------------------------------------------
# The report: tables, loaders, slices, thresholds, JSON
# ------------------------------------------------------------------------------------------------------


def _windows(n: int = 4000, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ref = pa.table(
        {
            "stable": rng.normal(size=n),
            "moved": rng.normal(size=n),
            "count": rng.poisson(3, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["pos", "neg"], n, p=[0.3, 0.7]),
        }
    )
    cur = pa.table(
        {
            "stable": rng.normal(size=n),
            "moved": rng.normal(1.0, 1.0, size=n),
            "count": rng.poisson(3, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["pos", "neg"], n, p=[0.3, 0.7]),
        }
    )
    return ref, cur


def test_report_flags_exactly_the_moved_feature_and_is_json_safe() -> None:
    ref, cur = _windows()
    report = drift_report(ref, cur, categorical=["colour"], label="label")
    assert [f.name for f in report.features] == ["stable", "moved", "count", "colour", "label"]
    assert [(a.feature, a.severity) for a in report.alerts] == [("moved", "alert")]
    assert report.feature("label").kind == "label" and report.feature("count").kind == "numeric"
    assert report.severity == "alert" and (report.n_ref, report.n_cur) == (4000, 4000)
    encoded = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(encoded)["alerts"][0]["feature"] == "moved"
    with pytest.raises(InvalidInputError):
        report.feature("nope")


def test_report_from_loaders_streams_each_column_once_and_matches_the_table() -> None:
    ref, cur = _windows()
    calls: Counter[tuple[str, str]] = Counter()

    def loader(table: pa.Table, side: str) -> Any:
        def load(name: str) -> Any:
            calls[(side, name)] += 1
            return table.column(name)

        return load

    streamed = drift_report(
        loader(ref, "ref"), loader(cur, "cur"), columns=["stable", "moved"], categorical=["colour"], workers=2
    )
    direct = drift_report(ref, cur, columns=["stable", "moved"], categorical=["colour"])
    assert streamed.to_dict() == direct.to_dict()
    assert set(calls.values()) == {1} and len(calls) == 6


def test_report_with_numpy_mapping_and_nan_column() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(size=3000)
    b[:] = np.nan  # entirely missing now
    report = drift_report({"x": a}, {"x": b})
    fd = report.feature("x")
    assert fd.severity == "alert" and fd.metrics["ks_statistic"] is None and fd.cur_missing_share == 1.0


def test_report_per_slice_finds_drift_hidden_in_one_slice() -> None:
    rng = np.random.default_rng(2)
    n = 6000
    region_ref = rng.choice(["north", "south", "east"], n, p=[0.45, 0.45, 0.1]).tolist()
    region_cur = rng.choice(["north", "south", "east"], n, p=[0.45, 0.45, 0.1]).tolist()
    region_ref[:20] = ["tiny"] * 20
    region_cur[:20] = ["tiny"] * 20
    x_ref = rng.normal(size=n)
    x_cur = rng.normal(size=n)
    east = np.array(region_cur) == "east"
    x_cur[east] += 1.5  # only the east slice moved
    report = drift_report(
        pa.table({"x": x_ref, "region": region_ref}),
        pa.table({"x": x_cur, "region": region_cur}),
        slice_by="region",
        min_slice_rows=200,
    )
    assert [f.name for f in report.features] == ["x"]  # the slice column is not a feature
    by_slice = {f.slice[1]: f.severity for f in report.slices if f.slice}
    assert by_slice == {"east": "alert", "north": "ok", "south": "ok"}
    assert [(s.value, s.n_ref) for s in report.skipped_slices] == [("tiny", 20)]
    assert ("x", ("region", "east")) in [(a.feature, a.slice) for a in report.alerts]
    assert report.to_dict()["slices"][0]["slice"]["column"] == "region"


def test_per_feature_thresholds_override_the_default() -> None:
    ref, cur = _windows()
    lenient = DriftThresholds.with_overrides({"moved": {"psi_alert": 5.0, "psi_warn": 5.0, "ks_alert": 1.0}})
    report = drift_report(ref, cur, columns=["stable", "moved"], thresholds=lenient)
    assert report.feature("moved").severity == "warn"  # KS statistic 0.38 still >= ks_warn 0.05
    strict = DriftThresholds(default=FeatureThresholds(psi_warn=0.0001, psi_pvalue=1.0))
    assert drift_report(ref, cur, columns=["stable"], thresholds=strict).feature("stable").severity == "warn"


def test_select_window_cuts_by_time() -> None:
    table = pa.table({"t": [1, 2, 3, None, 5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert select_window(table, "t", 2, 5).column("x").to_pylist() == [2.0, 3.0]
    assert select_window(table, "t", end=2).num_rows == 1
    assert select_window(table, "t").num_rows == 4  # null times are in no window
    with pytest.raises(InvalidInputError):
        select_window(table, "nope", 1)
    with pytest.raises(InvalidInputError):
        select_window(table, "t", "not a number")


# ------------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------------


def test_empty_window_raises() -> None:
    ref, _ = _windows(100)
    with pytest.raises(InvalidInputError, match="current window is empty"):
        drift_report(ref, ref.slice(0, 0))
    with pytest.raises(InvalidInputError, match="empty"):
        numeric_drift([], [1.0])


def test_mismatched_columns_raise() -> None:
    ref, cur = _windows(100)
    with pytest.raises(InvalidInputError, match="different columns") as info:
        drift_report(ref, cur.drop_columns(["stable"]))
    assert info.value.details["only_in_reference"] == ["stable"]
    with pytest.raises(InvalidInputError, match="'extra' is missing from the reference"):
        drift_report(ref, cur.append_column("extra", pa.array(range(100))), columns=["extra"])


def test_non_numeric_column_raises_naming_it() -> None:
    ref, cur = _windows(100)
    with pytest.raises(InvalidInputError, match="'colour' is not numeric") as info:
        drift_report(ref, cur, columns=["stable", "colour"])
    assert info.value.details["column"] == "colour"
    with pytest.raises(InvalidInputError, match="'x'"):
        drift_report({"x": np.array(["1", "2"])}, {"x": np.array([1.0, 2.0])})
    with pytest.raises(InvalidInputError, match="'x'"):
        drift_report({"x": [1.0, "two"]}, {"x": [1.0, 2.0]})


def test_other_bad_report_arguments_raise() -> None:
    ref, cur = _windows(100)
    with pytest.raises(InvalidInputError, match="columns= is required"):
        drift_report(ref.column, cur.column)
    with pytest.raises(InvalidInputError, match="both categorical and text"):
        drift_report(ref, cur, categorical=["colour"], text=["colour"])
    with pytest.raises(InvalidInputError, match="rows"):
        drift_report(ref, {k: cur.column(k)[:50] if k == "moved" else cur.column(k) for k in cur.column_names})
    with pytest.raises(InvalidInputError):
        drift_report(ref, 42)
    with pytest.raises(InvalidInputError):
        drift_report(ref, cur, min_slice_rows=0)
    with pytest.raises(InvalidInputError, match="not text"):
        drift_report(ref, cur, columns=["stable"], text=["stable"])


def test_thresholds_are_validated() -> None:
    with pytest.raises(InvalidInputError):
        FeatureThresholds(psi_warn=0.3, psi_alert=0.2)
    with pytest.raises(InvalidInputError):
        FeatureThresholds(ks_pvalue=0.0)
    with pytest.raises(InvalidInputError):
        FeatureThresholds(js_alert=float("nan"))
    with pytest.raises(InvalidInputError, match="psi_alrt"):
        DriftThresholds.with_overrides({"x": {"psi_alrt": 0.3}})


def test_embedding_and_prediction_shape_errors() -> None:
    with pytest.raises(InvalidInputError):
        embedding_drift(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(InvalidInputError):
        embedding_drift(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(InvalidInputError):
        prediction_drift(np.full((5, 3), 1 / 3), np.full((5, 2), 0.5))


# ------------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60), st.integers(2, 12))
def test_property_psi_and_ks_of_a_sample_against_itself_are_zero(xs: list[float], bins: int) -> None:
    assert psi(xs, xs, bins=bins).value == 0.0
    assert ks_2samp(xs, xs).statistic == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=40),
    st.lists(st.sampled_from(["a", "b", "c", "e", None]), min_size=1, max_size=40),
)
def test_property_jensen_shannon_is_symmetric_and_bounded(ref: list[Any], cur: list[Any]) -> None:
    forward, backward = jensen_shannon(ref, cur), jensen_shannon(cur, ref)
    assert forward.distance == backward.distance
    assert 0.0 <= forward.distance <= 1.0


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy's own kstwo with 1 vs 1 values
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5).map(float) | finite, min_size=1, max_size=50),
    st.lists(st.integers(-5, 5).map(float) | finite, min_size=1, max_size=50),
)
def test_property_ks_statistic_equals_scipy(ref: list[float], cur: list[float]) -> None:
    ours = ks_2samp(ref, cur)
    theirs = sps.ks_2samp(ref, cur, method="asymp")
    assert ours.statistic == float(theirs.statistic)
    if not math.isnan(theirs.pvalue):
        assert abs(ours.pvalue - float(theirs.pvalue)) <= 1e-9
