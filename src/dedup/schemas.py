"""The Parquet schemas of every table dedup writes, declared once.

Offsets are half-open code-point offsets (`text[start:end]` in Python) unless
a field says bytes. Hashes and keys are int64: Spark and Java have no
unsigned 64-bit type. Every file carries `dedup.schema_version` and
`dedup.config` (the scan's config as JSON) in its schema metadata, and a
scan's tables also `dedup.inputs`: the given paths and how they were read
(`InputConfig`), which `dedup clean` uses to read the documents again.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "3"
META_VERSION = b"dedup.schema_version"
META_CONFIG = b"dedup.config"
META_TABLE = b"dedup.table"
META_INPUTS = b"dedup.inputs"


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"doc": doc.encode()})


_ID = (
    "document id: a text file's path relative to the scanned folder, with / separators; "
    "a JSONL or Parquet record's id field, or <file id>:<line or row> without one"
)
_ROW = "line of a JSONL record (from 1) or row of a Parquet record (from 0); null for a text file"

SPANS = pa.schema(
    [
        _field("id", pa.string(), _ID),
        _field("start", pa.int64(), "first code point of the span (half-open, text[start:end])"),
        _field("end", pa.int64(), "code point after the span (half-open)"),
        _field("start_byte", pa.int64(), "UTF-8 byte offset of start"),
        _field("end_byte", pa.int64(), "UTF-8 byte offset of end"),
        _field("label", pa.string(), "unique or boilerplate"),
        _field("passage_id", pa.int64(), "passage behind a boilerplate span", nullable=True),
        _field(
            "doc_count",
            pa.int32(),
            "documents sharing the passage, each near-duplicate cluster counted once",
            nullable=True,
        ),
        _field(
            "score",
            pa.float64(),
            "similarity of the span to its passage: mean exact Jaccard of its blocks' "
            "shingles to their cluster representatives (1.0: exact repeat), null for unique",
            nullable=True,
        ),
    ]
)

DOCUMENTS = pa.schema(
    [
        _field("id", pa.string(), _ID),
        _field("n_chars", pa.int64(), "length in code points"),
        _field("boilerplate_chars", pa.int64(), "code points inside boilerplate spans"),
        _field("boilerplate_fraction", pa.float64(), "boilerplate_chars / n_chars (0 if empty)"),
        _field(
            "near_dup_cluster",
            pa.int64(),
            "near-duplicate cluster id, null when the document has no near-duplicate",
            nullable=True,
        ),
        _field(
            "is_representative",
            pa.bool_(),
            "true for the smallest id of its cluster, and for documents without near-duplicates",
        ),
        _field("group", pa.string(), "the document's --group-by group, null when ungrouped", True),
        _field(
            "source",
            pa.string(),
            "absolute path of the file the document was read from (null when the tables were "
            "made from texts in memory)",
            nullable=True,
        ),
        _field("row", pa.int64(), _ROW, nullable=True),
        _field(
            "text_hash",
            pa.int64(),
            "xxh64 of the text's UTF-8 bytes as a signed int64; dedup clean checks that the "
            "text it reads again is the one scanned",
        ),
    ]
)

PASSAGES = pa.schema(
    [
        _field("passage_id", pa.int64(), "passage key: hash of its sequence of block clusters"),
        _field(
            "doc_count",
            pa.int32(),
            "documents containing the passage, each near-duplicate cluster counted once",
        ),
        _field("n_documents", pa.int64(), "distinct documents where it is a boilerplate span"),
        _field("n_occurrences", pa.int64(), "boilerplate spans that point to it"),
        _field("text", pa.string(), "text of the representative occurrence"),
        _field("id", pa.string(), "document of the representative occurrence (smallest id)"),
        _field("start", pa.int64(), "start of the representative occurrence (code points)"),
        _field("end", pa.int64(), "end of the representative occurrence (code points, half-open)"),
    ]
)

ERRORS = pa.schema(
    [
        _field("path", pa.string(), "absolute path of the input file (or folder)"),
        _field("id", pa.string(), _ID),
        _field("reason", pa.string(), "what is wrong with it"),
        _field(
            "action", pa.string(), "skipped (not in the other tables) or replaced (bytes altered)"
        ),
        _field("row", pa.int64(), _ROW.replace("text file", "whole file"), nullable=True),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "spans": SPANS,
    "documents": DOCUMENTS,
    "passages": PASSAGES,
    "errors": ERRORS,
}


def with_metadata(
    schema: pa.Schema, table: str, config_json: str, inputs_json: str | None = None
) -> pa.Schema:
    """The schema with the version, table name, config and inputs (if known) in its metadata."""
    meta = {
        META_VERSION: SCHEMA_VERSION.encode(),
        META_TABLE: table.encode(),
        META_CONFIG: config_json.encode(),
    }
    if inputs_json is not None:
        meta[META_INPUTS] = inputs_json.encode()
    return schema.with_metadata(meta)


# The index: what `dedup add`, `check` and `serve` need beside the tables
# above, in DIR/index/ (see README, "The index"). Written by every scan and
# add, read whole at open. uint32 hashes are stored bit for bit as int32.
_HASHES = pa.list_(pa.field("item", pa.int32(), nullable=False))
_DOC_ROW = "document row: index of the document in id order (as documents.parquet)"

INDEX_TEXTS = pa.schema(
    [
        _field("id", pa.string(), _ID),
        _field("text", pa.large_string(), "the document text as analysed (UTF-8)"),
    ]
)

INDEX_CONTENTS = pa.schema(
    [
        _field("key", pa.int64(), "content key of a distinct normalised block (sorted)"),
        _field("cluster", pa.int64(), "similarity cluster: smallest content key in it"),
        _field("score", pa.float64(), "exact Jaccard of the content's shingles to the cluster's"),
        _field("spread", pa.int64(), "documents holding the cluster"),
        _field("shingles", _HASHES, "sorted shingle hashes; empty unless spread >= 2"),
    ]
)

INDEX_HOLDERS = pa.schema(
    [
        _field("cluster", pa.int64(), "cluster of a block, variants and glued passages joined"),
        _field("group", pa.int64(), "near-duplicate group holding it: its smallest " + _DOC_ROW),
        _field("user", pa.int64(), "--group-by group index among the sorted names (0: none)"),
    ]
)

INDEX_DOCS = pa.schema(
    [
        _field("group", pa.int64(), "near-duplicate group: its smallest " + _DOC_ROW),
        _field("user", pa.int64(), "--group-by group index among the sorted names (0: none)"),
        _field("blocks", pa.int64(), "blocks of the document"),
        _field("own", _HASHES, "word n-gram hashes of the text outside common passages"),
        _field(
            "whole",
            _HASHES,
            "word n-gram hashes of the whole text; empty unless mostly common passages",
        ),
    ]
)

INDEX_TABLES: dict[str, pa.Schema] = {
    "texts": INDEX_TEXTS,
    "contents": INDEX_CONTENTS,
    "holders": INDEX_HOLDERS,
    "docs": INDEX_DOCS,
}

# Tables of `dedup check --out`: the spans of the checked documents (SPANS)
# and their near-duplicates in the index.
NEAR_DUPLICATES = pa.schema(
    [
        _field("id", pa.string(), "the checked document"),
        _field("near_id", pa.string(), "an indexed document it is a near-duplicate of"),
        _field("similarity", pa.float64(), "exact Jaccard similarity of their word shingles"),
    ]
)

# --- Rows between the stages of a distributed scan ----------------------------------
#
# Not written as tables of a scan: these are the record batches a distributed
# engine (dedup.ray_engine) passes between its map and shuffle stages, and
# that its object store may spill to disk. Declared here all the same, so
# every shard of a stage has the same schema whatever rows it happened to get.

_SET = pa.large_list(pa.uint32())

SOURCE_ROWS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("compression", pa.string()),
        pa.field("partition", pa.list_(pa.list_(pa.string())), nullable=False),
    ]
)

# A document read (reason null) or an input problem (text null).
READ_ROWS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64()),
        pa.field("group", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("action", pa.string()),
    ]
)

# One block of one document (`core.blockhash.BlockHashes`, keyed by document id).
BLOCK_ROWS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64(), nullable=False),
        pa.field("key", pa.int64(), nullable=False),
        pa.field("first_char", pa.uint32(), nullable=False),
        pa.field("last_char", pa.uint32(), nullable=False),
        pa.field("words", _SET, nullable=False),
        pa.field("hashes", _SET, nullable=False),
    ]
)

# One distinct block content: its key and sorted distinct shingle hashes.
SET_ROWS = pa.schema(
    [pa.field("key", pa.int64(), nullable=False), pa.field("set", _SET, nullable=False)]
)

# One LSH bucket entry: the content `key` has band key `band_key` in band `band`.
# The band fits 16 bits (at most 1024 permutations, so at most 1024 bands):
# these rows are the largest shuffle of the Ray engine, 18 bytes each.
BAND_ROWS = pa.schema(
    [
        pa.field("band", pa.uint16(), nullable=False),
        pa.field("band_key", pa.int64(), nullable=False),
        pa.field("key", pa.int64(), nullable=False),
    ]
)

# A pair of content keys (an edge), with the Jaccard similarity of their sets once known.
PAIR_ROWS = pa.schema(
    [
        pa.field("left", pa.int64(), nullable=False),
        pa.field("right", pa.int64(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
    ]
)

# A set (pair false) or a pair (true) meeting it on `key`; `other` is the
# pair's other key and `set` the set carried so far (a pair's, empty at first).
JOIN_ROWS = pa.schema(
    [
        pa.field("key", pa.int64(), nullable=False),
        pa.field("other", pa.int64(), nullable=False),
        pa.field("pair", pa.bool_(), nullable=False),
        pa.field("set", _SET, nullable=False),
    ]
)
