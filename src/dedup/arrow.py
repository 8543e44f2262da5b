"""The Arrow adapter: the only place where column names meet the core's arrays.

`to_tables` turns an `Analysis` (and the inputs' problems) into the Arrow
tables of a scan; runners call it, and so does the Ray engine. The `*_rows`
and `*_of` pairs below turn the record batches that the Ray engine passes
between its stages (`schemas.READ_ROWS`, `BLOCK_ROWS`, ...) into the core's
arrays and back; its map tasks call them through `map_batches(...,
batch_format="pyarrow")`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes
from dedup.core.cleaning import text_hash
from dedup.core.fastops import rows_into
from dedup.core.offsets import utf8_spans
from dedup.core.pipeline import (
    Analysis,
    Blocks,
    SpanRows,
    boilerplate_chars,
    cluster_id,
    n_spans,
    passage_texts,
    span_rows,
)
from dedup.core.sorting import lexsort2, stable_argsort
from dedup.output import SlicedTable, Writable
from dedup.schemas import (
    BAND_ROWS,
    BLOCK_ROWS,
    DOCUMENTS,
    ERRORS,
    JOIN_ROWS,
    PAIR_ROWS,
    PASSAGES,
    READ_ROWS,
    SET_ROWS,
    SOURCE_ROWS,
    SPANS,
    with_metadata,
)
from dedup.sources import Document, Problem, Provenance, Source
from dedup.spilled_texts import SpilledTexts

# Most bytes one Arrow string array holds (its offsets are int32).
_STRING_BYTES = (1 << 31) - 1


def take_strings(values: pa.StringArray, rows: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """`values.take(rows)`, in chunks when the result would pass Arrow's 2 GiB per array."""
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
    sizes = lengths[rows]
    if int(sizes.sum()) <= _STRING_BYTES:
        return values.take(rows)
    ends = np.cumsum(sizes)
    chunks, lo = [], 0
    while lo < len(rows):
        hi = int(np.searchsorted(ends, ends[lo] - sizes[lo] + _STRING_BYTES, side="right"))
        # At least one row a chunk: a single string over the limit makes
        # Arrow raise its own capacity error rather than this loop spin.
        hi = max(hi, lo + 1)
        chunks.append(values.take(rows[lo:hi]))
        lo = hi
    return pa.chunked_array(chunks, pa.string())


def spans_table(result: Analysis, config_json: str, inputs_json: str | None = None) -> pa.Table:
    """spans.parquet: every span of every document, with code-point and UTF-8 byte offsets."""
    sliced = spans_slices(result, config_json, inputs_json)
    return sliced.read(0, sliced.num_rows)


def spans_slices(result: Analysis, config_json: str, inputs_json: str | None = None) -> SlicedTable:
    """`spans_table`, made a row group at a time as it is written (the same bytes)."""
    ids = pa.array(result.ids, pa.string())
    texts = result.texts
    # Spilled ASCII texts are not read: their byte offsets are their character offsets.
    ascii = texts.ascii() if isinstance(texts, SpilledTexts) else None
    schema = with_metadata(SPANS, "spans", config_json, inputs_json)

    def rows(lo: int, hi: int) -> pa.Table:
        return span_table(span_rows(result, lo, hi), ids, texts, schema, ascii)

    return SlicedTable(schema, n_spans(result), rows)


def span_table(
    spans: SpanRows,
    ids: pa.Array,
    texts: Sequence[str],
    schema: pa.Schema,
    ascii: NDArray[np.bool_] | None = None,
    first_doc: int = 0,
) -> pa.Table:
    """Rows of spans.parquet (`schema`, with its metadata) for `spans`.

    `ids`, `texts` and `ascii` (which texts are ASCII, when known) hold the
    documents from number `first_doc` on, in order: all of them, or those
    of a piece of the table that a Ray task writes.
    """
    doc = spans.doc - first_doc if first_doc else spans.doc
    start_byte, end_byte = utf8_spans(texts, doc, spans.start, spans.end, ascii)
    unique = ~spans.boilerplate
    # Arrow gathers the strings in C++: no Python object per span.
    labels = pa.array(["unique", "boilerplate"], pa.string())
    return pa.table(
        {
            "id": take_strings(ids, doc),
            "start": spans.start,
            "end": spans.end,
            "start_byte": start_byte,
            "end_byte": end_byte,
            "label": labels.take(spans.boilerplate.astype(np.int8)),
            "passage_id": pa.array(spans.passage, pa.int64(), mask=unique),
            "doc_count": pa.array(spans.doc_count, pa.int32(), mask=unique),
            "score": pa.array(np.nan_to_num(spans.score), pa.float64(), mask=unique),
        },
        schema=schema,
    )


def documents_table(
    result: Analysis, config_json: str, provenance: Provenance | None = None
) -> pa.Table:
    """documents.parquet: one row per document, boilerplate share and near-duplicate cluster.

    `source` and `row` come from `provenance`, and are null without it.
    """
    n_docs = len(result.ids)
    boiler = boilerplate_chars(result)
    fraction = np.divide(boiler, result.doc_len, out=np.zeros(n_docs), where=result.doc_len > 0)
    grouped = result.doc_cluster_size > 1
    cluster = np.array(
        [cluster_id(result.ids[g]) for g in result.doc_group.tolist()], dtype=np.int64
    )
    representative = result.doc_group == np.arange(n_docs)
    origins = provenance.origins if provenance is not None else {}
    where = [origins.get(doc_id, (None, None)) for doc_id in result.ids]
    inputs_json = provenance.to_json() if provenance is not None else None
    return pa.table(
        {
            "id": pa.array(result.ids, pa.string()),
            "n_chars": result.doc_len,
            "boilerplate_chars": boiler,
            "boilerplate_fraction": fraction,
            "near_dup_cluster": pa.array(cluster, pa.int64(), mask=~grouped),
            "is_representative": representative,
            "group": pa.array(
                result.groups if result.groups is not None else [None] * n_docs, pa.string()
            ),
            "source": pa.array([w[0] for w in where], pa.string()),
            "row": pa.array([w[1] for w in where], pa.int64()),
            "text_hash": pa.array(_text_hashes(result.texts), pa.int64()),
        },
        schema=with_metadata(DOCUMENTS, "documents", config_json, inputs_json),
    )


def _text_hashes(texts: Sequence[str]) -> NDArray[np.int64] | list[int]:
    if isinstance(texts, SpilledTexts):
        return texts.text_hashes()
    return [text_hash(t) for t in texts]


def passages_table(result: Analysis, config_json: str, inputs_json: str | None = None) -> pa.Table:
    """passages.parquet: one row per passage, most shared first, with a representative text."""
    table = result.passages
    docs, starts, ends, texts = passage_texts(result, np.arange(len(table.passage)))
    return pa.table(
        {
            "passage_id": table.passage,
            "doc_count": table.doc_count,
            "n_documents": table.n_documents,
            "n_occurrences": table.n_occurrences,
            "text": utf8_array(texts),
            "id": pa.array([result.ids[d] for d in docs.tolist()], pa.string()),
            "start": starts,
            "end": ends,
        },
        schema=with_metadata(PASSAGES, "passages", config_json, inputs_json),
    )


def errors_table(
    problems: list[Problem], config_json: str, inputs_json: str | None = None
) -> pa.Table:
    """errors.parquet: the inputs that were skipped or altered, sorted by id."""
    rows = sorted(problems, key=lambda p: (p.id, p.path, -1 if p.row is None else p.row))
    return pa.table(
        {
            "path": pa.array([p.path for p in rows], pa.string()),
            "id": pa.array([p.id for p in rows], pa.string()),
            "reason": pa.array([p.reason for p in rows], pa.string()),
            "action": pa.array([p.action for p in rows], pa.string()),
            "row": pa.array([p.row for p in rows], pa.int64()),
        },
        schema=with_metadata(ERRORS, "errors", config_json, inputs_json),
    )


def to_tables(
    result: Analysis,
    cfg: ScanConfig,
    problems: list[Problem] | None = None,
    provenance: Provenance | None = None,
    sliced: bool = False,
) -> dict[str, Writable]:
    """The output tables of a scan, keyed by table name.

    `errors` lists the inputs that were skipped or altered (empty when none);
    `provenance` (where the documents were read from) fills the documents'
    `source` and `row` and the `dedup.inputs` metadata of every table. With
    `sliced`, the spans table, the largest, is a `SlicedTable`, made a row
    group at a time as it is written (the same bytes); else every table is
    a `pa.Table`.
    """
    config_json = cfg.to_json()
    inputs_json = provenance.to_json() if provenance is not None else None
    passages = passages_table(result, config_json, inputs_json)
    # The passages' texts were the last read of the block rows (eight arrays
    # of a row per block, the most of an analysis): when the caller keeps no
    # reference to `result` (the embedded runner hands it over), they go
    # now, before the spans table, the largest, is made.
    result = _without_block_rows(result)
    make_spans = spans_slices if sliced else spans_table
    return {
        "spans": make_spans(result, config_json, inputs_json),
        "documents": documents_table(result, config_json, provenance),
        "passages": passages,
        "errors": errors_table(problems or [], config_json, inputs_json),
    }


def _without_block_rows(result: Analysis) -> Analysis:
    """`result` with its per-block arrays empty: what the spans and documents tables read."""
    no_rows = np.empty(0, np.int64)
    blocks = Blocks(no_rows, no_rows, no_rows, no_rows, no_rows, no_rows, np.empty(0))
    runs = replace(result.runs, block_run=no_rows, span_run=no_rows, first=no_rows, length=no_rows)
    return replace(result, blocks=blocks, runs=runs)


# --- Record batches between the stages of a distributed scan ------------------------

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


def csr_of(column: pa.Array | pa.ChunkedArray) -> tuple[U32, I64]:
    """(values, offsets) of a list<uint32> column; offsets start at 0 even for a slice."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(array.offsets, dtype=np.int64)
    values = np.asarray(array.flatten(), dtype=np.uint32)
    return values, offsets - offsets[0]


def gathered_csr(column: pa.Array | pa.ChunkedArray, rows: I64) -> tuple[U32, I64]:
    """`csr_of(column)` rows `rows`, gathered chunk by chunk.

    A driver collects block rows in many chunks: joining them first
    (`combine_chunks`) would hold every value a third time while the
    gathered copy is made.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [csr_of(chunk) for chunk in chunks]
    first = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(chunk) for chunk in chunks], out=first[1:])
    lengths = np.concatenate([np.diff(o) for _, o in parts] or [np.empty(0, np.int64)])
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths[rows], out=offsets[1:])
    values = np.empty(int(offsets[-1]), dtype=np.uint32)
    # Output rows grouped by the chunk they come from, each group copied at once.
    chunk_of = np.searchsorted(first, rows, side="right") - 1
    by_chunk = stable_argsort(chunk_of)
    bounds = np.searchsorted(chunk_of[by_chunk], np.arange(len(parts) + 1))
    for c, (chunk_values, chunk_offsets) in enumerate(parts):
        out_rows = by_chunk[bounds[c] : bounds[c + 1]]
        rows_into(chunk_values, chunk_offsets, rows[out_rows] - first[c], offsets[out_rows], values)
    return values, offsets


def _csr_column(values: U32, offsets: I64) -> pa.Array:
    return pa.LargeListArray.from_arrays(
        pa.array(offsets, pa.int64()), pa.array(values, pa.uint32())
    )


def ints(table: pa.Table, name: str) -> I64:
    """An int64 column of a batch as a numpy array."""
    return np.asarray(table.column(name).to_numpy(), dtype=np.int64)


def source_rows(sources: Sequence[Source]) -> pa.Table:
    """One row per input file (`schemas.SOURCE_ROWS`)."""
    return pa.table(
        {
            "id": [s.id for s in sources],
            "path": [str(s.path) for s in sources],
            "format": [s.format for s in sources],
            "compression": [s.compression for s in sources],
            "partition": [[list(p) for p in s.partition] for s in sources],
        },
        schema=SOURCE_ROWS,
    )


def sources_of(table: pa.Table) -> list[Source]:
    """The inverse of `source_rows`."""
    return [
        Source(
            r["id"],
            Path(r["path"]),
            r["format"],
            r["compression"],
            tuple((k, v) for k, v in r["partition"]),
        )
        for r in table.to_pylist()
    ]


# Characters of text encoded at a time by `utf8_array`.
_TEXT_CHUNK = 16 << 20


def utf8_array(texts: Sequence[str], large: bool = False) -> pa.ChunkedArray:
    """`texts` as an Arrow string array (`large_string` with `large`).

    Given a str, Arrow reads it through the UTF-8 copy that CPython makes of
    a non-ASCII str and keeps in it for the str's lifetime: documents held
    through a scan would carry both (180 MB more at the peak of a 406 MB
    scan). Encoding here makes copies that are freed a chunk at a time.
    Spilled texts are read back from their file, in the same chunks.
    """
    if isinstance(texts, SpilledTexts):
        read = texts.read_chunks(text_chunks(texts.lengths.tolist()))
        array = pa.chunked_array(read, pa.large_string())
        return array if large else array.cast(pa.string())
    binary, string = (pa.large_binary(), pa.large_string()) if large else (pa.binary(), pa.string())
    chunks: list[pa.Array] = []
    for lo, hi in text_chunks([len(t) for t in texts]):
        # An array of over 2 GB comes back in chunks; the cast takes either.
        encoded = pa.array([t.encode("utf-8") for t in texts[lo:hi]], binary).cast(string)
        chunks += encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    return pa.chunked_array(chunks, string)


def text_chunks(lengths: Sequence[int]) -> list[tuple[int, int]]:
    """(lo, hi) of consecutive texts of at most `_TEXT_CHUNK` characters together.

    Each chunk holds at least one text, and there is one (empty) chunk of no texts.
    """
    limit = _TEXT_CHUNK
    bounds: list[tuple[int, int]] = []
    lo = 0
    while lo < len(lengths) or not bounds:
        hi, size = lo, 0
        while hi < len(lengths) and (hi == lo or size + lengths[hi] <= limit):
            size += lengths[hi]
            hi += 1
        bounds.append((lo, hi))
        lo = hi
    return bounds


def read_rows(
    docs: Sequence[Document], groups: Sequence[str | None], problems: Sequence[Problem]
) -> pa.Table:
    """Documents (with their group value) and input problems as `schemas.READ_ROWS`."""
    n = len(docs)
    return pa.table(
        {
            "id": [d.id for d in docs] + [p.id for p in problems],
            "text": [d.text for d in docs] + [None] * len(problems),
            "source": [d.source for d in docs] + [p.path for p in problems],
            "row": [d.row for d in docs] + [p.row for p in problems],
            "group": [*groups, *([None] * len(problems))],
            "reason": [None] * n + [p.reason for p in problems],
            "action": [None] * n + [p.action for p in problems],
        },
        schema=READ_ROWS,
    )


def documents_of(table: pa.Table) -> tuple[list[Document], list[str | None]]:
    """The documents of `READ_ROWS` (rows without a reason) and their group values."""
    rows = [r for r in table.to_pylist() if r["reason"] is None]
    # One string per file, not one per row: the runners keep a document's
    # source through the scan, and a JSONL or Parquet file holds many.
    paths: dict[str, str] = {}
    docs = [
        Document(r["id"], r["text"], paths.setdefault(r["source"], r["source"]), r["row"])
        for r in rows
    ]
    return docs, [r["group"] for r in rows]


def problems_of(table: pa.Table) -> list[Problem]:
    """The input problems of `READ_ROWS` (rows with a reason)."""
    return [
        Problem(r["source"], r["id"], r["reason"], r["action"], r["row"])
        for r in table.select(["id", "source", "row", "reason", "action"]).to_pylist()
        if r["reason"] is not None
    ]


def block_rows(ids: Sequence[str], blocks: BlockHashes) -> pa.Table:
    """`schemas.BLOCK_ROWS` of `blocks`, whose `doc` indexes `ids`."""
    names: list[str] = np.array(ids, dtype=object)[blocks.doc].tolist() if len(ids) else []
    return pa.table(
        {
            "id": pa.array(names, pa.string()),
            "start": blocks.start,
            "end": blocks.end,
            "key": blocks.key,
            "first_char": blocks.first_char,
            "last_char": blocks.last_char,
            "words": _csr_column(blocks.words, blocks.word_offsets),
            "hashes": _csr_column(blocks.hashes, blocks.offsets),
        },
        schema=BLOCK_ROWS,
    )


def _doc_numbers(ids: pa.ChunkedArray, doc_index: Mapping[str, int]) -> I64:
    """`doc_index[i]` of every id, looked up in Arrow (no Python string per row).

    Raises:
        KeyError: an id that `doc_index` does not hold (the first one).
    """
    names = pa.array(list(doc_index), pa.string())
    numbers = np.fromiter(doc_index.values(), np.int64, len(doc_index))
    at = pc.index_in(ids, value_set=names)
    if at.null_count:
        missing = pc.filter(ids, pc.is_null(at))[0].as_py()
        raise KeyError(missing)
    positions = np.asarray(at.to_numpy(), dtype=np.int64) if len(ids) else np.empty(0, np.int64)
    result: I64 = numbers[positions]
    return result


def blocks_of(table: pa.Table, doc_index: Mapping[str, int]) -> BlockHashes:
    """`BlockHashes` of block rows, `doc` from `doc_index` (id -> index), sorted by (doc, start).

    Without a `hashes` column (a stage that dropped the shingle hashes) the
    hashes are empty, every block with none.
    """
    doc = _doc_numbers(table.column("id"), doc_index)
    start = ints(table, "start")
    order = lexsort2(start, doc)
    words, word_offsets = gathered_csr(table.column("words"), order)
    if "hashes" in table.column_names:
        hashes, offsets = gathered_csr(table.column("hashes"), order)
    else:
        hashes, offsets = np.empty(0, np.uint32), np.zeros(len(order) + 1, np.int64)
    first = np.asarray(table.column("first_char").to_numpy(), dtype=np.uint32)
    last = np.asarray(table.column("last_char").to_numpy(), dtype=np.uint32)
    return BlockHashes(
        doc=doc[order],
        start=start[order],
        end=ints(table, "end")[order],
        key=ints(table, "key")[order],
        hashes=hashes,
        offsets=offsets,
        words=words,
        word_offsets=word_offsets,
        first_char=first[order],
        last_char=last[order],
    )


def set_rows(keys: I64, values: U32, offsets: I64) -> pa.Table:
    """`schemas.SET_ROWS`: one CSR row per key."""
    return pa.table({"key": keys, "set": _csr_column(values, offsets)}, schema=SET_ROWS)


def band_rows(keys: I64, band_keys: I64) -> pa.Table:
    """`schemas.BAND_ROWS` of int64[n, bands] band keys of rows `keys`."""
    n, bands = band_keys.shape
    return pa.table(
        {
            "band": np.tile(np.arange(bands, dtype=np.uint16), n),
            "band_key": band_keys.reshape(-1),
            "key": np.repeat(keys, bands),
        },
        schema=BAND_ROWS,
    )


def pair_rows(left: I64, right: I64, similarity: NDArray[np.float64] | None = None) -> pa.Table:
    """`schemas.PAIR_ROWS`; similarity 0.0 until it is known."""
    sim = np.zeros(len(left)) if similarity is None else similarity
    return pa.table({"left": left, "right": right, "similarity": sim}, schema=PAIR_ROWS)


def join_rows(key: I64, other: I64, pair: bool, values: U32, offsets: I64) -> pa.Table:
    """`schemas.JOIN_ROWS`: sets (`pair` false) or pairs carrying a set, meeting on `key`."""
    return pa.table(
        {
            "key": key,
            "other": other,
            "pair": np.full(len(key), pair),
            "set": _csr_column(values, offsets),
        },
        schema=JOIN_ROWS,
    )
