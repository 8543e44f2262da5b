"""benchmarks/bounded_memory.py: its corpus, and (as root, with Ray) one tiny run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bounded() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bounded_memory

        yield bounded_memory
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_corpus_is_chunks_of_jsonl_that_a_larger_one_extends(
    bounded: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bounded, "CHUNK_MB", 0.1)
    monkeypatch.setattr(bounded, "FILE_MB", 0.04)
    first = bounded.make_corpus(0.15, tmp_path)
    assert {p.name.split("-")[0] for p in first} == {"chunk001", "chunk002"}
    stamps = {p: p.stat().st_mtime_ns for p in first}
    ids = []
    for path in first:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert rows and all(set(r) == {"id", "text"} and r["text"] for r in rows)
        ids += [r["id"] for r in rows]
    assert len(ids) == len(set(ids))  # every chunk its own seed and id prefix
    assert sum(p.stat().st_size for p in first) > 0.1e6
    second = bounded.make_corpus(0.25, tmp_path)
    assert set(first) < set(second)
    assert {p.name.split("-")[0] for p in second} == {"chunk001", "chunk002", "chunk003"}
    assert all(p.stat().st_mtime_ns == stamps[p] for p in first)  # kept, not remade


def _can_make_memory_groups() -> bool:
    root = Path("/sys/fs/cgroup")
    writable = root / "memory" if not (root / "cgroup.controllers").exists() else root
    return hasattr(os, "geteuid") and os.geteuid() == 0 and os.access(writable, os.W_OK)


@pytest.mark.skipif(not _can_make_memory_groups(), reason="needs root and a memory cgroup")
def test_a_tiny_run_in_a_memory_group_gives_the_embedded_tables(tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bounded_memory.py"),
            "--mb",
            "0.3",
            "--limit-mb",
            "6000",
            "--object-store-mb",
            "200",
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    row = [line for line in done.stdout.splitlines() if line.startswith("| Ray engine")]
    assert row and row[0].endswith("| 0 | yes |"), done.stdout
