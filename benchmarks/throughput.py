"""Throughput of dedup against a reading floor and other MinHash tools, into benchmarks/RESULTS.md.

    python benchmarks/throughput.py [--corpus PATH | --mb 100] [--fractions 0.1,0.3,1]
        [--sample-mb 10] [--budget 120] [--repeat 1] [--skip-slow] [--smoke] [--write]

Without --corpus, a corpus of about --mb MB (default 100) is generated with
`dedup.synth` into a temporary folder; with --corpus and --mb, a seeded
sample of about --mb MB of its files is measured. Files that are not UTF-8
are decoded with errors="replace". MB are 10**6 bytes of files on disk.

The machine is shared and noisy, so every speed is also given as a ratio to
the reading floor measured in the same run on the same files. Each
measurement runs in a fresh subprocess, so its peak RSS is its own (VmHWM on
Linux: `ru_maxrss` would report the parent's size, which it keeps across
fork and exec); where a measurement starts worker processes, the peak of
their summed RSS, sampled every 0.1 s, is shown instead. The corpus is read
once before any measurement, so every row reads from the page cache. Times
include reading the files and exclude interpreter start, imports and JIT
loading (each subprocess warms up first). With --repeat N every row is run
N times and the fastest run is shown, which damps the noise further.

Rows, on the line blocks of `text.split_lines`, normalised by `text.tokens`
and shingled by `shingles.shingle_strings` with `ScanConfig()`'s defaults
(5-word shingles, 128 permutations, seed 1):

- floor: read + split + normalise + one `xxhash.xxh32_intdigest` per
  shingle, in plain Python;
- datasketch: per block `MinHash(num_perm=128, hashfunc=xxh32_intdigest)`
  with `update_batch`, then `query` and `insert` in
  `MinHashLSH(threshold=0.7, num_perm=128)`; and `MinHash.bulk`;
- rensa: `RMinHash(128, 1).update(shingles)` per block, and its
  `digest_matrix_from_token_sets`, fed the same shingle strings;
- datatrove: its four MinHash stages (signature, buckets, cluster, filter to
  Parquet) with the local executor and one worker per core, whole files as
  documents, its own tokeniser and defaults (14 bands x 8 hashes);
- dedup signatures: `blockhash.hash_blocks` then `fastops.signatures_kernel`,
  over every block (`similar.signature_chunks`) and over distinct contents,
  each signed once from its first block as `core.pipeline` does
  (`similar.signature_chunks` of picked rows), one thread, 65,536 rows at a time into
  one buffer, as a scan signs;
- dedup scan: `dedup.runner.scan` end to end (read -> Parquet) with 1 worker
  (one numba thread) and with one worker per core, and with one worker per
  core on the sample of the slow rows (datatrove's input).

The slow rows (datasketch, datatrove; --skip-slow leaves them out) run on a
seeded sample of --sample-mb, and the datasketch ones stop after --budget
seconds; their MB/s is that of the part measured, and their ratio is to the
floor on the same sample. datatrove does other work (whole documents, spaCy
word tokens), so its ratio compares cost, not like with like. A last table
scans growing fractions of the corpus with 1 worker.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import inspect
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from results_md import replace_section  # benchmarks/ is on sys.path when run

if TYPE_CHECKING:
    from dedup.config import ScanConfig

ROOT = Path(__file__).resolve().parent.parent
CORES = os.cpu_count() or 1
# Blocks per call of the bulk APIs: large enough to amortise a call, small
# enough to keep memory flat.
BATCH = 10_000
INSTALL = "pip install 'dedup[bench]'"
# Rows that stop after --budget seconds (datatrove's stages cannot be stopped halfway).
BUDGETED = ("datasketch-lsh", "datasketch-bulk")
DATATROVE_DIRS = ("signatures", "buckets", "remove", "kept", "logs")

# --- measurements (run in a subprocess by `measure`) ----------------------------


@dataclass
class Reader:
    """Documents of a folder, in sorted path order, until `budget` seconds have passed."""

    root: Path
    budget: float = math.inf
    docs: int = 0
    bytes: int = 0
    stopped: bool = False
    started: float = field(default_factory=time.perf_counter)

    def texts(self) -> Iterator[str]:
        for path in files_of(self.root):
            if time.perf_counter() - self.started > self.budget:
                self.stopped = True
                return
            data = path.read_bytes()
            self.docs += 1
            self.bytes += len(data)
            yield data.decode("utf-8", errors="replace")


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@functools.cache
def config() -> ScanConfig:
    from dedup.config import ScanConfig

    return ScanConfig()


def block_shingles(text: str) -> Iterator[list[str]]:
    """Shingle strings of every line block of `text`, as dedup normalises them."""
    from dedup.core.shingles import shingle_strings
    from dedup.core.text import split_lines, tokens

    cfg = config()
    starts, ends = split_lines(text)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        yield shingle_strings(tokens(text[a:b], cfg.normalize), cfg.ngram)


def run_floor(reader: Reader, _: dict[str, Any]) -> str:
    from xxhash import xxh32_intdigest

    blocks = 0
    for text in reader.texts():
        for shingles in block_shingles(text):
            for s in shingles:
                xxh32_intdigest(s.encode("utf-8"))
            blocks += 1
    return f"{blocks} blocks"


def run_datasketch_lsh(reader: Reader, _: dict[str, Any]) -> str:
    from datasketch import MinHash, MinHashLSH
    from xxhash import xxh32_intdigest

    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    blocks = candidates = 0
    for d, text in enumerate(reader.texts()):
        for i, shingles in enumerate(block_shingles(text)):
            m = MinHash(num_perm=128, hashfunc=xxh32_intdigest)
            m.update_batch([s.encode("utf-8") for s in shingles])
            candidates += len(lsh.query(m))
            lsh.insert((d, i), m)
            blocks += 1
    return f"{blocks} blocks, {candidates} candidates"


def _batches(reader: Reader) -> Iterator[list[list[str]]]:
    batch: list[list[str]] = []
    for text in reader.texts():
        batch.extend(block_shingles(text))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run_datasketch_bulk(reader: Reader, _: dict[str, Any]) -> str:
    from datasketch import MinHash
    from xxhash import xxh32_intdigest

    blocks = 0
    for batch in _batches(reader):
        encoded = [[s.encode("utf-8") for s in shingles] for shingles in batch]
        blocks += len(MinHash.bulk(encoded, num_perm=128, hashfunc=xxh32_intdigest))
    return f"{blocks} blocks"


def run_rensa(reader: Reader, _: dict[str, Any]) -> str:
    from rensa import RMinHash

    blocks = 0
    for text in reader.texts():
        for shingles in block_shingles(text):
            m = RMinHash(num_perm=128, seed=1)
            m.update(shingles)
            m.digest()
            blocks += 1
    return f"{blocks} blocks"


def run_rensa_matrix(reader: Reader, _: dict[str, Any]) -> str:
    from rensa import RMinHash

    blocks = 0
    for batch in _batches(reader):
        RMinHash.digest_matrix_from_token_sets(batch, 128, 1)
        blocks += len(batch)
    return f"{blocks} blocks"


def run_signatures(reader: Reader, spec: dict[str, Any]) -> str:
    from dedup.core.blockhash import hash_blocks
    from dedup.core.minhash import permutations
    from dedup.core.similar import signature_chunks

    cfg = config()
    blocks = hash_blocks(list(reader.texts()), cfg)
    perms = permutations(cfg.num_perm, cfg.seed)
    if spec["distinct"]:
        # Exactly what `analyze` signs: each distinct content once, from its
        # first block, as `similar.set_band_keys` does before banding.
        from dedup.core.pipeline import _contents

        rows = _contents(blocks)[2]
        for _ in signature_chunks(blocks.hashes, blocks.offsets, perms, picked=rows):
            pass
        return f"{len(blocks.doc)} blocks, {len(rows)} signatures"
    # Signed a chunk of rows at a time into one buffer, as a scan does
    # (`similar.set_band_keys`) and as the rensa row does batch by batch:
    # nothing ever holds every signature at once.
    for _ in signature_chunks(blocks.hashes, blocks.offsets, perms):
        pass
    return f"{len(blocks.doc)} blocks, {len(blocks.offsets) - 1} signatures"


def run_scan(reader: Reader, spec: dict[str, Any]) -> str:
    from dedup.runner import scan

    reader.docs, reader.bytes = len(files_of(reader.root)), spec["bytes"]
    extra = {"workers": spec["workers"]} if spec["workers_arg"] else {}
    summary = scan([reader.root], Path(spec["tmp"]) / "out", config(), force=True, **extra)
    return (
        f"{summary.n_blocks} blocks, {summary.n_skipped} files skipped, "
        f"{summary.n_replaced} decoded with replacements"
    )


def run_idle(reader: Reader, _: dict[str, Any]) -> str:
    return "imports and warm-up only"


def run_datatrove(reader: Reader, spec: dict[str, Any]) -> str:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers.base import BaseDiskReader
    from datatrove.pipeline.writers import ParquetWriter

    class FileReader(BaseDiskReader):
        """Every file is one document (datatrove has no plain-text reader)."""

        name = "whole files"

        def read_file(self, filepath: str) -> Iterator[Any]:
            with self.data_folder.open(filepath, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
            yield self.get_document_from_dict({"text": text, "id": filepath}, filepath, 0)

    reader.docs, reader.bytes = len(files_of(reader.root)), spec["bytes"]
    n, docs = spec["workers"], str(reader.root)
    sigs, buckets, remove, kept, logs = (f"{spec['tmp']}/{d}" for d in DATATROVE_DIRS)
    config = MinhashConfig()
    signature = MinhashDedupSignature(sigs, config=config)
    note = ""
    if int(importlib.metadata.version("xxhash").split(".")[0]) >= 4:
        # datatrove's default hash passes str, which xxhash 4 refuses (datatrove's
        # "processing" extra pins xxhash<4); xxhash 3 encoded str as UTF-8, as this does.
        import xxhash

        def xxh64(text: str) -> int:
            return int(xxhash.xxh64_intdigest(text.encode("utf-8")))

        signature._hash_func = xxh64
        note = ", xxh64 given UTF-8 bytes (xxhash 4)"
    stages = [
        ([FileReader(docs), signature], n),
        ([MinhashDedupBuckets(sigs, buckets, config=config)], config.num_buckets),
        ([MinhashDedupCluster(buckets, remove, config=config)], 1),
        ([FileReader(docs), MinhashDedupFilter(remove), ParquetWriter(kept)], n),
    ]
    for number, (pipeline, tasks) in enumerate(stages):
        executor = LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(n, tasks), logging_dir=f"{logs}/{number}"
        )
        executor.run()
    import pyarrow.parquet as pq

    left = sum(pq.read_metadata(p).num_rows for p in Path(kept).rglob("*.parquet"))
    return f"{config.num_buckets}x{config.hashes_per_bucket} hashes{note}, {left} documents kept"


def warm_up(kind: str, tmp: Path) -> None:
    """Load what a measurement needs (numba's cached kernels above all) before timing it."""
    docs = tmp / "warm"
    docs.mkdir()
    for i in range(3):
        (docs / f"{i}.txt").write_text(f"Home | News | Contact\nwarm up text number {i}\n")
    for text in Reader(docs).texts():
        for _ in block_shingles(text):
            pass
    if kind in ("scan", "idle"):
        from dedup.runner import scan

        scan([docs], tmp / "warm-out", config(), force=True)
    if kind == "signatures":
        from dedup.core.blockhash import hash_blocks
        from dedup.core.fastops import signatures_kernel
        from dedup.core.minhash import permutations
        from dedup.core.pipeline import _contents

        warm = hash_blocks(list(Reader(docs).texts()), config())
        signatures_kernel(warm.hashes, warm.offsets, *permutations(128, 1))
        _contents(warm)


RUNS: dict[str, Callable[[Reader, dict[str, Any]], str]] = {
    "floor": run_floor,
    "datasketch-lsh": run_datasketch_lsh,
    "datasketch-bulk": run_datasketch_bulk,
    "rensa": run_rensa,
    "rensa-matrix": run_rensa_matrix,
    "datatrove": run_datatrove,
    "signatures": run_signatures,
    "scan": run_scan,
    "idle": run_idle,
}


def peak_rss_mb() -> float:
    """Peak RSS of this process since it started this program.

    On Linux, VmHWM: `ru_maxrss` keeps the peak of the process before `exec`,
    which is the parent's size when the parent forked us.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def measure(spec: dict[str, Any]) -> None:
    """Child side: warm up, time one run, print its figures as one JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(spec["kind"], Path(tmp))
        spec = {**spec, "tmp": tmp}
        reader = Reader(Path(spec["root"]), spec.get("budget", math.inf))
        started = time.perf_counter()
        detail = RUNS[spec["kind"]](reader, spec)
        seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "docs": reader.docs,
        "bytes": reader.bytes,
        "stopped": reader.stopped,
        "rss_mb": peak_rss_mb(),
        "detail": detail,
    }
    print("RESULT " + json.dumps(result), flush=True)


# --- parent side: corpus, subprocesses, tables ------------------------------------


def tree_rss(pid: int) -> tuple[int, int]:
    """(bytes of RSS, number of processes) of `pid` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children.get(p, []))
    return sum(rss.get(p, 0) for p in seen), len(seen)


@dataclass
class Row:
    name: str
    input: str
    result: dict[str, Any] | None = None
    note: str = ""
    tree_mb: float = 0.0
    procs: int = 1
    floor: Row | None = None

    @property
    def mb_per_s(self) -> float:
        r = self.result or {"bytes": 0, "seconds": 1}
        return float(r["bytes"]) / 1e6 / float(r["seconds"])


def run_child(row: Row, spec: dict[str, Any], env: dict[str, str], timeout: float) -> Row:
    """Measure `spec` in a fresh interpreter; fill `row` with its result or failure."""
    command = [sys.executable, str(Path(__file__).resolve()), "--_measure", json.dumps(spec)]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1) and os.path.isdir("/proc"):
            total, count = tree_rss(child.pid)
            row.tree_mb, row.procs = max(row.tree_mb, total / 1e6), max(row.procs, count)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        row.note = f"FAILED: no result within {timeout:.0f} s"
        return row
    finally:
        stop.set()
        sampler.join()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if child.returncode != 0 or not lines:
        last = (err.strip().splitlines() or ["no output"])[-1]
        row.note = f"FAILED (exit {child.returncode}): {last}"
    else:
        row.result = json.loads(lines[-1][len("RESULT ") :])
    return row


def generated_corpus(megabytes: float, out: Path) -> Path:
    """About `megabytes` MB of `dedup.synth` documents (~3.3 kB a page) under out/docs."""
    from dedup.synth import SynthConfig, generate
    from dedup.synth_io import write_corpus

    pages = max(8, round(megabytes * 1e6 / 3300))
    sites = max(2, min(200, pages // 100))
    cfg = SynthConfig(
        seed=0,
        sites=sites,
        pages_per_site=math.ceil(pages / sites),
        near_duplicates=pages // 20,
        quote_pairs=pages // 50,
    )
    write_corpus(generate(cfg), out)
    return out / "docs"


def sample(root: Path, files: list[Path], megabytes: float, out: Path) -> Path:
    """A folder of symbolic links to a seeded sample of `files` of about `megabytes` MB.

    Samples are prefixes of one shuffled order, so a smaller one is part of a
    larger one. Returns `root` itself when the sample would be all of it.
    """
    order = sorted(files)
    random.Random(0).shuffle(order)
    chosen, size = [], 0
    for path in order:
        if size >= megabytes * 1e6:
            break
        chosen.append(path)
        size += path.stat().st_size
    if len(chosen) == len(files):
        return root
    for path in chosen:
        link = out / path.relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve())
    return out


def version(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cell(row: Row) -> list[str]:
    if row.result is None:
        return [row.name, row.input, "", "", "", "", "", "", "", row.note]
    r = row.result
    ratio = f"{row.mb_per_s / row.floor.mb_per_s:.2f}" if row.floor and row.floor.result else ""
    notes = [r["detail"]]
    if r["stopped"]:
        notes.append(f"stopped after the {r['seconds']:.0f} s budget")
    rss = r["rss_mb"]
    if row.procs > 1:
        # Worker processes are not in the measuring process's own peak.
        rss = max(rss, row.tree_mb)
        notes.append(f"RSS summed over {row.procs} processes, sampled every 0.1 s")
    if row.note:
        notes.append(row.note)
    return [
        row.name,
        row.input,
        str(r["docs"]),
        f"{r['bytes'] / 1e6:.1f}",
        f"{r['seconds']:.2f}",
        f"{row.mb_per_s:.2f}",
        f"{r['docs'] / r['seconds']:.0f}",
        ratio,
        f"{rss:.0f}",
        "; ".join(notes),
    ]


def table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


@dataclass
class Plan:
    """What to measure and where."""

    root: Path
    files: list[Path]
    slow_root: Path  # the sample for slow rows, or root
    budget: float
    timeout: float
    workers_arg: bool
    repeat: int = 1
    rows: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)

    def size(self, root: Path) -> int:
        return sum(p.stat().st_size for p in files_of(root))

    def measure(self, name: str, kind: str, root: Path, floor: Row | None, **extra: Any) -> Row:
        """One measurement in its own subprocess; `one_thread=True` pins numba to one thread."""
        size = self.size(root)
        label = "corpus" if root == self.root else f"sample {size / 1e6:.1f} MB"
        spec = {"kind": kind, "root": str(root), "bytes": size, **extra}
        if kind in BUDGETED:
            spec["budget"] = self.budget
        env = {"NUMBA_NUM_THREADS": "1"} if extra.get("one_thread") else {}
        print(f"measuring {name} on {label} ...", file=sys.stderr, flush=True)
        row = run_child(Row(name, label, floor=floor), spec, env, self.timeout)
        for _ in range(self.repeat - 1):
            if row.result is None:
                break
            again = run_child(Row(name, label, floor=floor), spec, env, self.timeout)
            if again.result is None or again.mb_per_s > row.mb_per_s:
                row = again
        print("| " + " | ".join(cell(row)) + " |", file=sys.stderr, flush=True)
        if row.result is None:
            self.failed.append(row)
        return row

    def run(self, name: str, kind: str, root: Path, floor: Row | None, **extra: Any) -> Row:
        """`measure`, then a row of the main table."""
        row = self.measure(name, kind, root, floor, **extra)
        self.rows.append(row)
        return row

    def absent(self, name: str, why: str) -> None:
        self.rows.append(Row(name, "", note=why))


def main_table(plan: Plan, skip_slow: bool) -> tuple[Row, Row]:
    """Every row of the first table; returns the floor and the 1-worker scan."""
    floor = plan.run("floor (Python: read, split, normalise, xxh32)", "floor", plan.root, None)
    slow_floor = floor
    if plan.slow_root != plan.root:
        slow_floor = plan.run("floor, on the sample", "floor", plan.slow_root, None)
    if skip_slow:
        plan.absent("datasketch MinHash + MinHashLSH", "skipped (--skip-slow)")
        plan.absent("datasketch MinHash.bulk", "skipped (--skip-slow)")
    else:
        plan.run("datasketch MinHash + MinHashLSH", "datasketch-lsh", plan.slow_root, slow_floor)
        plan.run("datasketch MinHash.bulk", "datasketch-bulk", plan.slow_root, slow_floor)
    if version("rensa"):
        plan.run("rensa RMinHash per block", "rensa", plan.root, floor)
        plan.run("rensa digest_matrix_from_token_sets", "rensa-matrix", plan.root, floor)
    else:
        plan.absent("rensa", f"not installed ({INSTALL})")
    # datatrove's MinHash needs these for English word tokens and its package imports.
    missing = [p for p in ("datatrove", "spacy", "regex", "tokenizers") if not version(p)]
    if skip_slow:
        plan.absent(f"datatrove MinHash, 4 stages, {CORES} workers", "skipped (--skip-slow)")
    elif missing:
        why = f"not installed: {', '.join(missing)} ({INSTALL})"
        plan.absent(f"datatrove MinHash, 4 stages, {CORES} workers", why)
    else:
        plan.run(
            f"datatrove MinHash, 4 stages, {CORES} workers",
            "datatrove",
            plan.slow_root,
            slow_floor,
            workers=CORES,
        )
    if plan.slow_root != plan.root and plan.workers_arg:
        # The same input as the slow rows, so that datatrove is compared like with like.
        plan.run(
            f"dedup scan, {CORES} workers, on the sample",
            "scan",
            plan.slow_root,
            slow_floor,
            workers=CORES,
            workers_arg=True,
        )
    for distinct in (False, True):
        plan.run(
            "dedup signatures, " + ("distinct contents" if distinct else "every block"),
            "signatures",
            plan.root,
            floor,
            distinct=distinct,
            one_thread=True,
        )
    scan_1 = plan.run(
        "dedup scan, 1 worker",
        "scan",
        plan.root,
        floor,
        workers=1,
        workers_arg=plan.workers_arg,
        one_thread=True,
    )
    if not plan.workers_arg:
        scan_1.note = "scan() has no `workers` argument yet: called without it, one numba thread"
        plan.absent(
            f"dedup scan, {CORES} workers",
            "TODO: not measured, dedup.runner.scan() has no `workers` argument yet",
        )
    elif CORES > 1:
        plan.run(
            f"dedup scan, {CORES} workers",
            "scan",
            plan.root,
            floor,
            workers=CORES,
            workers_arg=True,
        )
    return floor, scan_1


def scaling_table(plan: Plan, fractions: list[float], scan_1: Row, tmp: Path) -> str:
    """`dedup scan` with 1 worker on growing shares of the corpus, as ratios to the first."""
    idle = plan.measure("dedup scan, imports and warm-up only", "idle", plan.root, None)
    measured: list[tuple[float, Row]] = []
    total = plan.size(plan.root)
    for fraction in sorted(fractions):
        if fraction >= 1.0:
            measured.append((1.0, scan_1))
            continue
        root = sample(plan.root, plan.files, fraction * total / 1e6, tmp / f"share{fraction}")
        row = plan.measure(
            f"dedup scan, 1 worker, {fraction:.0%}",
            "scan",
            root,
            None,
            workers=1,
            workers_arg=plan.workers_arg,
            one_thread=True,
        )
        measured.append((fraction, row))
    base_idle = idle.result["rss_mb"] if idle.result else 0.0
    lines: list[list[str]] = []
    first = next((r.result for _, r in measured if r.result), None)
    for fraction, row in measured:
        r = row.result
        if r is None or first is None:
            lines.append([f"{fraction:.0%}", *[""] * 10, row.note])
            continue
        above, first_above = r["rss_mb"] - base_idle, first["rss_mb"] - base_idle
        lines.append(
            [
                f"{fraction:.0%}",
                str(r["docs"]),
                f"{r['bytes'] / 1e6:.1f}",
                f"{r['seconds']:.2f}",
                f"{r['bytes'] / 1e6 / r['seconds']:.2f}",
                f"{r['rss_mb']:.0f}",
                f"{above:.0f}",
                f"{r['bytes'] / first['bytes']:.2f}",
                f"{r['seconds'] / first['seconds']:.2f}",
                f"{r['rss_mb'] / first['rss_mb']:.2f}",
                f"{above / first_above:.2f}" if first_above > 0 else "",
                row.note,
            ]
        )
    columns = ["share", "docs", "MB", "s", "MB/s", "peak RSS MB", "above idle MB"]
    columns += ["MB ÷ first", "s ÷ first", "RSS ÷ first", "above idle ÷ first", "notes"]
    note = (
        f"\n\n`dedup scan` with 1 worker on nested seeded samples; idle = imports and a warm-up "
        f"scan of three tiny files ({base_idle:.0f} MB peak RSS)."
    )
    return table(columns, lines) + note


def describe(args: argparse.Namespace, plan: Plan) -> str:
    if args.corpus is None:
        corpus = f"generated with dedup.synth (--mb {args.mb or 100:g})"
    else:
        corpus = str(args.corpus) + (f", seeded sample (--mb {args.mb:g})" if args.mb else "")
    tools = ", ".join(
        f"{p} {version(p) or 'not installed'}"
        for p in ("datasketch", "rensa", "datatrove", "spacy", "numba", "xxhash")
    )
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return (
        f"Corpus: {corpus}: {len(plan.files)} files, {plan.size(plan.root) / 1e6:.1f} MB. "
        f"Machine: {CORES} cores, Python {sys.version.split()[0]}; {tools}; dedup at {commit}."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a folder to read (default: generate one)")
    parser.add_argument(
        "--mb", type=float, help="MB to generate (default 100), or to sample from --corpus"
    )
    parser.add_argument(
        "--fractions",
        default="0.1,0.3,1",
        help="shares of the corpus to scan for the scaling table",
    )
    parser.add_argument("--sample-mb", type=float, default=10.0, help="MB for the slow rows")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds for a slow row")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for any row")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each row; the fastest is shown"
    )
    parser.add_argument("--skip-slow", action="store_true", help="no datasketch, no datatrove")
    parser.add_argument("--smoke", action="store_true", help="a tiny corpus, for CI")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--_measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._measure:
        measure(json.loads(args._measure))
        return 0
    if args.smoke:
        args.mb, args.sample_mb, args.budget = 0.3, 0.1, 20.0
    fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    if not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        parser.error(f"--fractions must be shares in (0, 1], got {args.fractions!r}")
    from dedup.runner import scan

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.corpus is None:
            root = generated_corpus(args.mb or 100.0, tmp / "generated")
        elif not args.corpus.is_dir() or not files_of(args.corpus):
            parser.error(f"--corpus {args.corpus}: not a folder with files")
        elif args.mb:
            root = sample(args.corpus, files_of(args.corpus), args.mb, tmp / "corpus")
        else:
            root = args.corpus
        files = files_of(root)
        for path in files:  # into the page cache, so every row reads alike
            path.read_bytes()
        slow_root = root if args.skip_slow else sample(root, files, args.sample_mb, tmp / "slow")
        plan = Plan(
            root,
            files,
            slow_root,
            args.budget,
            args.timeout,
            "workers" in inspect.signature(scan).parameters,
            max(1, args.repeat),
        )
        _, scan_1 = main_table(plan, args.skip_slow)
        scaling = scaling_table(plan, fractions, scan_1, tmp)
        header = describe(args, plan)
    columns = ["method", "input", "docs", "MB", "s", "MB/s", "docs/s", "speed ÷ floor"]
    columns += ["peak RSS MB", "notes"]
    main = table(columns, [cell(r) for r in plan.rows])
    command = "python benchmarks/throughput.py " + " ".join(sys.argv[1:])
    todo = (
        ""
        if plan.workers_arg
        else (
            "\n\nTODO: the multi-worker `dedup scan` figure is missing: "
            "`dedup.runner.scan()` has no `workers` argument yet; re-run once it has."
        )
    )
    section = (
        f"{header}\n\n{main}\n\n{scaling}{todo}\n\n"
        f"Produced by `{command.strip()}` (see the script's docstring for what each row "
        f"measures; speeds vary from run to run on this shared machine, ratios less)."
    )
    print(section)
    if args.write:
        replace_section("throughput", "Throughput", section)
    return 1 if plan.failed else 0


if __name__ == "__main__":
    sys.exit(main())
