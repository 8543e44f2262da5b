"""Memory a scan gives back before its later steps: block rows, the C heap."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedup import arrow, heap, runner
from dedup.config import ScanConfig
from dedup.core.pipeline import Analysis, analyze
from dedup.runner import scan


@pytest.mark.parametrize("index", [True, False])
def test_a_scan_lets_the_block_rows_go_before_the_spans_table(
    tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch, index: bool
) -> None:
    refs: dict[str, weakref.ref[np.ndarray]] = {}
    analyzed = runner.analyze

    def analyze(*args: object, **kwargs: object) -> Analysis:
        result = analyzed(*args, **kwargs)  # type: ignore[arg-type]
        for name, array in (
            ("doc", result.blocks.doc),
            ("cluster", result.blocks.cluster),
            ("block_run", result.runs.block_run),
            ("first", result.runs.first),
        ):
            refs[name] = weakref.ref(array)
        return result

    alive: dict[str, set[str]] = {}
    # A scan makes its spans table a row group at a time (`spans_slices`).
    for table in ("passages_table", "spans_slices"):
        made = getattr(arrow, table)

        def making(*args: object, _made: object = made, _name: str = table) -> pa.Table:
            alive[_name] = {name for name, ref in refs.items() if ref() is not None}
            return _made(*args)  # type: ignore[operator]

        monkeypatch.setattr(arrow, table, making)
    built: list[set[str]] = []
    index_tables = runner.build_index_tables

    def build_index_tables(*args: object, **kwargs: object) -> object:
        built.append({name for name, ref in refs.items() if ref() is not None})
        return index_tables(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "analyze", analyze)
    monkeypatch.setattr(runner, "build_index_tables", build_index_tables)
    scan([seeds_dir], tmp_path / "out", ScanConfig(), index=index)
    assert alive["passages_table"] == set(refs)  # it reads them
    # The index, made after the scan's tables, reads the blocks' documents and clusters.
    assert alive["spans_slices"] == ({"doc", "cluster"} if index else set())
    assert built == ([{"doc", "cluster"}] if index else [])


def test_the_tables_do_not_depend_on_the_block_rows_going(tmp_path: Path, seeds_dir: Path) -> None:
    """`to_tables` of an analysis the caller still holds gives the tables a scan wrote."""
    out = tmp_path / "out"
    scan([seeds_dir], out, ScanConfig(), index=False)
    files = sorted(p for p in seeds_dir.iterdir() if p.is_file())
    ids = [p.name for p in files]
    result = analyze(ids, [p.read_text(encoding="utf-8") for p in files], ScanConfig())
    tables = arrow.to_tables(result, ScanConfig())
    assert len(result.blocks.doc) > 0  # the caller's analysis is whole
    written = pq.read_table(out / "spans.parquet")
    for column in ("start", "end", "label", "passage_id", "doc_count", "score"):
        assert tables["spans"].column(column).to_pylist() == written.column(column).to_pylist()


def test_release_free_heap_calls_malloc_trim_where_glibc_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heap._glibc.cache_clear()
    try:
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            assert heap.release_free_heap() is True
            assert heap.map_large_allocations() is True
        monkeypatch.setattr(ctypes.util, "find_library", lambda _: None)
        heap._glibc.cache_clear()
        assert heap.release_free_heap() is False
        assert heap.map_large_allocations() is False
    finally:
        heap._glibc.cache_clear()


_HELD_AFTER_FREE = """
import sys
import numpy as np
from dedup import heap
if sys.argv[1] == "mapped":
    assert heap.map_large_allocations()
def resident_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
big = np.ones(30 << 17)  # a mapped 30 MB array, freed: glibc's threshold rises to it
del big
before = resident_kb()
arrays, kept = [], []
for _ in range(50):  # 200 MB in arrays of 4 MB, touched, each followed by a small one kept
    arrays.append(np.ones(1 << 19))
    kept.append(np.ones(1000))
del arrays
print(resident_kb() - before)
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_arrays_freed_after_map_large_allocations_leave_the_process() -> None:
    def held_kb(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _HELD_AFTER_FREE, mode], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    assert held_kb("moving") > 150_000  # glibc's own threshold keeps them on the heap
    assert held_kb("mapped") < 50_000


_ARROW_HELD = """
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dedup import heap
def resident_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
ones = pa.array(np.ones(1 << 15))
before = resident_kb()
results = [pc.add(ones, 1) for _ in range(800)]  # 200 MB in Arrow's pool, 256 kB each
del results
held = resident_kb() - before
heap.release_free_heap()
print(held, resident_kb() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc")
def test_release_free_heap_returns_arrow_pools_free_pages() -> None:
    run = subprocess.run([sys.executable, "-c", _ARROW_HELD], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    held, after = (int(v) for v in run.stdout.split())
    if pa.default_memory_pool().backend_name != "mimalloc" or held < 100_000:
        pytest.skip(f"this Arrow pool ({pa.default_memory_pool().backend_name}) keeps no pages")
    assert after < 50_000
