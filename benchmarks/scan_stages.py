"""Where a scan's analysis spends its time: each step, timed over repeated runs.

    python benchmarks/scan_stages.py [--corpus PATH] [--workers 1] [--repeat 3] [--write]

Reads and hashes the corpus once (as `dedup scan` does, documents in id
order), then runs the analysis (`core.pipeline.analyze` on those blocks,
as the runner calls it) and the building of the output and index tables
`--repeat` times. Each step is timed by wrapping the function the pipeline
calls, so the steps are the very functions a scan runs; the table shows the
best wall and CPU time of each over the runs, which damps the noise of a
shared machine enough to compare one change. Steps nest: `label` holds the
steps listed under it, `analyze` all of them. Listing, reading, saving shards
and writing Parquet are not in it (benchmarks/throughput.py times whole
scans). Without --corpus, benchmarks/data/throughput is used (406 MB of real
text built by ../shared/corpora/throughput/make.sh; see benchmarks/throughput.py).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba

from dedup import InputConfig, ScanConfig
from dedup.arrow import to_tables
from dedup.arrow_index import build_index_tables
from dedup.core import pipeline
from dedup.core.blockhash import hash_blocks
from dedup.sources import Problem, list_sources, read_source
from results_md import replace_section  # benchmarks/ is on sys.path when run

# (module, function, shown as): wrapped where the pipeline looks them up.
STEPS = [
    ("dedup.core.pipeline", "_contents", "distinct contents"),
    ("dedup.core.pipeline", "content_clusters", "content_clusters (block LSH)"),
    ("dedup.core.pipeline", "label", "label"),
    ("dedup.core.pipeline", "document_sets", "  document_sets"),
    ("dedup.core.pipeline", "near_duplicate_groups", "  near_duplicate_groups"),
    ("dedup.core.pipeline", "find_runs", "  find_runs (twice)"),
    ("dedup.core.pipeline", "join_variants", "  join_variants"),
    ("dedup.core.pipeline", "glued_runs", "  glued_runs"),
    ("dedup.core.pipeline", "split_glued", "  split_glued"),
    ("dedup.core.pipeline", "span_scores", "  span_scores"),
    ("dedup.core.pipeline", "passage_table", "  passage_table"),
]

TIMES: dict[str, list[tuple[float, float]]] = defaultdict(list)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name].append((time.perf_counter() - wall, time.process_time() - cpu))

    return run


def measure(corpus: Path, workers: int, repeat: int) -> tuple[str, list[list[str]]]:
    cfg = ScanConfig()
    numba.set_num_threads(workers)
    started = time.perf_counter()
    problems: list[Problem] = []
    reading = InputConfig()
    docs = [
        d
        for s in list_sources([corpus], reading, (), problems)
        for d in read_source(s, reading, problems)
    ]
    docs = [docs[i] for i in pipeline.id_order([d.id for d in docs])]
    ids, texts = [d.id for d in docs], [d.text for d in docs]
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    blocks = hash_blocks(texts, cfg, workers)
    hash_s = time.perf_counter() - started
    for module, name, shown in STEPS:
        target = importlib.import_module(module)
        setattr(target, name, timed(shown, getattr(target, name)))
    for _ in range(repeat):
        result = timed("analyze", pipeline.analyze)(
            ids, texts, cfg, workers, blocks=blocks, keep_document_sets=True
        )
        # From the first blocks the analysis kept, as a scan builds them.
        timed("index tables", build_index_tables)(result, cfg, workers)
        timed("output tables", to_tables)(result, cfg, problems, None)
        del result
    head = (
        f"{corpus}: {len(docs)} documents, {len(blocks.doc)} blocks; workers: {workers}; "
        f"read in {read_s:.1f} s and hashed in {hash_s:.1f} s once; runs of each step: {repeat}."
    )
    order = [shown for _, _, shown in STEPS] + ["analyze", "index tables", "output tables"]
    rows = []
    for shown in order:
        runs = TIMES[shown]
        label = shown.replace(" ", "&nbsp;", 2) if shown.startswith("  ") else shown
        if not runs:  # split_glued, say, when no passage is glued to a line
            rows.append([label, "", "", "not run"])
            continue
        per = len(runs) // repeat  # find_runs runs twice an analysis
        sums = [
            tuple(map(sum, zip(*runs[i * per : (i + 1) * per], strict=True))) for i in range(repeat)
        ]
        rows.append(
            [
                label,
                f"{min(s[0] for s in sums):.2f}",
                f"{min(s[1] for s in sums):.2f}",
                " ".join(f"{s[0]:.2f}" for s in sums),
            ]
        )
    return head, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("benchmarks/data/throughput"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="put the table into RESULTS.md")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(
            f"{args.corpus}: no such corpus; build it with ../shared/corpora/throughput/make.sh "
            "(see benchmarks/throughput.py) or pass --corpus PATH"
        )
    head, rows = measure(args.corpus, args.workers, args.repeat)
    table = ["| step | best wall s | best CPU s | wall s of each run |", "|---|---|---|---|"]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    command = "python benchmarks/scan_stages.py" + "".join(
        f" {flag}" for flag in sys.argv[1:] if flag != "--write"
    )
    body = f"`{command}`: {head}\n\n" + "\n".join(table)
    print(body)
    if args.write:
        workers = f"{args.workers} worker" + ("s" if args.workers > 1 else "")
        replace_section(f"scan_stages_{args.workers}", f"Scan, step by step ({workers})", body)


if __name__ == "__main__":
    main()
