"""Unit tests for MinHash + LSH near-duplicate detection (labelloop.domain.minhash)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from labelloop.domain.minhash import (
    EMPTY_SIGNATURE_VALUE,
    HASH_VERSION,
    NO_KEY,
    LshIndex,
    MinHasher,
    MinHashParams,
    NearDupDetector,
    ShingleSets,
    candidate_probability,
    jaccard,
    lsh_bands,
)

WORDS = [f"w{i}" for i in range(5000)]


def text(rng: random.Random, n: int = 50) -> list[str]:
    """n words drawn from a large vocabulary: unrelated texts share (almost) no word 3-gram."""
    return [rng.choice(WORDS) for _ in range(n)]


def replace_word(words: Sequence[str], pos: int, new: str) -> str:
    out = list(words)
    out[pos] = new
    return " ".join(out)


def set_jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Ground truth: Jaccard of word 3-gram sets, computed with Python sets."""
    sa = {tuple(a[i : i + 3]) for i in range(len(a) - 2)}
    sb = {tuple(b[i : i + 3]) for i in range(len(b) - 2)}
    return len(sa & sb) / len(sa | sb)


class Store:
    """The caller's side: texts of stored roots by id, shingled on demand; records the calls."""

    def __init__(self, hasher: MinHasher) -> None:
        self.hasher = hasher
        self.texts: dict[int, str] = {}
        self.calls: list[list[int]] = []

    def remember(self, texts: Sequence[str], ids: Sequence[int]) -> None:
        self.texts.update(zip(ids, texts, strict=True))

    def __call__(self, ids: Sequence[int]) -> Mapping[int, np.ndarray]:
        self.calls.append(list(ids))
        known = [i for i in ids if i in self.texts]
        sets = self.hasher.shingle_sets([self.texts[i] for i in known])
        return {i: sets[k] for k, i in enumerate(known)}


def never_called(ids: Sequence[int]) -> Mapping[int, np.ndarray]:
    raise AssertionError(f"stored_shingles called with {ids}")


# -- determinism and known answers -------------------------------------------------------------------------------

FOX = "The quick brown fox jumps over the lazy dog"
# Hash values of FOX under the default params. They are persisted by callers (band keys) or recomputed next week
# from stored texts (shingles): if this test fails, the hashing changed, and HASH_VERSION must be bumped.
FOX_SHINGLES = [0xA7F4C1CDF2A, 0x1BEB8A40C141, 0x30983192F740, 0x34D4ECC30D0E, 0xB95000DE7C5F, 0xBE201B57170D,
                0xF17BCD2B26AE]  # fmt: skip
FOX_KEYS = [0x5D6C64502AF265F3, 0x2421B34FFD1E9F18, 0x7998DD828BB0DBD1, 0xF2E91A3DE90B6368,
            0x69A72F0C9286C4E3, 0x666CAF3621D35515, 0x41738B2F48E1CD7A, 0x2DC0C09E68DFA7FE,
            0xDFA058F78D03DB00, 0x4B1992BBC96E0139]  # fmt: skip


def test_known_answer_hashes_are_pinned() -> None:
    h = MinHasher(MinHashParams())
    sets = h.shingle_sets([FOX])
    assert sets[0].tolist() == FOX_SHINGLES
    assert h.band_keys(h.signatures(sets))[0].tolist() == FOX_KEYS
    assert HASH_VERSION == 1


CHILD = """
import json, sys
from labelloop.domain.minhash import MinHasher, MinHashParams
texts = json.loads(sys.stdin.read())
out = {}
for name, params in [("word", MinHashParams()), ("char", MinHashParams.for_chars(seed=9))]:
    h = MinHasher(params)
    sets = h.shingle_sets(texts)
    out[name] = [sets.hashes.tolist(), h.band_keys(h.signatures(sets)).tolist()]
print(json.dumps(out))
"""


def test_hashes_are_identical_across_processes_and_hash_seeds() -> None:
    texts = [FOX, "Ünïcödé 中文 — “quotes” 😀", "", "one", "ΟΔΟΣ σοφός", "a\x00b c"]
    here = {}
    for name, params in [("word", MinHashParams()), ("char", MinHashParams.for_chars(seed=9))]:
        h = MinHasher(params)
        sets = h.shingle_sets(texts)
        here[name] = [sets.hashes.tolist(), h.band_keys(h.signatures(sets)).tolist()]
    for seed in ("0", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        assert json.loads(out.stdout) == here, f"PYTHONHASHSEED={seed}"


def test_same_input_same_output() -> None:
    rng = random.Random(1)
    base = [" ".join(text(rng)) for _ in range(30)]
    texts = [*base, base[3], base[7] + " extra", base[3]]
    ids = list(range(100, 100 + len(texts)))
    results = []
    for _ in range(2):
        det = NearDupDetector(MinHashParams())
        results.append(det.process(texts, ids, LshIndex(), never_called))
    a, b = results
    assert a.duplicate_of == b.duplicate_of
    assert a.similarity == b.similarity
    assert np.array_equal(a.roots, b.roots)
    assert np.array_equal(a.keys, b.keys)
    assert a.duplicate_of[30] == 103 and a.duplicate_of[31] == 107 and a.duplicate_of[32] == 103


def test_shingles_do_not_depend_on_the_batch() -> None:
    # more texts than one internal chunk (8,192), so chunk boundaries are crossed
    rng = random.Random(2)
    texts = [" ".join(text(rng, rng.randint(0, 12))) for _ in range(9000)]
    texts[8191] = "Ünïcödé 😀 text"
    h = MinHasher(MinHashParams())
    whole = h.shingle_sets(texts)
    for i in (0, 1, 4000, 8191, 8192, 8999):
        assert np.array_equal(h.shingle_sets([texts[i]])[0], whole[i])
    part = h.shingle_sets(texts[8000:8500])
    assert np.array_equal(part.hashes, whole.hashes[whole.offsets[8000] : whole.offsets[8500]])


def test_a_huge_text_hashes_its_words_like_a_short_one() -> None:
    h = MinHasher(MinHashParams())
    huge = "filler words " * 200_000 + "Alpha beta gamma delta"  # 2.6 M characters: one chunk of its own
    sets = h.shingle_sets([huge, "alpha beta gamma delta", "filler words filler"])
    assert sets.sizes().tolist() == [6, 2, 1]  # fwf, wfw, fwa, wab, abg, bgd
    assert np.isin(sets[1], sets[0]).all() and np.isin(sets[2], sets[0]).all()


# -- signatures -------------------------------------------------------------------------------------------------


def test_signature_estimates_true_jaccard() -> None:
    rng = np.random.default_rng(3)
    h = MinHasher(MinHashParams(num_perm=64))
    errors = []
    for _ in range(300):
        shared = int(rng.integers(0, 80))
        only_a, only_b = (int(x) for x in rng.integers(0, 40, 2))
        pool = np.unique(rng.integers(0, 1 << 48, shared + only_a + only_b + 10, dtype=np.uint64))
        rng.shuffle(pool)
        common, a_own, b_own = pool[:shared], pool[shared : shared + only_a], pool[shared + only_a :][:only_b]
        a, b = np.sort(np.concatenate([common, a_own])), np.sort(np.concatenate([common, b_own]))
        if a.size == 0 or b.size == 0:
            continue
        sets = ShingleSets(np.concatenate([a, b]), np.array([0, a.size, a.size + b.size], dtype=np.int64))
        sig = h.signatures(sets)
        estimate = float(np.mean(sig[0] == sig[1]))
        errors.append(estimate - jaccard(a, b))
    err = np.array(errors)
    assert err.size > 250
    assert abs(err.mean()) < 0.01  # unbiased
    assert np.abs(err).mean() < 0.05  # std at J=0.5 is 0.0625, less elsewhere
    assert np.mean(np.abs(err) < 0.15) > 0.97


def test_signature_shape_dtype_and_empty_rows() -> None:
    h = MinHasher(MinHashParams(num_perm=32))
    sets = h.shingle_sets(["", "a b c d", "  ...!? ", "x"])
    sig = h.signatures(sets)
    assert sig.shape == (4, 32) and sig.dtype == np.uint32
    assert (sig[0] == EMPTY_SIGNATURE_VALUE).all() and (sig[2] == EMPTY_SIGNATURE_VALUE).all()
    assert (sig[1] != EMPTY_SIGNATURE_VALUE).all() and (sig[3] != EMPTY_SIGNATURE_VALUE).all()
    keys = h.band_keys(sig)
    assert keys.shape == (4, h.bands) and keys.dtype == np.uint64
    assert (keys[0] == NO_KEY).all() and (keys[2] == NO_KEY).all()
    assert (keys[1] != NO_KEY).all()


def test_duplicated_shingles_do_not_change_the_signature() -> None:
    h = MinHasher(MinHashParams())
    a = h.shingle_sets(["alpha beta gamma delta"])[0]
    doubled = ShingleSets(np.concatenate([a, a]), np.array([0, 2 * a.size], dtype=np.int64))
    single = ShingleSets(a, np.array([0, a.size], dtype=np.int64))
    assert np.array_equal(h.signatures(doubled), h.signatures(single))


def test_band_keys_differ_between_bands_and_seeds() -> None:
    h = MinHasher(MinHashParams(num_perm=8, bands=4))
    sig = np.full((1, 8), 7, dtype=np.uint32)  # every band holds the same values
    keys = h.band_keys(sig)[0]
    assert len(set(keys.tolist())) == 4
    other = MinHasher(MinHashParams(num_perm=8, bands=4, seed=2)).band_keys(sig)[0]
    assert not set(keys.tolist()) & set(other.tolist())
    with pytest.raises(ValueError, match="signatures must be"):
        h.band_keys(np.zeros((1, 9), dtype=np.uint32))


# -- banding ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_perm", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
def test_lsh_bands_finds_pairs_just_above_the_threshold(threshold: float, num_perm: int) -> None:
    bands, rows = lsh_bands(threshold, num_perm)
    assert bands >= 1 and rows >= 1 and bands * rows <= num_perm
    assert candidate_probability(threshold, bands, rows) >= 0.95
    assert candidate_probability(min(1.0, threshold + 0.05), bands, rows) >= 0.97
    # the largest such rows: one more row would fall below 0.95 at the threshold
    assert candidate_probability(threshold, num_perm // (rows + 1), rows + 1) < 0.95 or rows == num_perm


def test_lsh_bands_defaults() -> None:
    assert lsh_bands(0.8, 64) == (10, 6)
    assert MinHashParams().resolved_bands() == (10, 6)
    assert MinHashParams(bands=16).resolved_bands() == (16, 4)
    assert MinHashParams(num_perm=60, bands=7).resolved_bands() == (7, 8)
    p = candidate_probability(0.85, 10, 6)
    assert 0.99 < p < 0.992


def test_pairs_at_085_share_a_band_as_predicted() -> None:
    # 400 real text pairs with Jaccard ~0.85-0.88 (one word replaced in 40-50 words): P(candidate) = 0.991
    rng = random.Random(4)
    h = MinHasher(MinHashParams())
    texts, sims = [], []
    for _ in range(400):
        words = text(rng, rng.randint(40, 50))
        other = replace_word(words, rng.randint(3, len(words) - 4), "zzz")
        texts += [" ".join(words), other]
        sims.append(set_jaccard(words, other.split()))
    keys = h.band_keys(h.signatures(h.shingle_sets(texts)))
    found = (keys[0::2] == keys[1::2]).any(axis=1)
    assert min(sims) >= 0.85
    assert found.mean() >= 0.97


# -- jaccard ----------------------------------------------------------------------------------------------------


def u64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def test_jaccard_exact() -> None:
    assert jaccard(u64(1, 2, 3), u64(2, 3, 4)) == 2 / 4
    assert jaccard(u64(1, 2, 3), u64(1, 2, 3)) == 1.0
    assert jaccard(u64(1, 2), u64(3, 4)) == 0.0
    assert jaccard(u64(5), u64(1, 2, 3, 4, 5)) == 1 / 5
    assert jaccard(u64(1, 2, 3, 4, 5), u64(5)) == 1 / 5
    assert jaccard(u64(), u64()) == 0.0
    assert jaccard(u64(1), u64()) == 0.0
    assert jaccard(u64(2**64 - 1), u64(0, 2**64 - 1)) == 0.5
    rng = np.random.default_rng(5)
    for _ in range(50):
        a = np.unique(rng.integers(0, 60, rng.integers(1, 40), dtype=np.uint64))
        b = np.unique(rng.integers(0, 60, rng.integers(1, 40), dtype=np.uint64))
        sa, sb = set(a.tolist()), set(b.tolist())
        assert jaccard(a, b) == len(sa & sb) / len(sa | sb)


def test_shingle_jaccard_matches_python_sets() -> None:
    rng = random.Random(6)
    h = MinHasher(MinHashParams())
    for _ in range(30):
        a, b = text(rng, 30), text(rng, 30)
        b[5:20] = a[5:20]
        sets = h.shingle_sets([" ".join(a), " ".join(b)])
        assert jaccard(sets[0], sets[1]) == pytest.approx(set_jaccard(a, b))


# -- shingling --------------------------------------------------------------------------------------------------


def test_word_shingles() -> None:
    h = MinHasher(MinHashParams())
    sets = h.shingle_sets(["a b c d", "A  b,c!d", "d c b a", "a b c d a b c", "a b c", "a b", "a", ""])
    sizes = sets.sizes().tolist()
    assert sizes == [2, 2, 2, 4, 1, 1, 1, 0]
    assert np.array_equal(sets[0], sets[1])  # case, white space and punctuation do not matter
    assert jaccard(sets[0], sets[2]) == 0.0  # word order does
    assert jaccard(sets[0], sets[3]) == 0.5  # {abc, bcd} vs {abc, bcd, cda, dab}
    assert jaccard(sets[4], sets[0]) == 0.5  # "a b c" is a full 3-gram
    assert jaccard(sets[5], sets[0]) == 0.0  # a short text's one shingle is its whole sequence, not a 3-gram
    assert jaccard(sets[6], h.shingle_sets(["A."])[0]) == 1.0
    assert all(int(v) < 1 << 48 for v in sets.hashes)
    for i in range(len(sets)):
        doc = sets[i]
        assert np.array_equal(doc, np.unique(doc))  # sorted, unique within each document
    assert sets.offsets.dtype == np.int64 and sets.offsets[0] == 0 and sets.offsets[-1] == sets.hashes.size


def test_case_sensitive_when_asked() -> None:
    h = MinHasher(MinHashParams(lowercase=False))
    sets = h.shingle_sets(["Alpha beta gamma", "alpha beta gamma"])
    assert jaccard(sets[0], sets[1]) == 0.0


def test_char_shingles() -> None:
    h = MinHasher(MinHashParams.for_chars())
    assert h.params.ngram == 5 and h.params.shingle == "char"
    sets = h.shingle_sets(["hello world", "  Hello,   WORLD!! ", "hello", "hi", "", "helloworld"])
    assert sets.sizes().tolist() == [7, 7, 1, 1, 0, 6]
    assert np.array_equal(sets[0], sets[1])
    assert jaccard(sets[0], sets[5]) == 2 / 11  # "hello" and "world" shared; the space makes the rest differ
    # a typo costs a character n-gram set little and a word n-gram set a lot
    a, b = "the colour of the sky at noon", "the color of the sky at noon"
    words = MinHasher(MinHashParams(ngram=2)).shingle_sets([a, b])
    chars = h.shingle_sets([a, b])
    assert jaccard(chars[0], chars[1]) > 0.6 > jaccard(words[0], words[1])


def test_unicode_text() -> None:
    h = MinHasher(MinHashParams(ngram=2))
    sets = h.shingle_sets(
        [
            "Ünïcödé ÜBER straße",  # 0
            "ünïcödé über STRASSE",  # 1: 'ß'.lower() is 'ß', 'SS'.lower() is 'ss': only the first bigram is shared
            "Ünïcödé — über, straße…",  # 2: Unicode dashes and ellipsis separate words
            "中文 文本 测试",  # 3
            "中文 文本 測試",  # 4
            "smile 😀 wink 😉",  # 5: astral code points are word characters
            "smile 😀 wink 😃",  # 6
            "ΟΔΟΣ ΣΟΦΟΣ",  # 7: the final sigma lowercases the same in a batch as alone
            "\u03bf\u03b4\u03bf\u03c3 \u03c3\u03bf\u03c6\u03bf\u03c3",  # 8: medial sigmas at the ends: differ
            "café au lait",  # 9
            "cafe au lait",  # 10
            "a\u00a0b\u2009c\u3000d",  # 11: no-break, thin and ideographic spaces
            "a b c d",  # 12
            "ab\u200dcd",  # 13: ZWJ stays inside the word
            "ab cd",  # 14
        ]
    )
    assert jaccard(sets[0], sets[1]) == 1 / 3
    assert np.array_equal(sets[0], sets[2])
    assert jaccard(sets[3], sets[4]) == 1 / 3
    assert jaccard(sets[5], sets[6]) == 2 / 4
    assert sets[7].size == 1 and jaccard(sets[7], sets[8]) == 0.0
    assert np.array_equal(sets[7], h.shingle_sets(["\u03bf\u03b4\u03bf\u03c2 \u03c3\u03bf\u03c6\u03bf\u03c2"])[0])
    assert np.array_equal(h.shingle_sets(["ΟΔΟΣ ΣΟΦΟΣ"])[0], sets[7])
    assert jaccard(sets[9], sets[10]) == 1 / 3
    assert np.array_equal(sets[11], sets[12])
    assert sets[13].size == 1 and jaccard(sets[13], sets[14]) == 0.0


def test_nul_and_lone_surrogates_are_handled() -> None:
    h = MinHasher(MinHashParams())
    sets = h.shingle_sets(["a\x00b c", "a b c", "x \ud800 y z"])
    assert np.array_equal(sets[0], sets[1])  # NUL is white space
    assert sets[2].size == 2


# -- index ------------------------------------------------------------------------------------------------------


def test_index_add_candidates_remove() -> None:
    idx = LshIndex()
    keys = np.array([[11 << 32, 12 << 32], [11 << 32, 99 << 32], [13 << 32, NO_KEY]], dtype=np.uint64)
    idx.add(keys, [7, 3, 5])
    assert len(idx) == 3
    assert idx.entries == 5  # NO_KEY is not stored
    query = np.array([[11 << 32, 1], [5, 99 << 32], [NO_KEY, NO_KEY], [13 << 32, 12 << 32]], dtype=np.uint64)
    got = [c.tolist() for c in idx.candidates(query)]
    assert got == [[3, 7], [3], [], [5, 7]]
    idx.remove([3, 12345])
    assert len(idx) == 2
    assert [c.tolist() for c in idx.candidates(query)] == [[7], [], [], [5, 7]]
    with pytest.raises(ValueError, match="bands"):
        idx.add(np.zeros((1, 3), dtype=np.uint64), [1])
    with pytest.raises(ValueError, match="ids"):
        idx.add(np.zeros((2, 2), dtype=np.uint64), [1])


def test_index_merges_runs_and_drops_tombstones() -> None:
    rng = np.random.default_rng(7)
    idx = LshIndex()
    batches = [rng.integers(1, 2**63, (30_000, 4), dtype=np.uint64) for _ in range(4)]
    for b, keys in enumerate(batches):
        idx.add(keys, np.arange(b * 30_000, (b + 1) * 30_000))
        if b == 1:
            idx.remove(range(0, 30_000))
    assert len(idx) == 90_000
    assert idx.entries < 4 * 120_000  # the merge after the removal dropped dead entries...
    assert idx.entries == 3 * 120_000  # ... and only those
    probe = np.concatenate([batches[0][:5], batches[3][:5]])
    got = idx.candidates(probe)
    assert [c.tolist() for c in got[:5]] == [[]] * 5
    assert [c.tolist() for c in got[5:]] == [[90_000 + i] for i in range(5)]


def test_index_memory_per_record_band() -> None:
    rng = np.random.default_rng(8)
    idx = LshIndex()
    for b in range(5):
        idx.add(rng.integers(1, 2**63, (20_000, 10), dtype=np.uint64), np.arange(b * 20_000, (b + 1) * 20_000))
    assert idx.entries == 1_000_000
    assert idx.nbytes / idx.entries <= 10.0  # 8 per entry, 9 per record over 10 bands, plus growth slack


def test_band_key_blobs_roundtrip() -> None:
    row = np.array([1, 2**64 - 1, 0x0102030405060708], dtype=np.uint64)
    blob = LshIndex.to_bytes(row)
    assert blob[:8] == b"\x01" + b"\x00" * 7  # little-endian whatever the platform
    assert blob[16:] == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    back = LshIndex.from_bytes(blob)
    assert back.dtype == np.uint64 and np.array_equal(back, row)
    back[0] = 5  # a writable copy, not a view of the blob
    with pytest.raises(ValueError):
        LshIndex.from_bytes(b"\x00" * 7)
    with pytest.raises(ValueError):
        LshIndex.to_bytes(np.zeros((1, 2), dtype=np.uint64))


# -- detection --------------------------------------------------------------------------------------------------


def test_within_batch_cluster_points_to_its_first_record() -> None:
    rng = random.Random(8)
    a = " ".join(text(rng))
    words = text(rng)
    b, b_near = " ".join(words), replace_word(words, 20, "zzz")
    texts = [a, b, a, "other words entirely here", a, b_near]
    det = NearDupDetector(MinHashParams())
    index = LshIndex()
    res = det.process(texts, [10, 11, 12, 13, 14, 15], index, never_called)
    assert res.duplicate_of == [None, None, 10, None, 10, 11]
    assert res.similarity[2] == 1.0 and res.similarity[4] == 1.0
    assert res.similarity[5] == pytest.approx(set_jaccard(words, b_near.split()))
    assert res.roots.tolist() == [True, True, False, True, False, False]
    assert len(index) == 3
    assert res.keys.shape == (6, 10)
    assert res.candidates_checked == 3


def test_cross_batch_through_persisted_keys() -> None:
    rng = random.Random(9)
    params = MinHashParams()
    det = NearDupDetector(params)
    store = Store(det.hasher)
    first = [" ".join(text(rng)) for _ in range(20)]
    ids1 = list(range(1, 21))
    res1 = det.process(first, ids1, LshIndex(), never_called)
    assert res1.roots.all()
    store.remember(first, ids1)
    # the caller persists the roots' band keys as bytes, and next week loads them into a fresh index
    blobs = {i: LshIndex.to_bytes(res1.keys[k]) for k, i in enumerate(ids1) if res1.roots[k]}
    fresh = LshIndex()
    fresh.add(np.stack([LshIndex.from_bytes(b) for b in blobs.values()]), list(blobs))
    words = first[4].split()
    second = [replace_word(words, 30, "zzz"), " ".join(text(rng)), first[9], first[4]]
    res2 = NearDupDetector(params).process(second, [21, 22, 23, 24], fresh, store)
    assert res2.duplicate_of == [5, None, 10, 5]
    assert res2.similarity[2] == 1.0 and res2.similarity[3] == 1.0
    assert res2.similarity[0] == pytest.approx(set_jaccard(words, second[0].split()))
    assert store.calls == [[5, 10]]  # once per batch, every needed id, sorted
    assert res2.roots.tolist() == [False, True, False, False]
    assert len(fresh) == 21


def test_removed_roots_stop_matching() -> None:
    rng = random.Random(10)
    det = NearDupDetector(MinHashParams())
    store = Store(det.hasher)
    index = LshIndex()
    docs = [" ".join(text(rng)) for _ in range(3)]
    det.process(docs, [1, 2, 3], index, never_called)
    store.remember(docs, [1, 2, 3])
    index.remove([2])
    res = det.process([docs[1], docs[2]], [4, 5], index, store)
    assert res.duplicate_of == [None, 3]
    assert res.roots.tolist() == [True, False]


def test_verification_rejects_band_collisions_below_threshold() -> None:
    rng = random.Random(11)
    det = NearDupDetector(MinHashParams())
    doc = " ".join(text(rng))
    unrelated = " ".join(text(rng))
    keys = det.hasher.band_keys(det.hasher.signatures(det.hasher.shingle_sets([doc])))
    # force a collision: an index entry with exactly the doc's band keys, whose text is unrelated
    index = LshIndex()
    index.add(keys, [77])
    store = Store(det.hasher)
    store.remember([unrelated], [77])
    res = det.process([doc], [1], index, store)
    assert store.calls == [[77]]
    assert res.candidates_checked == 1
    assert res.duplicate_of == [None] and res.similarity == [None]
    assert res.roots.tolist() == [True]


def test_verification_rejects_within_batch_candidates_below_threshold() -> None:
    # one row per band: pairs at Jaccard ~0.5 are nearly always candidates, and must all be rejected at 0.9
    rng = random.Random(12)
    det = NearDupDetector(MinHashParams(threshold=0.9, bands=64))
    texts = []
    for _ in range(10):
        words = text(rng, 40)
        half = words[:20] + text(rng, 20)
        texts += [" ".join(words), " ".join(half)]
    res = det.process(texts, list(range(20)), LshIndex(), never_called)
    assert res.candidates_checked >= 10
    assert res.duplicate_of == [None] * 20
    assert res.roots.all()


def test_best_candidate_wins_and_ties_go_to_the_lowest_id() -> None:
    rng = random.Random(13)
    words = text(rng, 50)
    base = " ".join(words)
    a = replace_word(words, 10, "zzz")  # both 0.882 from base, 0.78 from each other
    b = replace_word(words, 30, "yyy")
    assert set_jaccard(a.split(), words) == set_jaccard(b.split(), words)
    det = NearDupDetector(MinHashParams())
    res = det.process([a, b, base], [20, 10, 30], LshIndex(), never_called)
    assert res.duplicate_of == [None, None, 10]
    # the better candidate wins over the lower id
    c = replace_word(replace_word(words, 10, "zzz").split(), 11, "xxx")
    res = det.process([a, c, base], [20, 5, 30], LshIndex(), never_called)
    assert res.duplicate_of[2] == 20


def test_eligible_mask() -> None:
    rng = random.Random(14)
    a = " ".join(text(rng))
    det = NearDupDetector(MinHashParams())
    index = LshIndex()
    res = det.process([a, a, a], [1, 2, 3], index, never_called, eligible=[True, False, True])
    assert res.duplicate_of == [None, None, 1]
    assert res.roots.tolist() == [True, False, False]
    res = det.process([a, a], [4, 5], LshIndex(), never_called, eligible=[False, True])
    assert res.duplicate_of == [None, None]
    assert res.roots.tolist() == [False, True]
    with pytest.raises(ValueError, match="eligible"):
        det.process([a], [1], index, never_called, eligible=[True, True])


def test_empty_and_one_word_texts() -> None:
    det = NearDupDetector(MinHashParams())
    texts = ["", "   !!! ...", "", "hello", "Hello!", "hello world"]
    res = det.process(texts, [1, 2, 3, 4, 5, 6], LshIndex(), never_called)
    assert res.duplicate_of == [None, None, None, None, 4, None]
    assert res.similarity[4] == 1.0
    assert res.roots.tolist() == [False, False, False, True, False, True]
    assert (res.keys[:3] == NO_KEY).all()


def test_reprocessing_a_record_does_not_match_itself() -> None:
    det = NearDupDetector(MinHashParams())
    store = Store(det.hasher)
    index = LshIndex()
    doc = " ".join(text(random.Random(15)))
    det.process([doc], [1], index, never_called)
    store.remember([doc], [1])
    res = det.process([doc], [1], index, store)
    assert res.duplicate_of == [None]
    assert store.calls == []


def test_missing_stored_root_is_not_a_match() -> None:
    det = NearDupDetector(MinHashParams())
    index = LshIndex()
    doc = " ".join(text(random.Random(16)))
    det.process([doc], [1], index, never_called)
    store = Store(det.hasher)  # knows nothing: record 1 was erased from the database meanwhile
    res = det.process([doc], [2], index, store)
    assert store.calls == [[1]]
    assert res.duplicate_of == [None] and res.candidates_checked == 0


def test_char_shingle_detection() -> None:
    det = NearDupDetector(MinHashParams.for_chars(threshold=0.7))
    texts = ["Refund my order #1234 please, it arrived broken", "refund my order 1234 please it arived broken"]
    res = det.process(texts, [1, 2], LshIndex(), never_called)
    assert res.duplicate_of == [None, 1]
    assert res.similarity[1] is not None and res.similarity[1] >= 0.7


# -- parameters -------------------------------------------------------------------------------------------------


def test_params_validation_and_lineage() -> None:
    assert MinHashParams().as_params() == {
        "algorithm": "minhash-lsh",
        "hash_version": HASH_VERSION,
        "threshold": 0.8,
        "shingle": "word",
        "ngram": 3,
        "num_perm": 64,
        "bands": 10,
        "rows": 6,
        "seed": 1,
        "lowercase": True,
    }
    for bad in (
        {"threshold": 0.0},
        {"threshold": 1.5},
        {"ngram": 0},
        {"num_perm": 0},
        {"bands": 65},
        {"seed": -1},
        {"shingle": "line"},
    ):
        with pytest.raises(ValueError):
            MinHashParams(**bad)
    with pytest.raises(ValueError):
        lsh_bands(0.0, 64)


@pytest.mark.parametrize("chunk", [3, 7, 1 << 20])
def test_merge_into_equals_a_fresh_merge_with_ties_and_any_chunk(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from labelloop.domain import minhash

    monkeypatch.setattr(minhash, "_MERGE_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    for n, m in [(0, 4), (4, 0), (50, 20), (20, 50), (1000, 1)]:
        a = np.sort(rng.integers(0, 30, n, dtype=np.uint64))
        b = np.sort(rng.integers(0, 30, m, dtype=np.uint64))
        expected = np.sort(np.concatenate([a, b]))
        assert np.array_equal(minhash._merge_into(a.copy(), b), expected)
