"""Hash splits: deterministic, in the given ratios, independent of the other records, stable."""

from __future__ import annotations

import hashlib

import pytest

from labelloop.errors import InvalidInputError
from labelloop.releases.splits import SplitSpec, split_of, unit_hash


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
