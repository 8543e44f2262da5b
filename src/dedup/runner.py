"""The embedded runner: read -> analyze -> Arrow tables -> atomic Parquet output.

It only wires; every algorithm lives in `dedup.core`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from dedup.arrow import to_tables
from dedup.arrow_index import build_index_tables, for_index
from dedup.config import InputConfig, ScanConfig
from dedup.core.blockhash import hash_blocks
from dedup.core.hashed_ranges import analyze_in_ranges
from dedup.core.label_parts import Part, in_ranges
from dedup.core.pipeline import (
    Analysis,
    Kept,
    Stash,
    analyze,
    boilerplate_chars,
    id_order,
    n_blocks,
    passage_texts,
)
from dedup.errors import ConfigError, DuplicateIdError, OutputError
from dedup.heap import map_large_allocations, release_free_heap
from dedup.output import ROWS_PER_FILE, check_target, output_writer
from dedup.progress import ProgressFn, Tick, no_progress
from dedup.schemas import TABLES
from dedup.shards import (
    READ_TEXTS_FILE,
    SHARD_BYTES,
    TEXTS_FILE,
    ShardData,
    ShardStore,
    file_stats,
    manifest,
    plan_shards,
    remove_work_folder,
    work_folder,
)
from dedup.sources import (
    Document,
    Problem,
    Provenance,
    Source,
    list_sources,
    location,
    read_source,
)
from dedup.spilled_arrays import SpilledArrays
from dedup.spilled_parts import SpilledParts
from dedup.spilled_texts import SpilledTexts, TextsWriter


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
    resumed_shards: int = 0

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
    boiler = int(boilerplate_chars(result).sum())
    in_clusters = result.doc_cluster_size > 1
    passages = result.passages
    shown_rows = np.arange(min(top, len(passages.passage)))
    shown = [
        TopPassage(int(passages.passage[i]), int(passages.doc_count[i]), text)
        for i, text in zip(shown_rows.tolist(), passage_texts(result, shown_rows)[3], strict=True)
    ]
    return ScanSummary(
        out=out,
        n_documents=len(result.ids),
        n_blocks=n_blocks(result),
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

    Numba's thread count is global state (kept per calling thread), so it is set here, at the
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


def input_config(inputs: InputConfig | None, on_decode_error: str) -> InputConfig:
    """The reading config of a scan: `inputs`, or the default one with `on_decode_error`.

    Raises:
        ConfigError: both are given and disagree.
    """
    if inputs is None:
        return InputConfig(on_decode_error=on_decode_error)
    if on_decode_error not in ("replace", inputs.on_decode_error):
        raise ConfigError(
            f"on_decode_error={on_decode_error!r} disagrees with the InputConfig's "
            f"{inputs.on_decode_error!r}; set it in the InputConfig only"
        )
    return inputs


def scan(
    paths: Sequence[str | Path],
    out: str | Path,
    cfg: ScanConfig,
    force: bool = False,
    on_decode_error: str = "replace",
    workers: int | None = None,
    inputs: InputConfig | None = None,
    progress: ProgressFn = no_progress,
    shard_bytes: int = SHARD_BYTES,
    rows_per_file: int = ROWS_PER_FILE,
    index: bool = True,
    range_blocks: int | None = None,
) -> ScanSummary:
    """Scan files and folders; write spans, documents, passages and errors tables to `out`.

    `inputs` says how inputs are found and read (formats, fields, globs,
    decode policy; default `InputConfig()`); `on_decode_error` is a shortcut
    for its decode policy. Inputs that are binary, unreadable or (by the
    decode policy) not UTF-8 are skipped or altered and listed in
    `errors.parquet` and the summary. `workers` (default: every core) sets
    the threads of the compiled stages; the tables do not depend on it.
    `progress` is told of each step (read, analyse, write); it does not
    change the tables. Inputs are read in shards of about `shard_bytes`,
    each saved when finished (see `dedup.shards`): a rerun of an
    interrupted scan resumes from them. A table of more than
    `rows_per_file` rows is written as a folder of parts (`output.write_output`).
    With `index` (the default) the folder is also an index (`out/index/`)
    that `dedup add`, `check` and `serve` use. More than
    `range_blocks` lines (a line block is a line) are hashed, matched and
    labelled in ranges of documents of about that many lines, which wait in
    files of the work folder from hashing to writing
    (`core.hashed_ranges`); by default (None) ranges of 1 M lines above
    4 M (`label_parts.in_ranges`). The tables do not depend on it.

    Raises:
        InputError: a path is missing or holds no file; DuplicateIdError when
            two documents share an id; DecodeError under the "fail" policy.
        OutputError: `out` exists without `force`, or cannot be written.
    """
    reading = input_config(inputs, on_decode_error)
    if range_blocks is not None and range_blocks < 1:
        raise ConfigError(f"range_blocks must be at least 1, got {range_blocks}")
    target = Path(out)
    check_target(target, force, paths)
    # Freed arrays go back to the system, not to free heap kept resident.
    map_large_allocations()
    previous = use_workers(workers)
    try:
        problems: list[Problem] = []
        # Not the work folder either: a resumed scan would read its own files.
        sources = list_sources(paths, reading, [target, work_folder(target)], problems)
        field = cfg.group_by.removeprefix("field:") if cfg.group_by.startswith("field:") else None
        threads = _numba_threads()
        docs, values, resumed, read_texts = _read_shards(
            sources, reading, cfg, target, shard_bytes, field, threads, problems, progress
        )
        # A file's `Source` (its `Path`, about 0.5 kB) is not kept through the scan.
        del sources
        if field is not None and docs and all(v is None for v in values):
            read_texts.close()
            read_texts.path.unlink(missing_ok=True)
            raise ConfigError(
                f"--group-by field:{field}: no document has a field {field!r}; it needs "
                "JSONL or Parquet input with that field"
            )
        # One long call: its ticks say when it starts and ends, time passes between.
        progress(Tick("analyse", files_total=len(docs)))
        # In id order, as `analyze` numbers them: the provenance lists them so.
        order = id_order([d.id for d in docs])
        docs, values = [docs[i] for i in order], [values[i] for i in order]
        # Both removed however the scan ends: a resumed scan writes the texts
        # anew, and the arrays kept for the index (`SpilledArrays`: 0.38 GB of
        # a 406 MB corpus) wait in files there through the labelling's peak.
        with (
            in_id_order(read_texts, order, target) as texts,
            SpilledArrays(work_folder(target)) as kept,
            SpilledParts(work_folder(target)) as ranges,
        ):
            # The texts are read from the file, where needed: hashing reads
            # them a batch at a time.
            ids = [d.id for d in docs]
            grouped = values if field is not None else None
            stash = _stash_for(kept, target)
            # A line block is a line: the lines bound the blocks before hashing.
            per_range = in_ranges(int(texts.newlines.sum()) + len(docs), range_blocks)
            if per_range is not None:
                # Hashed, matched and labelled in ranges that wait in files.
                result = analyze_in_ranges(
                    ids,
                    texts,
                    cfg,
                    threads,
                    grouped,
                    index,
                    texts.lengths,
                    texts.newlines,
                    stash,
                    parts=RangesFor(ranges, target),
                    range_lines=per_range,
                )
            else:
                blocks = hash_blocks(texts, cfg, threads, (texts.lengths, texts.newlines))
                release_free_heap()  # where each batch's strings were read into
                # Handed over with no name left here, so that the analysis lets each
                # block array go after its last read (a positional argument: the
                # call keeps none of them).
                handed = [blocks]
                del blocks
                result = analyze(
                    ids, texts, cfg, threads, grouped, handed.pop(), index, texts.lengths, stash
                )
            progress(Tick("analyse", files_done=len(docs), files_total=len(docs), finished=True))
            release_free_heap()  # what the labelling's steps freed
            provenance = Provenance.of(paths, reading, docs)
            progress(Tick("write", files_total=len(TABLES)))
            summary = summarize(result, target)
            # The scan's tables are made and written first, then the index's,
            # each group let go once written: the index reads a few of the
            # analysis' arrays (`for_index`), the tables most of the others.
            # Handed over with no name left here: `to_tables` lets the block
            # rows go once the passages' texts are read, before the larger
            # tables are made.
            indexed = for_index(result) if index else None
            handed_result = [replace(result, clustered=None, document_sets=None)]
            del result, docs
            with output_writer(target, force, rows_per_file, threads) as write:
                write(to_tables(handed_result.pop(), cfg, problems, provenance, sliced=True))
                # What writing the spans freed (their texts' strings, Arrow's
                # buffers: 0.35 GB of a 406 MB corpus) before the index's peak.
                release_free_heap()
                if indexed is not None:
                    tables = build_index_tables(indexed, cfg, threads)
                    release_free_heap()  # what building them freed: 0.2 GB of a 406 MB corpus
                    kept.drop_pages()  # what it read of the kept arrays
                    write(tables)
                    del tables
                    del indexed
    finally:
        _set_numba_threads(previous)
    remove_work_folder(work_folder(target))
    progress(Tick("write", files_done=len(TABLES), files_total=len(TABLES), finished=True))
    return replace(summary, problems=problems, resumed_shards=resumed)


def _stash_for(kept: SpilledArrays, target: Path) -> Stash:
    """`kept` as the analysis' stash, its write errors named as the runner names them."""

    def stash(value: Kept, /) -> Kept:
        try:
            return kept(value)
        except OSError as exc:
            raise _unwritable(target, exc) from exc

    return stash


class RangesFor:
    """`parts` as a `Parts` store whose write errors name `target`, the output being made."""

    def __init__(self, parts: SpilledParts, target: Path) -> None:
        self.parts = parts
        self.target = target

    def __len__(self) -> int:
        return len(self.parts)

    def load(self, index: int) -> Part:
        try:
            return self.parts.load(index)
        except OSError as exc:
            raise _unwritable(self.target, exc) from exc

    def save(self, index: int, part: Part) -> None:
        try:
            self.parts.save(index, part)
        except OSError as exc:
            raise _unwritable(self.target, exc) from exc
        # After each pass (its last range; each range while they are being
        # hashed): their arrays under the mmap threshold (per-document ones,
        # a range's pieces) leave free heap pages, 0.25-0.35 GB of a 406 MB
        # corpus kept through the labelling. Not after every range: the next
        # range reuses them, where pages given back are faulted in again (a
        # 1-worker scan of that corpus 1.74 M minor faults against 2.29-2.36
        # M, at the same peak).
        if index == len(self.parts) - 1:
            release_free_heap()


_R = TypeVar("_R")


def texts_writer(target: Path, path: Path) -> TextsWriter:
    """A `TextsWriter` at `path`, its folder made if missing; errors name `target`."""

    def made() -> TextsWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        return TextsWriter(path)

    return unwritable_as_output(target, made)


def unwritable_as_output(target: Path, step: Callable[[], _R]) -> _R:
    """`step()`, its OSError raised as the runner's `OutputError` naming `target`."""
    try:
        return step()
    except OSError as exc:
        raise _unwritable(target, exc) from exc


def in_id_order(read: SpilledTexts, order: list[int], target: Path) -> SpilledTexts:
    """The texts `read` (in reading order) in id order, in the work folder's texts file.

    The file of `read` is removed either way; texts already in id order keep it.
    """
    if order == list(range(len(order))):
        return read
    try:
        return unwritable_as_output(
            target, lambda: read.reordered(order, read.path.with_name(TEXTS_FILE))
        )
    finally:
        read.close()
        read.path.unlink(missing_ok=True)


def _read_shards(
    sources: Sequence[Source],
    reading: InputConfig,
    cfg: ScanConfig,
    target: Path,
    shard_bytes: int,
    field: str | None,
    threads: int,
    problems: list[Problem],
    progress: ProgressFn,
) -> tuple[list[Document], list[str | None], int, SpilledTexts]:
    """Documents and group values of every shard, how many shards were resumed, and the texts.

    The documents' texts go to a file of the work folder in reading order,
    shard by shard as each is read, so that no text is held as a string
    past its shard (as strings, the texts of the 406 MB benchmark corpus
    were 0.6 GB, the scan's peak); the documents returned hold none (empty
    strings).

    Finished shards of an interrupted run come from the work folder; the
    others are read and saved there (with `threads` > 1, on a thread
    of their own while the next shard is read; in order, and all saved before
    this returns). Problems are appended in input order, as reading
    everything in one go would append them.

    Raises:
        DuplicateIdError: two documents have the same id (both are named).
        OutputError: a shard cannot be saved (full disk, permissions).
    """
    stats = file_stats(sources)
    shards = plan_shards(stats, shard_bytes)
    try:
        store = ShardStore(work_folder(target), manifest(cfg, reading, sources, stats, shard_bytes))
    except OSError as exc:
        raise _unwritable(target, exc) from exc
    sizes = [max(size, 0) for size, _ in stats]
    tick = Tick("read", files_total=len(sources), bytes_total=sum(sizes))
    progress(tick)
    docs: list[Document] = []
    values: list[str | None] = []
    seen: dict[str, str] = {}
    by_path = {str(s.path): s for s in sources}
    resumed = done_files = 0
    bytes_done = 0

    failed = threading.Event()

    def save(index: int, data: ShardData) -> None:
        if failed.is_set():
            return  # after a failed save (a full disk), the queued ones are not tried
        try:
            store.save(index, data)
            # On the thread that made the shard's Arrow buffers: their pages
            # are kept per thread, and the texts' strings stay until the end.
            release_free_heap()
        except OSError as exc:
            failed.set()
            raise _unwritable(target, exc) from exc
        except BaseException:
            failed.set()
            raise

    # With more than one worker, a shard is saved on a thread of its own
    # while the next one is read: saving is mostly writing and compressing,
    # which release the GIL, and reading mostly Python. Saves stay in order.
    saver = ThreadPoolExecutor(1) if threads > 1 else None
    saving: list[Future[None]] = []
    # Made once the store has emptied a stale work folder.
    writer = texts_writer(target, work_folder(target) / READ_TEXTS_FILE)
    try:
        for index, rows in enumerate(shards):
            shard = [sources[i] for i in rows]
            if store.done(index):
                data = store.load(index)
                resumed += 1
            else:
                found: list[Problem] = []
                read = [d for s in shard for d in read_source(s, reading, found, field is not None)]
                data = ShardData(
                    read,
                    [group_value(d, field) for d in read] if field else [None] * len(read),
                    found,
                )
                if saver is None:
                    save(index, data)
                else:
                    saving.append(saver.submit(save, index, data))
            # A failed save stops the scan here, after the shard read meanwhile.
            for pending in [f for f in saving if f.done()]:
                pending.result()
                saving.remove(pending)
            _check_ids(data.docs, seen, by_path)
            unwritable_as_output(target, partial(writer.add, [d.text for d in data.docs]))
            docs.extend(replace(d, text="") for d in data.docs)
            values.extend(data.group_values)
            problems.extend(data.problems)
            done_files += len(shard)
            bytes_done += sum(sizes[i] for i in rows)
            tick = replace(tick, files_done=done_files, bytes_done=bytes_done)
            progress(tick)
        for pending in saving:
            pending.result()
        texts = unwritable_as_output(target, writer.finish)
    finally:
        writer.__exit__()  # removes the file unless finished
        if saver is not None:
            # On an error or Ctrl-C, saves not started are dropped; the one
            # under way finishes (a shard counts only once wholly saved).
            saver.shutdown(cancel_futures=True)
    progress(replace(tick, finished=True))
    return docs, values, resumed, texts


def _check_ids(docs: list[Document], seen: dict[str, str], by_path: dict[str, Source]) -> None:
    """Adds `docs` to `seen` (id -> where), refusing an id seen before.

    Raises:
        DuplicateIdError: naming both places.
    """
    for doc in docs:
        here = location(by_path[doc.source], doc.row)
        prior = seen.get(doc.id)
        if prior is not None:
            raise DuplicateIdError(
                f"{prior} and {here} both have the id {doc.id!r}; "
                "ids must be distinct: fix the data or pass another --id-field",
                doc.source,
            )
        seen[doc.id] = here


def _unwritable(target: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"{target}: cannot write the scan's work files next to it ({exc.strerror or exc}); "
        "the previous output, if any, is unchanged: check free space and permissions, or "
        "choose another --out"
    )


def group_value(doc: Document, field: str) -> str | None:
    """A document's value of its `--group-by field:<name>` field (None: absent or null)."""
    value = (doc.record or {}).get(field)
    return None if value is None else str(value)
