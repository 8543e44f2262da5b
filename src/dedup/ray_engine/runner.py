"""The Ray runner: read and hash on the cluster, match blocks on the cluster, label, write.

    sources (listed on the driver) --map--> documents and problems (READ_ROWS)
      --map--> blocks, shingle and word hashes (BLOCK_ROWS)
      --shuffles--> block clusters (matching.match_blocks)
    driver: the texts spilled to a file beside the output (`spill_texts`), then
      core.pipeline.label over the blocks without their shingle hashes,
      then the same Arrow tables and atomic Parquet output as the embedded runner

It only wires; the stages call the same core functions as `dedup.runner`,
and `tests/test_ray_engine.py` checks that the tables are the same.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dedup.arrow import blocks_of, documents_of, problems_of, source_rows, to_tables
from dedup.config import InputConfig, ScanConfig
from dedup.core.blockhash import shard_bounds
from dedup.core.label_parts import in_ranges, label_in_ranges
from dedup.core.pipeline import label
from dedup.errors import ConfigError, DecodeError, DuplicateIdError
from dedup.heap import release_free_heap
from dedup.output import check_target, write_output
from dedup.progress import ProgressFn, Tick, no_progress
from dedup.ray_engine import stages
from dedup.ray_engine.matching import Matches, match_blocks
from dedup.ray_engine.session import RaySettings, ray_session, require_ray
from dedup.runner import RangesFor, ScanSummary, spill_texts, summarize
from dedup.schemas import TABLES
from dedup.sources import Document, Problem, Provenance, Source, list_sources
from dedup.spilled_parts import SpilledParts
from dedup.spilled_texts import SpilledTexts

_ARROW: dict[str, Any] = {"batch_format": "pyarrow", "batch_size": None}
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
) -> ScanSummary:
    """`dedup.runner.scan` on Ray: the same tables, read, hashed and matched on a cluster.

    Raises:
        ConfigError: Ray is not installed (the message says what to
            install), or cannot be started or reached.
        InputError, DuplicateIdError, DecodeError, OutputError: as `scan`.
    """
    require_ray()
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
            docs, values, read_ds = _read(ray, sources, reading, field, problems)
            # The driver reads back only the texts of cut blocks, and the writers'.
            texts = spill_texts(docs, target, folder)
            docs = [replace(d, text="") for d in docs]
            release_free_heap()  # where the strings were (`dedup.heap`)
            progress(Tick("read", files_done=len(sources), files_total=len(sources), finished=True))
            progress(Tick("analyse", files_total=len(docs)))
            blocks_ds = read_ds.map_batches(stages.hash_batch, fn_kwargs={"cfg": cfg}, **_ARROW)
            blocks_ds = blocks_ds.materialize()
            parts = settings.partitions or _partitions(ray, blocks_ds.count())
            matches = match_blocks(ray, blocks_ds, cfg, parts, settings)
            without_hashes = [c for c in blocks_ds.columns() if c != "hashes"]
            block_table = _collect(ray, blocks_ds.select_columns(without_hashes))
        ids = [d.id for d in docs]
        blocks = blocks_of(block_table, {doc_id: i for i, doc_id in enumerate(ids)})
        del block_table  # copied into `blocks`, in (doc, start) order
        keys, content = np.unique(blocks.key, return_inverse=True)
        keys, content = keys.astype(np.int64, copy=False), content.astype(np.int64, copy=False)
        cluster, score = _content_clusters(keys, matches)
        # Handed over with no name left here, so that `label` lets each block
        # array go after its last read (as `analyze` hands them over). Plain
        # positional arguments: a call with *args keeps its argument tuple, and
        # with it every argument, until the call returns (Python 3.11, 3.12).
        handed = [blocks]
        del blocks
        lengths = texts.lengths
        per_range = in_ranges(len(handed[0].doc), settings.range_blocks)
        # In ranges of documents, as the embedded runner labels them, their
        # columns in files of the work folder between passes and until the
        # spans are written from them.
        with SpilledParts(folder) as spilled:
            if per_range is None:
                result = label(
                    ids,
                    texts,
                    handed.pop(),
                    content,
                    cluster,
                    score,
                    cfg,
                    values,
                    keys,
                    False,
                    lengths,
                )
            else:
                result = label_in_ranges(
                    ids,
                    texts,
                    handed.pop(),
                    content,
                    cluster,
                    score,
                    cfg,
                    values,
                    keys,
                    False,
                    lengths,
                    parts=RangesFor(spilled, target),
                    range_blocks=per_range,
                )
            progress(Tick("analyse", files_done=len(docs), files_total=len(docs), finished=True))
            provenance = Provenance.of(paths, reading, docs)
            progress(Tick("write", files_total=len(TABLES)))
            summary = summarize(result, target)
            # Handed over, as to the embedded runner's `to_tables`: the block
            # rows go once the passages' texts are read.
            handed_result = [result]
            del result
            tables = to_tables(handed_result.pop(), cfg, problems, provenance, sliced=True)
            write_output(target, tables, force)
    finally:
        # However the scan ends: the file closed, the folder (and file) removed.
        if texts is not None:
            texts.close()
        shutil.rmtree(folder, ignore_errors=True)
    progress(Tick("write", files_done=len(TABLES), files_total=len(TABLES), finished=True))
    return replace(summary, problems=problems)


def _content_clusters(keys: np.ndarray, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
    """Cluster key and score of every distinct content, as `content_clusters` returns them."""
    cluster = keys.copy()
    score = np.ones(len(keys))
    at = np.searchsorted(keys, matches.key)
    cluster[at] = matches.cluster
    score[at] = matches.score
    return cluster, score


def _partitions(ray: Any, n_blocks: int) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2 * cpus, n_blocks // _BLOCKS_PER_PART + 1)


def _collect(ray: Any, ds: Any) -> pa.Table:
    tables = ray.get(ds.to_arrow_refs())
    return pa.concat_tables(tables) if tables else ds.schema().base_schema.empty_table()


def _read(
    ray: Any,
    sources: list[Source],
    reading: InputConfig,
    field: str | None,
    problems: list[Problem],
) -> tuple[list[Document], list[str | None] | None, Any]:
    """Documents sorted by id, their group values, and the dataset of what the workers read.

    Files are cut into shards of about equal size, one read task each.
    """
    cpus = int(ray.cluster_resources().get("CPU", 1))
    sizes = []
    for source in sources:
        try:
            sizes.append(os.path.getsize(source.path))
        except OSError:
            sizes.append(0)
    cuts = shard_bounds(sizes, max(1, min(len(sources), 4 * cpus, sum(sizes) // (32 << 20) + 1)))
    shards = [source_rows(sources[lo:hi]) for lo, hi in itertools.pairwise(cuts)]
    read_ds = (
        ray.data.from_arrow(shards)
        .map_batches(stages.read_batch, fn_kwargs={"reading": reading, "field": field}, **_ARROW)
        .materialize()
    )
    table = _collect(ray, read_ds)
    found = problems_of(table)
    fatal = sorted((p for p in found if p.action == stages.FATAL), key=lambda p: p.id)
    if fatal:
        raise DecodeError(fatal[0].reason, fatal[0].path)
    problems.extend(found)
    docs, groups = documents_of(table)
    order = sorted(range(len(docs)), key=lambda i: docs[i].id)
    docs = [docs[i] for i in order]
    _check_distinct(docs, sources)
    if field is None:
        return docs, None, read_ds
    values = [groups[i] for i in order]
    if docs and all(v is None for v in values):
        raise ConfigError(
            f"--group-by field:{field}: no document has a field {field!r}; it needs "
            "JSONL or Parquet input with that field"
        )
    return docs, values, read_ds


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
