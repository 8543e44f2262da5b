"""The Ray runner: read, hash, match blocks and label on the cluster; write.

    sources (listed on the driver) --map--> documents and problems (READ_ROWS)
      --map--> blocks, shingle and word hashes (BLOCK_ROWS)
      --shuffles--> block clusters (matching.match_blocks)
    driver: each read task's texts written to a file beside the output as
      they are fetched, then put in id order (as the embedded runner does)
    cluster: the blocks without their shingle hashes cut into ranges of
      documents, each with its texts (`parts.ranges_on_cluster`); each
      content's cluster and score; then core.label_parts's passes, a task
      per range, and the tables between passes, a task each; the
      near-duplicate documents found from the ranges' sets by shuffles
      (matching.DocumentMatching)
    driver: the same Arrow tables and atomic Parquet output as the embedded
      runner; the spans table's files made and written by tasks from the
      ranges (`spans_files.write_spans`)

It only wires; the stages call the same core functions as `dedup.runner`,
and `tests/test_ray_engine.py` checks that the tables are the same.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dedup.arrow import documents_of, problems_of, source_rows, to_tables
from dedup.config import InputConfig, ScanConfig
from dedup.core.blockhash import shard_bounds
from dedup.core.hashed_ranges import line_ranges
from dedup.core.label_parts import RANGE_BLOCKS, RangeRows, label_parts
from dedup.core.pipeline import id_order
from dedup.errors import ConfigError, DecodeError, DuplicateIdError
from dedup.heap import map_large_allocations, release_free_heap
from dedup.output import ROWS_PER_FILE, check_target, output_writer
from dedup.progress import ProgressFn, Tick, no_progress
from dedup.ray_engine import stages
from dedup.ray_engine.matching import DocumentMatching, Matches, match_blocks
from dedup.ray_engine.parts import ranges_on_cluster
from dedup.ray_engine.session import RaySettings, raise_task_cause, ray_session, require_ray
from dedup.ray_engine.spans_files import write_spans
from dedup.runner import ScanSummary, in_id_order, summarize, texts_writer, unwritable_as_output
from dedup.schemas import TABLES
from dedup.shards import READ_TEXTS_FILE
from dedup.sources import Document, Problem, Provenance, Source, list_sources
from dedup.spilled_texts import SpilledTexts

_ARROW: dict[str, Any] = {"batch_format": "pyarrow", "batch_size": None}
# Bytes of files per read task. The driver takes each task's rows, texts
# included, in turn: reading 1 GB in 8 tasks (4 per CPU, as before), its own
# memory peaked at 736 MB; in tasks of 32 MB, at 636 MB.
_READ_SHARD_BYTES = 32 << 20
# Blocks per shuffle partition when `RaySettings.partitions` is not set.
_BLOCKS_PER_PART = 250_000


def scan_ray(
    paths: Sequence[str | Path],
    out: str | Path,
    cfg: ScanConfig,
    force: bool = False,
    inputs: InputConfig | None = None,
    settings: RaySettings | None = None,
    progress: ProgressFn = no_progress,
    rows_per_file: int = ROWS_PER_FILE,
) -> ScanSummary:
    """`dedup.runner.scan` on Ray: the same tables, read, hashed and matched on a cluster.

    A table of more than `rows_per_file` rows is a folder of parts, as
    `scan` writes it; the spans table's files are written by Ray tasks, so
    `out` must be on a file system every node of the cluster can write.

    Raises:
        ConfigError: Ray is not installed (the message says what to
            install), or cannot be started or reached.
        InputError, DuplicateIdError, DecodeError, OutputError: as `scan`.
    """
    require_ray()
    # The driver's freed arrays go back to the system, as the embedded
    # runner's do (`dedup.heap`).
    map_large_allocations()
    reading = inputs or InputConfig()
    settings = settings or RaySettings()
    target = Path(out)
    check_target(target, force, paths)
    # Nothing resumes a Ray scan: its spilled texts go however it ends.
    folder = target.parent / f".{target.name}.ray-work"
    problems: list[Problem] = []
    sources = list_sources(paths, reading, [target, folder], problems)
    field = cfg.group_by.removeprefix("field:") if cfg.group_by.startswith("field:") else None
    texts: SpilledTexts | None = None
    try:
        with ray_session(settings) as ray:
            progress(Tick("read", files_total=len(sources)))
            docs, values, read_ds, texts = _read(
                ray, sources, reading, field, problems, target, folder
            )
            # Read: a file's `Source` (its `Path`, about 0.5 kB) is not kept
            # through the scan.
            n_sources = len(sources)
            del sources
            release_free_heap()  # where the strings were (`dedup.heap`)
            progress(Tick("read", files_done=n_sources, files_total=n_sources, finished=True))
            progress(Tick("analyse", files_total=len(docs)))
            blocks_ds = read_ds.map_batches(stages.hash_batch, fn_kwargs={"cfg": cfg}, **_ARROW)
            blocks_ds = blocks_ds.materialize()
            partitions = settings.partitions or _partitions(ray, blocks_ds.count())
            matches = match_blocks(ray, blocks_ds, cfg, partitions, settings)
            without_hashes = [c for c in blocks_ds.columns() if c != "hashes"]
            block_rows = blocks_ds.select_columns(without_hashes).materialize()
            block_refs, block_bytes = block_rows.to_arrow_refs(), block_rows.size_bytes() or 0
            del blocks_ds, read_ds, block_rows  # the shingle hashes leave the object store
            # Ranges of documents, made on the cluster, each with its
            # documents' texts: the driver holds no block row.
            ids = [d.id for d in docs]
            per_range = settings.range_blocks or _range_lines(ray, texts, matches.contents)
            bounds = line_ranges(texts.newlines, per_range)
            parts, keys = ranges_on_cluster(ray, block_refs, ids, bounds, texts, block_bytes)
            del block_refs
            # Per distinct content (12 M of 1 GB of generated pages) its
            # cluster and score are made, and read, where the ranges are.
            matched = ray.put(matches)
            cluster = parts.apply(clusters_of_contents, keys, matched)
            score = parts.apply(scores_of_contents, keys, matched)
            n_contents = matches.contents  # the distinct keys of the ranges too
            del keys, matched
            lengths = texts.lengths
            # The documents' sets stay on the cluster too: their LSH and
            # components are shuffles, as the blocks' were.
            near_duplicates = DocumentMatching(ray, cfg, partitions, settings)
            result = label_parts(
                ids,
                texts,
                parts,
                cluster,
                score,
                cfg,
                values,
                None,
                False,
                lengths,
                near_duplicates=near_duplicates,
                n_contents=n_contents,
            )
            release_free_heap()  # what the passes' orchestration freed
            progress(Tick("analyse", files_done=len(docs), files_total=len(docs), finished=True))
            provenance = Provenance.of(paths, reading, docs)
            progress(Tick("write", files_total=len(TABLES)))
            summary = summarize(result, target)
            rows = result.rows
            if not isinstance(rows, RangeRows):
                raise TypeError("label_parts leaves its rows in its ranges")
            # Handed over, as to the embedded runner's `to_tables`.
            handed_result = [result]
            del result
            tables = to_tables(handed_result.pop(), cfg, problems, provenance, sliced=True)
            # The spans table is not made here: its files are made and
            # written by tasks, where the ranges that hold its rows are.
            spans = tables.pop("spans")
            n_spans, schema = spans.num_rows, spans.schema
            del spans  # it holds the analysis
            with output_writer(target, force, rows_per_file) as write:
                write(tables)
                del tables
                files = write.place("spans", n_spans)
                write_spans(ray, rows, parts, ids, texts, schema, files)
            parts.close()
    except Exception as exc:
        raise_task_cause(exc)
        raise
    finally:
        # However the scan ends: the file closed, the folder (and file) removed.
        if texts is not None:
            texts.close()
        shutil.rmtree(folder, ignore_errors=True)
    progress(Tick("write", files_done=len(TABLES), files_total=len(TABLES), finished=True))
    return replace(summary, problems=problems)


def clusters_of_contents(keys: np.ndarray, matches: Matches) -> np.ndarray:
    """The cluster key of each distinct content (`keys`, sorted), as `content_clusters` gives it."""
    cluster = keys.copy()
    cluster[np.searchsorted(keys, matches.key)] = matches.cluster
    return cluster


def scores_of_contents(keys: np.ndarray, matches: Matches) -> np.ndarray:
    """The score of every distinct content against its cluster's, as `content_clusters` gives it."""
    score = np.ones(len(keys))
    score[np.searchsorted(keys, matches.key)] = matches.score
    return score


# A range's object per line: its 8-byte columns (document, start, end, word
# offsets, content) and two 4-byte ones (first and last character); per byte
# of text, the byte and about a 4-byte word hash per 6 bytes (a word and its
# space). On generated pages: 144 bytes a line, measured and estimated.
_RANGE_BYTES_PER_LINE = 48
_RANGE_BYTES_PER_TEXT_BYTE = 1 + 4 / 6
# Every labelling task of a node reads the same arrays per distinct content,
# which the store holds once: in the first pass each content's cluster,
# score and dense number and the distinct clusters, 8 bytes each; more for
# the tables per cluster that later passes read.
_STORE_BYTES_PER_CONTENT = 40
# A labelling task holds its range and makes the next; what the arrays per
# content leave of the store keeps two such objects per CPU in one half, and
# the passes' own objects and the prefetched ranges of waiting tasks in the
# other. Without this bound a small store (--object-store-mb) fills with
# objects that running tasks pin, and their outputs wait for room that never
# comes: the scan hangs.
_RANGES_PER_CPU_IN_STORE = 4


def _range_lines(ray: Any, texts: SpilledTexts, contents: int) -> int:
    """Lines per range of the labelling: `RANGE_BLOCKS`, or fewer so that every
    CPU has a range and the ranges a node's tasks hold fit in its object store
    beside the arrays per content.

    Raises:
        ConfigError: a node's store cannot hold the arrays per content with
            room to spare.
    """
    cpus = int(ray.cluster_resources().get("CPU", 1))
    lines = int(np.sum(texts.newlines + 1))
    per_line = _RANGE_BYTES_PER_LINE + _RANGE_BYTES_PER_TEXT_BYTE * int(
        texts.byte_offsets[-1]
    ) / max(1, lines)
    arrays = _STORE_BYTES_PER_CONTENT * contents
    fit = RANGE_BLOCKS
    for node in ray.nodes():
        resources = node["Resources"]
        if not node.get("Alive") or not resources.get("CPU"):
            continue  # a node that runs no task holds no range
        store = resources.get("object_store_memory", 0.0)
        if store < 1.5 * arrays:
            mb = 1 << 20
            raise ConfigError(
                f"Ray's object store of {store / mb:.0f} MB on node "
                f"{node.get('NodeManagerAddress', '?')} is too small for the labelling: its "
                f"tasks read about {arrays / mb:.0f} MB of arrays for the {contents} distinct "
                f"blocks; give every node a store of at least {3 * arrays / mb:.0f} MB "
                "(--object-store-mb, or ray start --object-store-memory)"
            )
        room = (store - arrays) / resources["CPU"] / _RANGES_PER_CPU_IN_STORE
        fit = min(fit, int(room / per_line))
    return max(1, min(RANGE_BLOCKS, -(-lines // cpus), fit))


def _partitions(ray: Any, n_blocks: int) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2 * cpus, n_blocks // _BLOCKS_PER_PART + 1)


def _read(
    ray: Any,
    sources: list[Source],
    reading: InputConfig,
    field: str | None,
    problems: list[Problem],
    target: Path,
    folder: Path,
) -> tuple[list[Document], list[str | None] | None, Any, SpilledTexts]:
    """Documents sorted by id (without their texts), their group values, the
    dataset of what the workers read, and the texts, in id order, in a file
    of `folder`.

    Files are cut into shards of about `_READ_SHARD_BYTES` (and at least
    one per CPU while there are files), one read task each: the driver
    fetches one task's rows at a time, so a shard's size bounds what it
    holds of the texts, whatever the corpus's size.

    Raises:
        DecodeError, DuplicateIdError, ConfigError: as the embedded runner.
        OutputError: the texts cannot be written (a full disk).
    """
    cpus = int(ray.cluster_resources().get("CPU", 1))
    sizes = []
    for source in sources:
        try:
            sizes.append(os.path.getsize(source.path))
        except OSError:
            sizes.append(0)
    wanted = max(cpus, sum(sizes) // _READ_SHARD_BYTES + 1)
    cuts = shard_bounds(sizes, max(1, min(len(sources), wanted)))
    shards = [source_rows(sources[lo:hi]) for lo, hi in itertools.pairwise(cuts)]
    read_ds = (
        ray.data.from_arrow(shards)
        .map_batches(stages.read_batch, fn_kwargs={"reading": reading, "field": field}, **_ARROW)
        .materialize()
    )
    # Each read task's rows fetched in turn: the texts go to a file of the
    # work folder as they come, and the driver never holds them all.
    docs: list[Document] = []
    groups: list[str | None] = []
    found: list[Problem] = []
    writer = texts_writer(target, folder / READ_TEXTS_FILE)
    try:
        for ref in read_ds.to_arrow_refs():
            table = ray.get(ref)
            found.extend(problems_of(table))
            read, read_groups = documents_of(table)
            del table
            unwritable_as_output(target, partial(writer.add, [d.text for d in read]))
            docs.extend(replace(d, text="") for d in read)
            groups.extend(read_groups)
            del read
        fatal = sorted((p for p in found if p.action == stages.FATAL), key=lambda p: p.id)
        if fatal:
            raise DecodeError(fatal[0].reason, fatal[0].path)
        order = id_order([d.id for d in docs])
        docs = [docs[i] for i in order]
        _check_distinct(docs, sources)
        values = [groups[i] for i in order] if field is not None else None
        if field is not None and docs and all(v is None for v in groups):
            raise ConfigError(
                f"--group-by field:{field}: no document has a field {field!r}; it needs "
                "JSONL or Parquet input with that field"
            )
        texts = in_id_order(unwritable_as_output(target, writer.finish), order, target)
    finally:
        writer.__exit__()  # removes the file unless finished
    problems.extend(found)
    return docs, values, read_ds, texts


def _check_distinct(docs: list[Document], sources: list[Source]) -> None:
    """DuplicateIdError naming both records of the first id found twice (docs sorted by id)."""
    formats = {str(s.path): s.format for s in sources}
    for a, b in itertools.pairwise(docs):
        if a.id == b.id:
            first, second = sorted(
                (_where(d, formats.get(d.source, "text")) for d in (a, b)),
            )
            raise DuplicateIdError(
                f"{first} and {second} both have the id {a.id!r}; "
                "ids must be distinct: fix the data or pass another --id-field",
                b.source,
            )


def _where(doc: Document, fmt: str) -> str:
    if doc.row is None:
        return doc.source
    return f"{doc.source} {'row' if fmt == 'parquet' else 'line'} {doc.row}"
