"""What an analysis keeps for the index, held in files during the labelling."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedup import runner
from dedup.config import ScanConfig
from dedup.core.blockhash import ClusteredBlocks
from dedup.core.near_duplicates import DocumentSets
from dedup.core.pipeline import analyze
from dedup.errors import OutputError
from dedup.runner import scan
from dedup.shards import work_folder
from dedup.spilled_arrays import SpilledArrays
from dedup.synth import SynthConfig, generate


@dataclass(frozen=True)
class Held:
    big: np.ndarray
    pair: tuple[np.ndarray, np.ndarray]
    small: np.ndarray
    name: str


def _held() -> Held:
    return Held(
        np.arange(1000, dtype=np.int64),
        (np.arange(300, dtype=np.uint32), np.arange(0, 301, 3, dtype=np.int64)),
        np.arange(3, dtype=np.int64),
        "kept",
    )


def _is_mapped(array: np.ndarray) -> bool:
    base = array
    while isinstance(base, np.ndarray) and not isinstance(base, np.memmap):
        base = base.base  # type: ignore[assignment]
    return isinstance(base, np.memmap)


def test_arrays_come_back_equal_and_mapped_from_files(tmp_path: Path) -> None:
    held = _held()
    with SpilledArrays(tmp_path / "work", min_bytes=64) as kept:
        back = kept(held)
        assert len(kept.paths) == 3 and all(p.exists() for p in kept.paths)
    assert type(back) is Held and back.name == "kept"
    for mine, theirs in ((back.big, held.big), *zip(back.pair, held.pair, strict=True)):
        assert type(mine) is np.ndarray and _is_mapped(mine)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    # Below the size worth a file: the same array.
    assert back.small is held.small
    # Removed at the end of the block; what is mapped still reads.
    assert not list((tmp_path / "work").iterdir())
    assert int(back.big.sum()) == int(held.big.sum())


def test_empty_arrays_and_other_values_pass(tmp_path: Path) -> None:
    with SpilledArrays(tmp_path, min_bytes=0) as kept:
        empty = kept(np.empty(0, np.uint32))
        assert empty.dtype == np.uint32 and len(empty) == 0
        assert kept("text") == "text" and kept(None) is None


def test_mapped_arrays_are_copy_on_write(tmp_path: Path) -> None:
    with SpilledArrays(tmp_path, min_bytes=0) as kept:
        back = kept(np.zeros(10, np.int64))
        back[3] = 7
        assert np.load(kept.paths[0])[3] == 0


def test_dropped_pages_read_again_from_the_files(tmp_path: Path) -> None:
    held = _held()
    with SpilledArrays(tmp_path, min_bytes=64) as kept:
        back = kept(held)
        assert int(back.big.sum()) == int(held.big.sum())  # pages read in
        assert kept.drop_pages() == 3
        assert np.array_equal(back.big, held.big)
        assert all(np.array_equal(m, t) for m, t in zip(back.pair, held.pair, strict=True))
    # Closed: the files are gone and nothing is left to drop.
    assert kept.drop_pages() == 0
    assert np.array_equal(back.big, held.big)


def test_the_analysis_stashes_what_only_the_index_reads() -> None:
    corpus = generate(SynthConfig(seed=5, sites=2, pages_per_site=6))
    seen: list[Any] = []

    def stash(value: Any) -> Any:
        seen.append(value)
        return value

    result = analyze(corpus.ids, corpus.texts, ScanConfig(), keep_document_sets=True, stash=stash)
    assert [type(v) for v in seen] == [ClusteredBlocks, DocumentSets]
    assert result.clustered is seen[0] and result.document_sets is seen[1]
    seen.clear()
    analyze(corpus.ids, corpus.texts, ScanConfig(), stash=stash)
    assert seen == []


def _docs(folder: Path) -> Path:
    folder.mkdir()
    corpus = generate(SynthConfig(seed=9, sites=2, pages_per_site=8))
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        (folder / f"{doc_id.replace('/', '_')}.txt").write_text(text, encoding="utf-8")
    return folder


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_scan_with_its_index_arrays_in_files_writes_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(tmp_path / "docs")
    outputs = []
    mapped: list[Path] = []

    class Counted(SpilledArrays):
        def _mapped(self, array: np.ndarray) -> np.ndarray:
            back = super()._mapped(array)
            mapped.append(self.paths[-1])
            return back

    for min_bytes in (1 << 62, 0):  # nothing spilled, then every array
        monkeypatch.setattr(runner, "SpilledArrays", lambda f, m=min_bytes: Counted(f, m))
        out = tmp_path / f"out-{min_bytes}"
        scan([docs], out, ScanConfig(), workers=1)
        outputs.append(_files(out))
        assert not work_folder(out).exists()
    # The clustered blocks' 5 arrays, the document sets' 7 (two CSR pairs).
    assert len(mapped) == 12 and not any(p.exists() for p in mapped)
    assert outputs[0] == outputs[1]


def test_a_full_disk_while_stashing_names_the_output_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(tmp_path / "docs")
    out = tmp_path / "out"
    scan([docs], out, ScanConfig(), workers=1)
    before = _files(out)
    made: list[SpilledArrays] = []

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def spilling(folder: Path) -> SpilledArrays:
        made.append(SpilledArrays(folder, 0))
        return made[-1]

    monkeypatch.setattr(runner, "SpilledArrays", spilling)
    monkeypatch.setattr(np, "save", full)
    with pytest.raises(OutputError, match="No space left on device") as caught:
        scan([docs], out, ScanConfig(), force=True, workers=1)
    assert str(out) in str(caught.value) and "free space" in str(caught.value)
    assert _files(out) == before
    assert made and not any(p.exists() for p in made[0].paths)
    assert not list(work_folder(out).glob("stash-*"))
