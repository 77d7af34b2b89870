"""Hash splits: deterministic, in the given ratios, independent of the other records, stable."""

from __future__ import annotations

import hashlib

import pytest

from labelloop.errors import InvalidInputError
from labelloop.releases.splits import SPLITS, SplitIndex, SplitSpec, StratifiedSplitter, split_of, unit_hash


def test_split_is_a_pure_function_of_salt_and_key() -> None:
    spec = SplitSpec()
    assert [split_of(f"r{i}", spec) for i in range(500)] == [split_of(f"r{i}", spec) for i in range(500)]
    assert 0.0 <= unit_hash("s", "k") < 1.0
    assert unit_hash("s", "k") != unit_hash("t", "k") and unit_hash("s", "k") != unit_hash("s", "j")
    # salt and key are separated: ("ab", "c") and ("a", "bc") are different inputs
    assert unit_hash("ab", "c") != unit_hash("a", "bc")


def test_ratios_are_respected_on_many_keys() -> None:
    spec = SplitSpec(0.7, 0.2, 0.1, "x")
    counts = {"train": 0, "validation": 0, "test": 0}
    for i in range(20_000):
        counts[split_of(f"item-{i}", spec)] += 1
    assert counts["train"] / 20_000 == pytest.approx(0.7, abs=0.015)
    assert counts["validation"] / 20_000 == pytest.approx(0.2, abs=0.015)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.015)


def test_a_key_keeps_its_split_when_the_data_grows_and_test_never_goes_to_train() -> None:
    spec = SplitSpec()
    first = {f"r{i}": split_of(f"r{i}", spec) for i in range(1_000)}
    later = {f"r{i}": split_of(f"r{i}", spec) for i in range(5_000)}  # four times the data
    assert all(later[k] == v for k, v in first.items())
    # growing the training share only ever moves records from validation/test into train,
    # which is why a release refuses new ratios unless a resplit is allowed
    wider = SplitSpec(0.9, 0.05, 0.05)
    assert all(split_of(k, wider) == "train" for k, v in first.items() if v == "train")


def test_known_answer_pins_the_hash() -> None:
    # a change of hash function would silently move records between splits: pin it
    expected = int.from_bytes(hashlib.blake2b(b"labelloop\x00r1", digest_size=8).digest(), "big") / 2**64
    assert unit_hash("labelloop", "r1") == expected
    pinned = {k: split_of(k, SplitSpec()) for k in "abcdefgh"}
    assert pinned == {
        "a": "train", "b": "train", "c": "test", "d": "train", "e": "train", "f": "train", "g": "train", "h": "train",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("ratios", "message"),
    [((0.5, 0.5, 0.5), "sum to 1"), ((-0.1, 0.6, 0.5), "between 0 and 1"), ((0.8, 0.1, 0.1, ""), "salt")],
)
def test_bad_specs_are_refused(ratios: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SplitSpec(*ratios)  # type: ignore[arg-type]


def test_spec_round_trips_through_json() -> None:
    spec = SplitSpec(0.6, 0.3, 0.1, "s")
    assert SplitSpec.from_dict(spec.as_dict()) == spec


# -- stratified mode ---------------------------------------------------------------------------------------


def stratified(
    items: list[tuple[str, str | None]], spec: SplitSpec, earlier: SplitIndex | None = None
) -> dict[str, str]:
    splitter = StratifiedSplitter(spec, earlier)
    for key, label in items:
        splitter.add(key, label)
    index = splitter.assign()
    keys = [key for key, _ in items]
    found = index.splits(keys)
    assert None not in found
    return dict(zip(keys, found, strict=True))  # type: ignore[arg-type]


def per_class(splits: dict[str, str], labels: dict[str, str | None]) -> dict[str | None, list[int]]:
    counts: dict[str | None, list[int]] = {}
    for key, split in splits.items():
        counts.setdefault(labels[key], [0, 0, 0])[SPLITS.index(split)] += 1
    return counts


def test_stratified_keeps_a_small_class_in_ratio() -> None:
    items = [(f"rare-{i}", "rare") for i in range(10)] + [(f"common-{i}", "common") for i in range(90)]
    items += [(f"none-{i}", None) for i in range(20)]
    spec = SplitSpec(0.8, 0.1, 0.1, "s", stratify=True)
    counts = per_class(stratified(items, spec), dict(items))
    assert counts == {"rare": [8, 1, 1], "common": [72, 9, 9], None: [16, 2, 2]}


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.7, 0.2, 0.1), (1 / 3, 1 / 3, 1 / 3), (0.5, 0.5, 0.0)])
def test_every_class_size_stays_within_one_item_of_its_shares(ratios: tuple[float, float, float]) -> None:
    spec = SplitSpec(*ratios, salt="x", stratify=True)
    for n in range(1, 60):
        items = [(f"k{n}-{i}", f"class-{n}") for i in range(n)]
        counts = per_class(stratified(items, spec), dict(items))[f"class-{n}"]
        assert all(abs(c - r * n) < 1 for c, r in zip(counts, ratios, strict=True)), (n, counts)


def test_earlier_keys_keep_their_split_and_new_keys_fill_the_deficits() -> None:
    # five items were (oddly) all released in test: they stay there, and the five new ones of their class go to train
    earlier = SplitIndex.of([(f"old-{i}", "test") for i in range(5)] + [("moved-class", "validation")])
    items = [(f"old-{i}", "x") for i in range(5)] + [(f"new-{i}", "x") for i in range(5)] + [("moved-class", "y")]
    splits = stratified(items, SplitSpec(stratify=True), earlier)
    assert all(splits[f"old-{i}"] == "test" for i in range(5))
    assert all(splits[f"new-{i}"] == "train" for i in range(5))
    assert splits["moved-class"] == "validation"  # inherited, whatever its class is now
    # growing the class later never moves a key that already has a split
    first = stratified([(f"a{i}", "c") for i in range(10)], SplitSpec(stratify=True))
    grown = stratified(
        [(f"a{i}", "c") for i in range(30)], SplitSpec(stratify=True), SplitIndex.of(list(first.items()))
    )
    assert all(grown[k] == v for k, v in first.items())
    assert per_class(grown, dict.fromkeys(grown, "c"))["c"] == [24, 3, 3]


def test_stratified_is_deterministic_and_salted() -> None:
    items = [(f"r{i}", f"c{i % 4}") for i in range(200)]
    spec = SplitSpec(0.6, 0.2, 0.2, "one", stratify=True)
    a = stratified(items, spec)
    assert stratified(list(reversed(items)), spec) == a  # input order does not matter
    assert stratified(items, spec) == a
    other = stratified(items, SplitSpec(0.6, 0.2, 0.2, "two", stratify=True))
    assert other != a  # the salt orders the new items, so it picks which ones go where...
    assert per_class(other, dict(items)) == per_class(a, dict(items))  # ...not how many


def test_records_sharing_a_key_share_its_split() -> None:
    items = [("dup", "c"), ("dup", "c")] + [(f"r{i}", "c") for i in range(8)]
    splitter = StratifiedSplitter(SplitSpec(stratify=True))
    for key, label in items:
        splitter.add(key, label)
    index = splitter.assign()
    assert len(index) == 9
    found = index.splits([key for key, _ in items])
    assert [found.count(s) for s in SPLITS] == [8, 1, 1]  # ten records, the shared key counted twice
    assert index.splits(["never-seen"]) == [None]


def test_stratify_is_in_the_spec_only_when_set() -> None:
    assert "stratify" not in SplitSpec().as_dict()  # hash-mode releases hash as they always did
    spec = SplitSpec(0.7, 0.2, 0.1, "s", stratify=True)
    assert spec.as_dict()["stratify"] is True and SplitSpec.from_dict(spec.as_dict()) == spec
    assert SplitSpec.from_dict({"train": 0.8, "validation": 0.1, "test": 0.1, "salt": "s"}).stratify is False
