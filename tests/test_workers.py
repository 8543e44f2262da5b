"""More workers, same tables: threaded hashing and partitioned counts are exact.

The corpora here are small, so the tests shrink the hashing batch and the
counting partitions: a scan then takes the threaded paths it takes on a
large corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dedup import ConfigError, ScanConfig
from dedup.core import kernel, keyed
from dedup.core.blockhash import hash_blocks, shard_bounds
from dedup.runner import scan
from dedup.synth import SynthConfig, generate


def test_shard_bounds_cut_into_about_equal_contiguous_shards() -> None:
    assert shard_bounds([10, 10, 10, 10], 2) == [0, 2, 4]
    assert shard_bounds([100, 1, 1, 1], 2) == [0, 1, 4]
    assert shard_bounds([5], 4) == [0, 1]
    assert shard_bounds([], 3) == [0, 0]
    assert shard_bounds([1, 2, 3], 1) == [0, 3]
    cuts = shard_bounds([3] * 100, 7)
    assert cuts[0] == 0 and cuts[-1] == 100 and cuts == sorted(set(cuts))


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of a few hundred characters (some documents longer than one),
    # partitions of a few elements.
    monkeypatch.setattr(kernel, "_BATCH_CHARS", 500)
    monkeypatch.setattr(keyed, "_PER_PARTITION", 4)


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_threaded_hashing_equals_one_thread(workers: int, small_batches: None) -> None:
    corpus = generate(SynthConfig(seed=3, sites=3, pages_per_site=4, near_duplicates=2))
    texts = [*corpus.texts, "", "   \n", "é\u2028x", "x " * 2000]
    one = hash_blocks(texts, ScanConfig(), workers=1)
    many = hash_blocks(texts, ScanConfig(), workers=workers)
    for field in one.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field), err_msg=field)


def test_scan_tables_are_byte_identical_for_any_worker_count(
    tmp_path: Path, small_batches: None
) -> None:
    corpus = generate(SynthConfig(seed=4, sites=4, pages_per_site=5, near_duplicates=3))
    docs = tmp_path / "docs"
    docs.mkdir()
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        (docs / doc_id).write_text(text, encoding="utf-8")
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        scan([docs], out, ScanConfig(), workers=workers)
        outputs.append({p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 8  # four tables and the four of the index


def test_zero_workers_is_a_config_error(tmp_path: Path, seeds_dir: Path) -> None:
    with pytest.raises(ConfigError, match="--workers"):
        scan([seeds_dir], tmp_path / "out", ScanConfig(), workers=0)


def test_scan_puts_numba_thread_count_back(tmp_path: Path, seeds_dir: Path) -> None:
    import numba

    before = numba.get_num_threads()
    scan([seeds_dir], tmp_path / "out", ScanConfig(), workers=1)
    assert numba.get_num_threads() == before
