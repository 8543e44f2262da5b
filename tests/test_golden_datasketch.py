"""Golden tests against datasketch itself: MinHash values and LSH band parameters.

We claim that our signatures equal `datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash)` and our bands equal `MinHashLSH(threshold, num_perm)`.
Two libraries that draw the same seed in a different order raise no error and
only differ in value, so every value is compared with datasketch's own classes.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from dedup.core.lsh import optimal_params
from dedup.core.minhash import permutations, signatures
from dedup.core.shingles import shingle_hash, shingle_set, shingle_strings

SIZES = (1, 2, 3, 17, 250, 3000, 7000)


def random_shingles(rng: random.Random, size: int) -> list[bytes]:
    """`size` distinct UTF-8 shingles, some of them non-ASCII."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0 éß日😀"
    out: set[bytes] = set()
    while len(out) < size:
        words = ["".join(rng.choices(alphabet, k=rng.randint(1, 8))) for _ in range(5)]
        out.add(" ".join(words).encode("utf-8"))
    return sorted(out)


def datasketch_signature(shingles: list[bytes], num_perm: int, seed: int) -> np.ndarray:
    sketch = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    for shingle in shingles:
        sketch.update(shingle)
    return np.asarray(sketch.hashvalues)


def our_signatures(rows: list[list[bytes]], num_perm: int, seed: int) -> np.ndarray:
    hashes = np.array([shingle_hash(s) for row in rows for s in row], dtype=np.uint32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in rows], out=offsets[1:])
    a, b = permutations(num_perm, seed)
    return signatures(hashes, offsets, a, b)


@pytest.mark.parametrize(
    ("num_perm", "seed"),
    [(16, 1), (128, 1), (128, 0), (256, 42), (64, 2**32 - 1), (1024, 7)],
)
def test_permutations_equal_datasketch(num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    expected = MinHash(num_perm=num_perm, seed=seed).permutations
    assert a.dtype == expected.dtype
    np.testing.assert_array_equal(a, expected[0])
    np.testing.assert_array_equal(b, expected[1])


@pytest.mark.parametrize(
    ("num_perm", "seed"),
    [(16, 1), (128, 1), (128, 12345), (256, 3), (2, 2**32 - 1)],
)
def test_signatures_equal_datasketch_minhash(num_perm: int, seed: int) -> None:
    rng = random.Random(num_perm * 1000 + seed)
    rows = [random_shingles(rng, size) for size in SIZES]
    rng.shuffle(rows)
    ours = our_signatures(rows, num_perm, seed)
    assert ours.shape == (len(rows), num_perm)
    for row, shingles in zip(ours, rows, strict=True):
        expected = datasketch_signature(shingles, num_perm, seed)
        assert expected.dtype == np.uint32
        np.testing.assert_array_equal(row, expected)


def test_signatures_equal_datasketch_across_the_chunk_boundary() -> None:
    # 70,000 hashes in one call: the middle row straddles the 65,536-value chunk.
    rng = random.Random(99)
    rows = [random_shingles(rng, size) for size in (60_000, 9_000, 1_000)]
    ours = our_signatures(rows, 128, 1)
    for row, shingles in zip(ours, rows, strict=True):
        sketch = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash)
        sketch.update_batch(shingles)
        np.testing.assert_array_equal(row, sketch.hashvalues)


def test_shingle_set_signature_equals_datasketch_over_shingle_strings() -> None:
    # The whole path a block takes: words -> n-grams -> hashes -> signature.
    rng = random.Random(5)
    vocabulary = ["the", "page", "0", "über", "日本", "😀", "copyright", "news"]
    for n_words in (1, 3, 5, 6, 40, 400):
        words = rng.choices(vocabulary, k=n_words)
        hashes = shingle_set(words, 5)
        a, b = permutations(128, 1)
        ours = signatures(hashes, np.array([0, len(hashes)], dtype=np.int64), a, b)[0]
        shingles = [s.encode("utf-8") for s in shingle_strings(words, 5)]
        np.testing.assert_array_equal(ours, datasketch_signature(shingles, 128, 1))


def test_repeated_shingles_do_not_change_the_signature() -> None:
    rng = random.Random(3)
    shingles = random_shingles(rng, 50)
    repeated = shingles + shingles[:20]
    rng.shuffle(repeated)
    ours = our_signatures([repeated], 64, 1)[0]
    np.testing.assert_array_equal(ours, datasketch_signature(shingles, 64, 1))


# 0.3 .. 0.95 in steps of 0.05, and a few values off that grid.
THRESHOLDS = (*(round(0.3 + 0.05 * i, 2) for i in range(14)), 0.33, 0.67, 0.72, 0.87)


def datasketch_params(threshold: float, num_perm: int, weights: tuple[float, float]) -> tuple:
    """(b, r) of `MinHashLSH`; the function it calls when it refuses b < 2."""
    try:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    except ValueError as exc:
        # MinHashLSH rejects a single band, but its chooser still picked one.
        assert "too small" in str(exc)
        return _optimal_param(threshold, num_perm, *weights)
    return (lsh.b, lsh.r)


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_optimal_params_equal_minhash_lsh(threshold: float, num_perm: int) -> None:
    assert optimal_params(threshold, num_perm) == datasketch_params(threshold, num_perm, (0.5, 0.5))


@pytest.mark.parametrize(
    ("threshold", "num_perm", "weights"),
    [(0.5, 128, (0.3, 0.7)), (0.8, 64, (0.9, 0.1)), (0.7, 256, (0.25, 0.75))],
)
def test_optimal_params_with_weights_equal_minhash_lsh(
    threshold: float, num_perm: int, weights: tuple[float, float]
) -> None:
    assert optimal_params(threshold, num_perm, *weights) == datasketch_params(
        threshold, num_perm, weights
    )


def test_single_band_cases_are_really_single_band() -> None:
    # The fallback in `datasketch_params` is taken only where datasketch refuses.
    with pytest.raises(ValueError, match="too small"):
        MinHashLSH(threshold=0.95, num_perm=16)
    assert optimal_params(0.95, 16) == (1, 16)


@pytest.mark.parametrize("threshold", [0.7, 0.8])
def test_default_config_bands_equal_minhash_lsh_with_its_weights(threshold: float) -> None:
    # The scan's own choice: datasketch's rule with the config's weights.
    from dedup.config import ScanConfig

    cfg = ScanConfig(passage_threshold=threshold, doc_threshold=threshold)
    weights = (round(1.0 - cfg.lsh_fn_weight, 10), cfg.lsh_fn_weight)
    lsh = MinHashLSH(threshold=threshold, num_perm=cfg.num_perm, weights=weights)
    assert cfg.passage_lsh == cfg.doc_lsh == (lsh.b, lsh.r)


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 9)])
def test_compiled_signatures_equal_datasketch_minhash(num_perm: int, seed: int) -> None:
    # The scan computes signatures with the compiled kernel: compare it directly too.
    from dedup.core.fastops import signatures_kernel

    rng = random.Random(seed)
    rows = [random_shingles(rng, size) for size in (1, 2, 50, 400)]
    hashes = np.array([shingle_hash(s) for row in rows for s in row], dtype=np.uint32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in rows], out=offsets[1:])
    ours = signatures_kernel(hashes, offsets, *permutations(num_perm, seed))
    for row, signature in zip(rows, ours, strict=True):
        np.testing.assert_array_equal(signature, datasketch_signature(row, num_perm, seed))
