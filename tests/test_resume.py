"""Interrupted scans: finished shards are kept and reused, outputs are complete or absent."""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import dedup.runner
from dedup import OutputError, ScanConfig, scan
from dedup.schemas import TABLES
from dedup.shards import ShardStore, file_stats, plan_shards, work_folder
from dedup.sources import list_sources
from dedup.synth import SynthConfig, generate
from dedup.synth_io import write_corpus

SMALL_SHARDS = 40_000  # bytes: the generated corpora below make several shards


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "corpus"
    write_corpus(generate(SynthConfig(seed=3, sites=12, pages_per_site=15)), root)
    return root / "docs"


def tables(out: Path) -> dict[str, object]:
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def same_tables(a: Path, b: Path) -> bool:
    left, right = tables(a), tables(b)
    return all(left[n].equals(right[n], check_metadata=True) for n in TABLES)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def clean_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "out"
    scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS)
    return out


def interrupt_after_reading(monkeypatch: pytest.MonkeyPatch, paths: list[Path], out: Path) -> None:
    """Scan `paths` as Ctrl-C would stop it: every shard read, nothing analysed or written."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(dedup.runner, "analyze", interrupted)
        with pytest.raises(KeyboardInterrupt):
            scan(paths, out, ScanConfig(), shard_bytes=SMALL_SHARDS)


def test_a_rerun_resumes_from_the_shards_an_interrupted_run_finished(
    tmp_path: Path, corpus: Path, clean_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    interrupt_after_reading(monkeypatch, [corpus], out)
    assert not out.exists()
    finished = sorted(work_folder(out).glob("shard-*.done"))
    assert len(finished) > 3

    summary = scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS)
    assert summary.resumed_shards == len(finished)
    assert same_tables(out, clean_run)
    assert not work_folder(out).exists(), "the work folder goes once the output is in place"


@pytest.mark.parametrize("removal", ["after the scan", "of a stale folder"])
def test_a_work_folder_killed_while_being_removed_is_not_reused(
    tmp_path: Path,
    corpus: Path,
    clean_run: Path,
    monkeypatch: pytest.MonkeyPatch,
    removal: str,
) -> None:
    """A kill in the middle of deleting the work folder must not leave a shard that
    looks done but lacks its files (the next run would load from it and fail)."""
    out = tmp_path / "out"
    interrupt_after_reading(monkeypatch, [corpus], out)
    folder = work_folder(out)
    real_rmtree = shutil.rmtree

    def killed_halfway(path: Path, ignore_errors: bool = False) -> None:
        # Deletes the shards' document files, then the process dies.
        for docs in sorted(Path(path).glob("shard-*.docs.parquet")):
            docs.unlink()
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(dedup.shards.shutil, "rmtree", killed_halfway)
        with pytest.raises(KeyboardInterrupt):
            if removal == "after the scan":
                scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS)
            else:
                scan([corpus], out, ScanConfig(min_docs=3), shard_bytes=SMALL_SHARDS)
    assert sorted(folder.glob("shard-*.done")), "the kill left done markers behind"
    assert not (folder / "manifest.json").exists()

    real_rmtree(out, ignore_errors=True)
    summary = scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS)
    assert summary.resumed_shards == 0
    assert same_tables(out, clean_run)


def test_a_changed_input_or_config_starts_over(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for path in sorted(corpus.iterdir())[:40]:
        (docs / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    interrupt_after_reading(monkeypatch, [docs], out)
    first = sorted(docs.iterdir())[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    interrupt_after_reading(monkeypatch, [docs], out)
    assert scan([docs], out, ScanConfig(min_docs=3), shard_bytes=SMALL_SHARDS).resumed_shards == 0
    fresh = tmp_path / "fresh"
    scan([docs], fresh, ScanConfig(min_docs=3), shard_bytes=SMALL_SHARDS)
    assert same_tables(out, fresh)


@pytest.mark.parametrize("damage", ["killed while saving", "a file missing"])
def test_a_damaged_shard_is_read_again(
    tmp_path: Path, corpus: Path, clean_run: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    out = tmp_path / "out"
    interrupt_after_reading(monkeypatch, [corpus], out)
    folder = work_folder(out)
    done = sorted(folder.glob("shard-*.done"))
    docs = folder / done[1].name.replace(".done", ".docs.parquet")
    if damage == "killed while saving":
        # Killed after writing half its files: no marker, a truncated documents file.
        done[1].unlink()
        docs.write_bytes(docs.read_bytes()[:100])
    else:
        # Marked done, yet its documents file is gone.
        docs.unlink()
    summary = scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS)
    assert summary.resumed_shards == len(done) - 1
    assert same_tables(out, clean_run)


def shard_count(corpus: Path) -> int:
    return len(plan_shards(file_stats(list_sources([corpus])), SMALL_SHARDS))


def slow_saves(monkeypatch: pytest.MonkeyPatch, fail_at: int | None) -> list[int]:
    """ShardStore.save slowed down (so that saves overlap reading), failing at shard `fail_at`.

    Returns the list the indices of finished saves are appended to, in order.
    """
    real = ShardStore.save
    saved: list[int] = []

    def save(self: ShardStore, index: int, data: object) -> None:
        time.sleep(0.05)
        if index == fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, index, data)  # type: ignore[arg-type]
        saved.append(index)

    monkeypatch.setattr(ShardStore, "save", save)
    return saved


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("where", ["third", "last"])
def test_a_full_disk_while_saving_a_shard_stops_the_scan(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch, workers: int, where: str
) -> None:
    """With two workers shards are saved on a thread of their own; its error still stops the scan.

    The last shard's save ends after every read: only the final wait sees it.
    """
    out = tmp_path / "out"
    n = shard_count(corpus)
    fail_at = 2 if where == "third" else n - 1
    saved = slow_saves(monkeypatch, fail_at)
    with pytest.raises(OutputError, match=re.escape(str(out))) as caught:
        scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS, workers=workers)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC
    assert "space" in str(caught.value).lower()
    assert not out.exists()
    # The shards saved before the failure are kept for the next run, in order.
    assert saved == list(range(fail_at))
    assert (work_folder(out) / f"shard-{fail_at - 1:05d}.done").exists()
    assert not (work_folder(out) / f"shard-{fail_at:05d}.done").exists()


def test_background_saves_are_in_order_and_all_done_before_the_analysis(
    tmp_path: Path, corpus: Path, clean_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = slow_saves(monkeypatch, None)
    out = tmp_path / "out"
    interrupt_after_reading(monkeypatch, [corpus], out)  # 2 workers: the default here
    assert saved == list(range(shard_count(corpus)))
    assert len(list(work_folder(out).glob("shard-*.done"))) == len(saved)
    monkeypatch.undo()
    assert scan([corpus], out, ScanConfig(), shard_bytes=SMALL_SHARDS).resumed_shards == len(saved)
    assert same_tables(out, clean_run)


def _dedup() -> list[str]:
    return [sys.executable, "-c", "from dedup.cli import main; main()"]


def test_sigkill_at_random_moments_leaves_complete_tables_or_none(
    tmp_path: Path, corpus: Path, clean_run: Path
) -> None:
    """Acceptance: 20 kills; after each, the output is absent or equals a clean run."""
    out = tmp_path / "out"
    args = [*_dedup(), "scan", str(corpus), "--out", str(out), "--force", "--quiet"]
    args += ["--shard-mb", str(SMALL_SHARDS / (1 << 20))]
    started = time.monotonic()
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - started
    assert same_tables(out, clean_run)

    rng = random.Random(7)
    outcomes = {"absent": 0, "complete": 0}
    for attempt in range(20):
        if attempt % 2 and out.exists():
            # Half the runs write a new output, half replace a complete one.
            shutil.rmtree(out)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if out.exists():
            names = sorted(p.name for p in out.iterdir())
            assert names == sorted([*(f"{n}.parquet" for n in TABLES), "index"])
            assert same_tables(out, clean_run)
            outcomes["complete"] += 1
        else:
            outcomes["absent"] += 1
    # The rerun after the last kill finishes and equals the clean run.
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    assert same_tables(out, clean_run)
    assert outcomes["absent"] + outcomes["complete"] == 20
