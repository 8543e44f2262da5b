"""Time, rows and bytes of each stage of the Ray engine on one corpus: the inputs of docs/ray.md.

    python benchmarks/ray_stages.py CORPUS [--cpus 2] [--partitions N] [--write]

Runs `scan_ray` once on a local Ray instance with every shuffle of
`dedup.ray_engine.matching` materialised as it ends, so that its wall time,
output rows and output bytes (Arrow, in the object store) can be read; the
map stages (read, hash) and the driver's labelling are timed around them.
Materialising each shuffle serialises stages that would otherwise overlap, so
the total is a little above a plain run's.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dedup.ray_engine.matching as matching
import dedup.ray_engine.runner as runner
from dedup import ScanConfig
from dedup.ray_engine import RaySettings, scan_ray
from results_md import replace_section  # benchmarks/ is on sys.path when run

ROWS: list[tuple[str, float, int, int]] = []


def _timed_shuffle(original: Any) -> Any:
    def shuffle(ds: Any, column: str, parts: int, fn: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        done = original(ds, column, parts, fn, **kwargs).materialize()
        ROWS.append(
            (
                f"shuffle by {column}: {fn.__name__}",
                time.perf_counter() - started,
                done.count(),
                done.size_bytes(),
            )
        )
        return done

    return shuffle


def _timed(name: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = function(*args, **kwargs)
        ROWS.append((name, time.perf_counter() - started, -1, -1))
        return result

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(
        address="local",
        num_cpus=args.cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    matching.shuffle = _timed_shuffle(matching.shuffle)  # type: ignore[assignment]
    runner._read = _timed("read (map over files); texts to the driver's work folder", runner._read)
    runner.match_blocks = _timed("block matching (all shuffles above)", runner.match_blocks)
    runner.ranges_on_cluster = _timed(
        "ranges of documents made by tasks (block rows split, texts added)",
        runner.ranges_on_cluster,
    )
    runner.label_parts = _timed(
        "labelling: core.label_parts, a task per range and pass", runner.label_parts
    )
    runner.to_tables = _timed("driver: documents, passages and errors tables", runner.to_tables)
    runner.write_spans = _timed("spans table: a task per file", runner.write_spans)
    size = sum(p.stat().st_size for p in args.corpus.rglob("*") if p.is_file()) / 1e6
    out = Path(tempfile.mkdtemp(prefix="dedup-stages-")) / "out"
    started = time.perf_counter()
    summary = scan_ray(
        [args.corpus], out, ScanConfig(), settings=RaySettings(partitions=args.partitions)
    )
    total = time.perf_counter() - started
    shutil.rmtree(out.parent, ignore_errors=True)
    ray.shutdown()
    lines = ["| stage | s | rows out | MB out |", "|---|---|---|---|"]
    for name, seconds, rows, nbytes in ROWS:
        shown = (str(rows), f"{nbytes / 1e6:.1f}") if rows >= 0 else ("", "")
        lines.append(f"| {name} | {seconds:.1f} | {shown[0]} | {shown[1]} |")
    lines.append(f"| whole scan_ray | {total:.1f} | | |")
    text = (
        f"`python benchmarks/ray_stages.py {' '.join(sys.argv[1:])}`: "
        f"{size:.0f} MB, {summary.n_documents} documents, {summary.n_blocks} blocks, "
        f"{summary.n_passages} passages, local Ray instance with {args.cpus} CPUs.\n\n"
        + "\n".join(lines)
    )
    print(text)
    if args.write:
        replace_section("ray_stages", "Ray engine, stage by stage", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
