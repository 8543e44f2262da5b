"""The Arrow adapter of the index: `IndexParts` and texts to tables, and back.

Part of the one adapter layer with `arrow.py` (which does the scan's
tables): column names meet the core's arrays here and nowhere else. Lists
of uint32 hashes travel as Arrow lists of int32, bit for bit, so that they
load back as numpy arrays without a copy per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from dedup.arrow import text_chunks, utf8_array
from dedup.config import ScanConfig
from dedup.core.blockhash import ClusteredBlocks, hash_blocks
from dedup.core.index_parts import CSR, IndexParts, index_parts
from dedup.core.labels import Passages, Runs, Spans
from dedup.core.offsets import utf8_spans
from dedup.core.pipeline import Analysis, Blocks
from dedup.output import StreamedTable, Writable
from dedup.schemas import (
    INDEX_CONTENTS,
    INDEX_DOCS,
    INDEX_HOLDERS,
    INDEX_TEXTS,
    NEAR_DUPLICATES,
    SPANS,
    with_metadata,
)
from dedup.spilled_texts import SpilledTexts

I64 = NDArray[np.int64]

# The index's folder inside an output folder.
INDEX_DIR = "index"
# Metadata of index/texts.parquet: the last log record folded into the index.
META_APPLIED = b"dedup.index.applied_seq"


def _hash_lists(sets: CSR) -> pa.Array:
    values, offsets = sets
    return pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32), pa.int32()),
        pa.array(values.view(np.int32), pa.int32()),
        type=INDEX_CONTENTS.field("shingles").type,
    )


def _csr(column: pa.ChunkedArray) -> CSR:
    """A list<int32> column as a uint32 CSR (values, int64 offsets)."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(array) == 0:
        return np.empty(0, np.uint32), np.zeros(1, np.int64)
    offsets = np.asarray(array.offsets, dtype=np.int64)
    values = np.asarray(array.values, dtype=np.int32).view(np.uint32)
    # A sliced list array's offsets need not start at 0.
    return values[offsets[0] : offsets[-1]], offsets - offsets[0]


def _ints(table: pa.Table, name: str) -> I64:
    return np.asarray(table.column(name).to_numpy(), dtype=np.int64)


def index_tables(
    parts: IndexParts, ids: Sequence[str], texts: Sequence[str], config_json: str
) -> dict[str, Writable]:
    """The index's tables, keyed by their name inside DIR/index/.

    Spilled texts make a `StreamedTable`: read back a chunk at a time as it
    is written, instead of all at once.
    """

    def meta(schema: pa.Schema, name: str) -> pa.Schema:
        return with_metadata(schema, f"index/{name}", config_json)

    texts_schema = meta(INDEX_TEXTS, "texts")
    texts_table: Writable
    if isinstance(texts, SpilledTexts):
        texts_table = StreamedTable(texts_schema, len(ids), partial(_text_batches, ids, texts))
    else:
        texts_table = pa.table(
            {"id": pa.array(ids, pa.string()), "text": utf8_array(texts, large=True)},
            schema=texts_schema,
        )
    return {
        "texts": texts_table,
        "contents": pa.table(
            {
                "key": parts.content_key,
                "cluster": parts.content_cluster,
                "score": parts.content_score,
                "spread": parts.content_spread,
                "shingles": _hash_lists(parts.content_sets),
            },
            schema=meta(INDEX_CONTENTS, "contents"),
        ),
        "holders": pa.table(
            {
                "cluster": parts.holder_cluster,
                "group": parts.holder_group,
                "user": parts.holder_user,
            },
            schema=meta(INDEX_HOLDERS, "holders"),
        ),
        "docs": pa.table(
            {
                "group": parts.doc_group,
                "user": parts.doc_user,
                "blocks": parts.doc_blocks,
                "own": _hash_lists(parts.own),
                "whole": _hash_lists(parts.whole),
            },
            schema=meta(INDEX_DOCS, "docs"),
        ),
    }


def _text_batches(ids: Sequence[str], texts: SpilledTexts) -> Iterator[pa.RecordBatch]:
    """Rows of index/texts.parquet, a chunk of texts (`text_chunks`) per batch."""
    bounds = text_chunks(texts.lengths.tolist())
    for (lo, hi), chunk in zip(bounds, texts.read_chunks(bounds), strict=True):
        yield pa.record_batch([pa.array(ids[lo:hi], pa.string()), chunk], schema=INDEX_TEXTS)


def parts_from_tables(contents: pa.Table, holders: pa.Table, docs: pa.Table) -> IndexParts:
    """`IndexParts` back from the index's tables (texts are not needed)."""
    return IndexParts(
        content_key=_ints(contents, "key"),
        content_cluster=_ints(contents, "cluster"),
        content_score=np.asarray(contents.column("score").to_numpy(), dtype=np.float64),
        content_spread=_ints(contents, "spread"),
        content_sets=_csr(contents.column("shingles")),
        holder_cluster=_ints(holders, "cluster"),
        holder_group=_ints(holders, "group"),
        holder_user=_ints(holders, "user"),
        doc_group=_ints(docs, "group"),
        doc_user=_ints(docs, "user"),
        doc_blocks=_ints(docs, "blocks"),
        own=_csr(docs.column("own")),
        whole=_csr(docs.column("whole")),
    )


def near_duplicates_table(rows: Sequence[tuple[str, str, float]]) -> pa.Table:
    """near_duplicates.parquet of `dedup check --out`: (id, near_id, similarity) rows."""
    ids, near, similarity = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "near_id": pa.array(near, pa.string()),
            "similarity": pa.array(similarity, pa.float64()),
        },
        schema=NEAR_DUPLICATES,
    )


def for_index(result: Analysis) -> Analysis:
    """`result` with only what `build_index_tables` reads of it.

    The blocks' documents and clusters, the near-duplicate groups, the
    contents and what the analysis kept for the index; the other per-block
    arrays, runs and spans are empty. A scan builds its index from this
    once its own tables are written, and the rest of the analysis is gone.
    """
    no_rows = np.empty(0, np.int64)
    blocks = result.blocks
    kept = Blocks(blocks.doc, no_rows, no_rows, no_rows, blocks.cluster, no_rows, np.empty(0))
    runs = Runs(no_rows, no_rows, no_rows, no_rows, no_rows, np.empty(0, np.int32))
    spans = Spans(no_rows, no_rows, no_rows, no_rows)
    passages = Passages(no_rows, np.empty(0, np.int32), no_rows, no_rows, no_rows)
    return replace(
        result, blocks=kept, runs=runs, spans=spans, span_score=np.empty(0), passages=passages
    )


def build_index_tables(
    result: Analysis,
    cfg: ScanConfig,
    workers: int = 1,
    applied_seq: int = 0,
    blocks: ClusteredBlocks | None = None,
) -> dict[str, Writable]:
    """The index's tables of an analysis, keyed `index/<name>` as `write_output` takes them.

    `blocks` are those of `hash_blocks(result.texts, cfg)`; by default
    those the analysis kept (`result.clustered`, with `keep_document_sets`),
    else the blocks are hashed again.
    """
    if blocks is None:
        blocks = result.clustered
    if blocks is None:
        blocks = ClusteredBlocks.of(hash_blocks(result.texts, cfg, workers), len(result.ids))
    parts = index_parts(result, blocks, cfg)
    tables = index_tables(parts, result.ids, result.texts, cfg.to_json())
    texts = tables["texts"]
    meta = dict(texts.schema.metadata or {})
    meta[META_APPLIED] = str(applied_seq).encode()
    tables["texts"] = texts.replace_schema_metadata(meta)
    return {f"{INDEX_DIR}/{name}": table for name, table in tables.items()}


def checked_spans_table(
    ids: Sequence[str],
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int, str, int | None, int | None, float | None]]],
    config_json: str,
) -> pa.Table:
    """spans.parquet of `dedup check --out`: rows (start, end, label, passage, count, score).

    The same schema as a scan's spans, byte offsets included.
    """
    rows = [(doc_id, *span) for doc_id, doc in zip(ids, spans, strict=True) for span in doc]
    starts = np.array([r[1] for r in rows], dtype=np.int64)
    ends = np.array([r[2] for r in rows], dtype=np.int64)
    if len(texts) != len(spans):
        raise ValueError(f"{len(texts)} texts for the spans of {len(spans)} documents")
    doc = np.repeat(np.arange(len(spans), dtype=np.int64), [len(d) for d in spans])
    start_byte, end_byte = utf8_spans(texts, doc, starts, ends)
    return pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.string()),
            "start": starts,
            "end": ends,
            "start_byte": start_byte,
            "end_byte": end_byte,
            "label": pa.array([r[3] for r in rows], pa.string()),
            "passage_id": pa.array([r[4] for r in rows], pa.int64()),
            "doc_count": pa.array([r[5] for r in rows], pa.int32()),
            "score": pa.array([r[6] for r in rows], pa.float64()),
        },
        schema=with_metadata(SPANS, "spans", config_json),
    )
