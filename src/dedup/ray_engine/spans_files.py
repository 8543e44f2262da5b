"""spans.parquet written by Ray tasks, a file each, from the ranges in the object store.

The spans table is the largest of a scan (a row per span, about two per
line). After the labelling, its rows lie in the ranges of documents that
the cluster labelled (`core.label_parts.RangeRows`); each file of the table
(one, or the parts of `output.TableWriter.place`) is made and written by a
task that reads the ranges holding its rows, with the texts and ids of
their documents, through the same adapter (`arrow.span_table`) and writer
(`output.write_table`) as the embedded runner: the same bytes. The driver
only places the files and tells each task where its documents' texts lie
in the scan's spilled file (the ranges dropped theirs in the pass that cut
glued passages); the task reads them itself, as it writes beside the
output.

The output folder must be one that the workers can write: on a local
instance it is; on a cluster, a path every node mounts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from dedup import output
from dedup.arrow import span_table
from dedup.core.label_parts import SPAN_COLUMNS, Part, RangeRows, RangeTexts, part_spans
from dedup.core.pipeline import SpanRows
from dedup.errors import DedupError
from dedup.output import SlicedTable, pieces_of, write_table
from dedup.ray_engine.parts import RangeArgs, RayParts, assembled, one_thread
from dedup.ray_engine.session import raise_task_cause
from dedup.spilled_texts import SpilledTexts, TextsAt

I64 = NDArray[np.int64]


def write_spans(
    ray: Any,
    rows: RangeRows,
    parts: RayParts,
    ids: Sequence[str],
    texts: SpilledTexts,
    schema: pa.Schema,
    files: Sequence[tuple[int, int, Path]],
) -> None:
    """Write spans `start` to `stop` - 1 into `path` for each (start, stop, path) of `files`.

    `parts` are the ranges of `rows`. A task per file; as many run at once
    as the cluster has CPUs. Each is handed, per row group of its file
    (`ROW_GROUP_ROWS` spans), the ids of that group's documents and where
    their texts lie in `texts`' file, which it reads a group at a time:
    no text passes through the driver.

    Raises:
        OSError: a file could not be written (the task's own error).
        OutputError: the texts' file could not be read (the task's own error).
    """
    ascii = texts.ascii()
    group_rows = output.ROW_GROUP_ROWS  # the driver's, for the tasks
    task = ray.remote(_write_file)
    window = max(1, int(ray.cluster_resources().get("CPU", 1)))
    running: list[Any] = []
    try:
        for start, stop, path in files:
            if len(running) >= window:
                done, running = ray.wait(running, num_returns=1)
                ray.get(done)
            pieces = rows.span_pieces(start, stop)
            handed = [parts.args(index, SPAN_COLUMNS) for index, _, _ in pieces]
            groups = [
                _documents(rows.span_documents(start + lo, start + hi), ids, texts, ascii)
                for lo, hi in pieces_of(stop - start, group_rows)
            ]
            running.append(
                task.remote(
                    schema,
                    str(path),
                    stop - start,
                    group_rows,
                    groups,
                    [(a, b) for _, a, b in pieces],
                    [given for given, _ in handed],
                    *(ref for _, refs in handed for ref in refs),
                )
            )
        ray.get(running)
    except BaseException as exc:
        # No task may write into the staging folder once it is removed, so
        # the running ones (at most one per CPU, a file each) are waited
        # for. Not cancelled: `ray.cancel(force=True)` racing a task's own
        # reply aborts the driver inside Ray (a failed check, "Tried to
        # complete task that was not pending"; ray-project/ray#54846), seen
        # here as a test run that died without a word.
        for ref in running:
            with contextlib.suppress(Exception):
                ray.get(ref)
        # The task's own error: a failed write, whose reason `OutputError`
        # quotes, or the texts' file it could not read.
        raise_task_cause(exc, (OSError, DedupError))
        raise
    # A task retried after its worker died (Ray retries tasks) may have left
    # the temporary file it was writing: none may go into the output.
    for _, _, path in files:
        for orphan in path.parent.glob(f".{path.name}.tmp-*"):
            orphan.unlink(missing_ok=True)


def _documents(
    documents: tuple[int, int],
    ids: Sequence[str],
    texts: SpilledTexts,
    ascii: NDArray[np.bool_],
) -> _Documents:
    """Documents `lo` to `hi` - 1, for the task that writes their spans."""
    lo, hi = documents
    return _Documents(lo, pa.array(ids[lo:hi], pa.string()), texts.at(lo, hi), ascii[lo:hi])


@dataclass(frozen=True)
class _Documents:
    """Ids of documents `first` on, where their texts lie, and which are ASCII."""

    first: int
    ids: pa.Array
    texts: TextsAt
    ascii: NDArray[np.bool_]


def _write_file(
    schema: pa.Schema,
    path: str,
    n_rows: int,
    group_rows: int,
    groups: list[_Documents],
    slices: list[tuple[int, int]],
    given: list[RangeArgs],
    *objects: Part,
) -> None:
    """One file of the spans table, from `slices` of the ranges labelled to the end.

    `groups` are the `_Documents` of each row group of `group_rows` rows,
    whose texts are read as the group is made. The ranges come as their
    objects, `given` telling which belong to each (`RayParts.args`).
    """
    one_thread()
    ranges = []
    for each in given:
        ranges.append(assembled(each, objects[: len(each.names)]))
        objects = objects[len(each.names) :]
    # Where each range's rows start in the file.
    base = np.cumsum([0] + [b - a for a, b in slices], dtype=np.int64)
    if int(base[-1]) != n_rows:
        raise ValueError(f"{path}: {int(base[-1])} spans found where {n_rows} were placed")

    def table_rows(lo: int, hi: int) -> pa.Table:
        # Rows lo to hi - 1 of the file (a row group), from the ranges that hold them.
        pieces = []
        for part, (a, _), first, end in zip(ranges, slices, base[:-1], base[1:], strict=True):
            if first < hi and end > lo:
                pieces.append(part_spans(part, a + max(lo - first, 0), a + min(hi, end) - first))
        spans = SpanRows.joined(pieces)
        docs = groups[lo // group_rows]
        texts = RangeTexts(0, *docs.texts.read())  # from docs.first, as `span_table` reads them
        last = docs.first + len(texts) - 1
        if len(spans) and not docs.first <= int(spans.doc[0]) <= int(spans.doc[-1]) <= last:
            raise ValueError(f"{path}: spans of documents whose texts were not given")
        return span_table(spans, docs.ids, texts, schema, docs.ascii, docs.first)

    # Made and written a row group at a time, as the driver writes a SlicedTable.
    write_table(SlicedTable(schema, n_rows, table_rows), Path(path), group_rows)
