"""The ranges of a labelling in parts, kept in files of the work folder between passes."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedup import runner
from dedup.config import ScanConfig
from dedup.core.label_parts import RANGE_BLOCKS, RANGES_ABOVE, Part, in_ranges, range_bounds
from dedup.errors import ConfigError, OutputError
from dedup.runner import scan
from dedup.shards import work_folder
from dedup.spilled_parts import SpilledParts
from dedup.synth import SynthConfig, generate


def _part() -> Part:
    columns = {
        "big": np.arange(5000, dtype=np.int64),
        "flags": np.arange(5000) % 3 == 0,
        "small": np.arange(3, dtype=np.float64),
    }
    return Part(4, 9, columns)


def _same(a: Part, b: Part) -> None:
    assert (a.lo, a.hi) == (b.lo, b.hi) and sorted(a.columns) == sorted(b.columns)
    for name, column in a.columns.items():
        assert column.dtype == b[name].dtype
        np.testing.assert_array_equal(column, b[name])


def test_ranges_come_back_equal_with_large_columns_in_files(tmp_path: Path) -> None:
    with SpilledParts(tmp_path / "w", min_bytes=1024) as parts:
        parts.save(0, _part())
        parts.save(1, Part(9, 9, {"big": np.empty(0, np.int64)}))
        assert len(parts) == 2
        assert len(list((tmp_path / "w").glob("*.npy"))) == 2  # big and flags; small held
        _same(parts.load(0), _part())
        _same(parts.load(1), Part(9, 9, {"big": np.empty(0, np.int64)}))
    assert not list((tmp_path / "w").glob("*.npy"))


def test_unchanged_columns_are_not_written_again_and_dropped_ones_go(tmp_path: Path) -> None:
    parts = SpilledParts(tmp_path, min_bytes=1024)
    parts.save(0, _part())
    before = sorted(tmp_path.glob("*.npy"))
    loaded = parts.load(0)
    changed = loaded.with_columns(("flags",), new=np.ones(4000))
    parts.save(0, changed)
    after = sorted(tmp_path.glob("*.npy"))
    assert before[0] in after and before[1] not in after and len(after) == 2
    again = parts.load(0)
    assert sorted(again.columns) == ["big", "new", "small"]
    np.testing.assert_array_equal(again["new"], np.ones(4000))
    # A column written over in place (mapped copy-on-write) leaves its file as it was.
    again["big"][:] = -1
    np.testing.assert_array_equal(parts.load(0)["big"], np.arange(5000))
    parts.close()
    assert not list(tmp_path.glob("*.npy"))


def test_range_bounds_cut_whole_documents() -> None:
    doc = np.repeat(np.arange(6, dtype=np.int64), [3, 1, 0, 5, 2, 2])
    # Blocks 0-2, 3, none, 4-8, 9-10, 11-12, none: cuts at blocks 4, 9 and 13.
    assert range_bounds(doc, 7, 4) == [0, 2, 4, 6, 7]
    assert range_bounds(doc, 7, 100) == [0, 7]
    assert range_bounds(np.empty(0, np.int64), 2, 4) == [0, 2]
    with pytest.raises(ValueError, match="at least 1"):
        range_bounds(doc, 7, 0)


def _docs(folder: Path) -> Path:
    corpus = generate(SynthConfig(seed=3, sites=3, pages_per_site=6, near_duplicates=4))
    folder.mkdir(parents=True)
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        (folder / doc_id).write_text(text, encoding="utf-8")
    return folder


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_in_ranges_writes_the_same_output(tmp_path: Path, workers: int) -> None:
    docs = _docs(tmp_path / "docs")
    scan([docs], tmp_path / "whole", ScanConfig(), workers=workers, range_blocks=1 << 40)
    scan([docs], tmp_path / "ranges", ScanConfig(), workers=workers, range_blocks=50)
    assert _files(tmp_path / "whole") == _files(tmp_path / "ranges")
    assert not work_folder(tmp_path / "ranges").exists()


def test_a_full_disk_while_saving_a_range_names_the_output_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(tmp_path / "docs")
    out = tmp_path / "out"
    scan([docs], out, ScanConfig(), workers=1)
    before = _files(out)
    made: list[SpilledParts] = []

    def spilling(folder: Path) -> SpilledParts:
        made.append(SpilledParts(folder, 0))
        return made[-1]

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "SpilledParts", spilling)
    monkeypatch.setattr(SpilledParts, "_write", full)
    with pytest.raises(OutputError, match="No space left on device") as caught:
        scan([docs], out, ScanConfig(), force=True, workers=1, range_blocks=50)
    assert str(out) in str(caught.value) and "free space" in str(caught.value)
    assert _files(out) == before
    assert made and not list(work_folder(out).glob("range-*"))


def test_a_small_column_cut_from_a_larger_array_is_held_as_a_copy(tmp_path: Path) -> None:
    whole = np.arange(100_000, dtype=np.int64)
    parts = SpilledParts(tmp_path, min_bytes=1024)
    parts.save(0, Part(0, 1, {"doc": whole[:10]}))
    held = parts.load(0)["doc"]
    assert held.base is None and held.tolist() == list(range(10))


def test_a_column_file_cut_short_by_a_full_disk_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half(handle: Any, array: np.ndarray, **kwargs: Any) -> None:
        handle.write(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    parts = SpilledParts(tmp_path, min_bytes=0)
    monkeypatch.setattr(np, "save", half)
    with pytest.raises(OSError, match="No space"):
        parts.save(0, _part())
    assert not list(tmp_path.glob("*.npy"))


def test_range_blocks_below_one_is_refused(tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with pytest.raises(ConfigError, match="range_blocks"):
        scan([docs], tmp_path / "out", ScanConfig(), range_blocks=0)


def test_ranges_by_default_only_above_sixteen_million_blocks() -> None:
    assert in_ranges(10, None) is None and in_ranges(RANGES_ABOVE, None) is None
    assert in_ranges(RANGES_ABOVE + 1, None) == RANGE_BLOCKS
    assert in_ranges(100, 50) == 50 and in_ranges(50, 50) is None
