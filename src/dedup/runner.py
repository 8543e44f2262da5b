"""The embedded runner: read -> analyze -> Arrow tables -> atomic Parquet output.

It only wires; every algorithm lives in `dedup.core`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dedup.arrow import to_tables
from dedup.arrow_index import build_index_tables
from dedup.config import ScanConfig
from dedup.core.pipeline import Analysis, analyze, passage_texts
from dedup.errors import ConfigError
from dedup.output import check_target, write_output
from dedup.progress import ProgressFn, Tick, no_progress
from dedup.schemas import TABLES
from dedup.sources import Document, Problem, list_inputs, read_documents


@dataclass(frozen=True)
class TopPassage:
    """A passage as the summary shows it: id, documents sharing it, text."""

    passage_id: int
    doc_count: int
    text: str


@dataclass(frozen=True)
class ScanSummary:
    """What a scan found, for people: counts and the most shared passages."""

    out: Path
    n_documents: int
    n_blocks: int
    n_chars: int
    boilerplate_chars: int
    n_passages: int
    n_near_dup_clusters: int
    n_near_dup_documents: int
    top_passages: list[TopPassage]
    problems: list[Problem] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(p.action == "skipped" for p in self.problems)

    @property
    def n_replaced(self) -> int:
        return sum(p.action == "replaced" for p in self.problems)

    @property
    def boilerplate_share(self) -> float:
        return self.boilerplate_chars / self.n_chars if self.n_chars else 0.0


def summarize(result: Analysis, out: Path, top: int = 5) -> ScanSummary:
    """Counts and the `top` most shared passages of an analysis written to `out`."""
    spans = result.spans
    boiler = int(np.sum(np.where(spans.run >= 0, spans.end - spans.start, 0)))
    in_clusters = result.doc_cluster_size > 1
    passages, blocks = result.passages, result.blocks
    shown_rows = np.arange(min(top, len(passages.passage)))
    shown = [
        TopPassage(int(passages.passage[i]), int(passages.doc_count[i]), text)
        for i, text in zip(shown_rows.tolist(), passage_texts(result, shown_rows)[3], strict=True)
    ]
    return ScanSummary(
        out=out,
        n_documents=len(result.ids),
        n_blocks=len(blocks.doc),
        n_chars=int(result.doc_len.sum()),
        boilerplate_chars=boiler,
        n_passages=len(passages.passage),
        n_near_dup_clusters=int(
            np.sum(in_clusters & (result.doc_group == np.arange(len(result.ids))))
        ),
        n_near_dup_documents=int(np.sum(in_clusters)),
        top_passages=shown,
    )


def use_workers(workers: int | None) -> int:
    """Set the threads of the compiled stages (every core by default); return the old count.

    Numba's thread count is process-wide state, so it is set here, at the
    edge, never inside the core, and `scan` puts the old value back.
    """
    import numba

    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 1:
        raise ConfigError(f"--workers must be at least 1, got {count}")
    most: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    previous = _numba_threads()
    _set_numba_threads(min(count, most))
    return previous


def _numba_threads() -> int:
    import numba

    count: int = numba.get_num_threads()
    return count


def _set_numba_threads(count: int) -> None:
    import numba

    numba.set_num_threads(count)


def scan(
    paths: Sequence[str | Path],
    out: str | Path,
    cfg: ScanConfig,
    force: bool = False,
    on_decode_error: str = "replace",
    workers: int | None = None,
    progress: ProgressFn = no_progress,
    index: bool = True,
) -> ScanSummary:
    """Scan files and folders; write spans, documents, passages and errors tables to `out`.

    Inputs that are binary, unreadable or (by `on_decode_error`) not UTF-8
    are skipped or altered and listed in `errors.parquet` and the summary.
    `workers` (default: every core) sets the threads of the compiled stages;
    the tables do not depend on it. `progress` is told of each step (read,
    analyse, write); it does not change the tables. With `index` (the
    default) the folder is also an index (`out/index/`) that `dedup add`,
    `check` and `serve` use.

    Raises:
        InputError: a path is missing or holds no file; DecodeError with
            `on_decode_error="fail"`.
        OutputError: `out` exists without `force`, or cannot be written.
    """
    target = Path(out)
    check_target(target, force, paths)
    previous = use_workers(workers)
    try:
        problems: list[Problem] = []
        docs = read_inputs(paths, [target], on_decode_error, problems, progress)
        threads = _numba_threads()
        # One long call: its ticks say when it starts and ends, time passes between.
        progress(Tick("analyse", files_total=len(docs)))
        result = analyze([d.id for d in docs], [d.text for d in docs], cfg, threads)
        extra = build_index_tables(result, cfg, threads) if index else {}
        progress(Tick("analyse", files_done=len(docs), files_total=len(docs), finished=True))
    finally:
        _set_numba_threads(previous)
    progress(Tick("write", files_total=len(TABLES)))
    write_output(target, to_tables(result, cfg, problems) | extra, force)
    progress(Tick("write", files_done=len(TABLES), files_total=len(TABLES), finished=True))
    return replace(summarize(result, target), problems=problems)


def read_inputs(
    paths: Sequence[str | Path],
    skip: Sequence[str | Path],
    on_decode_error: str,
    problems: list[Problem],
    progress: ProgressFn = no_progress,
) -> list[Document]:
    """Every usable document (as `read_documents`), telling `progress` of files and bytes read.

    Totals need the inputs listed (and sized) before reading; that second walk
    is only done when someone listens, never for the `no_progress` default.
    """
    docs = read_documents(paths, skip, on_decode_error, problems)
    if progress is no_progress:
        return list(docs)
    listed = list_inputs(paths, skip)
    done: dict[str, tuple[int, int]] = {}  # source -> (files, bytes) read up to it
    nbytes = 0
    for count, (_, path) in enumerate(listed, 1):
        with contextlib.suppress(OSError):
            nbytes += path.stat().st_size
        done[str(path)] = (count, nbytes)
    tick = Tick("read", files_total=len(listed), bytes_total=nbytes)
    progress(tick)
    found = []
    for doc in docs:
        found.append(doc)
        files, read = done.get(doc.source, (tick.files_done, tick.bytes_done))
        tick = replace(tick, files_done=files, bytes_done=read)
        progress(tick)
    progress(replace(tick, files_done=len(listed), bytes_done=nbytes, finished=True))
    return found
