"""The map functions of the Ray engine: one Arrow batch in, one out.

Each takes a record batch (`batch_format="pyarrow"`), turns it into arrays
with the Arrow adapter (`dedup.arrow`), calls the same pure core functions as
the embedded runner, and turns the result back into a batch. They import no
Ray, so they are tested, and can be reused, without it. Functions named
`*_partition` receive a whole shuffle partition (every row of each of its
keys); the others work on any batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from dedup.arrow import (
    band_rows,
    block_rows,
    blocks_of,
    csr_of,
    documents_of,
    ints,
    join_rows,
    pair_rows,
    read_rows,
    set_rows,
    sources_of,
)
from dedup.config import InputConfig, ScanConfig
from dedup.core.blockhash import hash_blocks
from dedup.core.fastops import jaccard_sorted
from dedup.core.graph import both_ways, large_star, small_star, star_labels
from dedup.core.label_parts import Part, ranges_of
from dedup.core.lsh import GOLDEN, WINDOW, bucket_pairs, fmix64, unique_pairs
from dedup.core.minhash import permutations
from dedup.core.near_duplicates import DocumentSets
from dedup.core.pipeline import distinct_sets
from dedup.core.sets import gather
from dedup.core.similar import set_band_keys
from dedup.core.sorting import stable_argsort
from dedup.decoding import Document, Problem
from dedup.errors import DecodeError
from dedup.sources import read_source

I64 = NDArray[np.int64]

PART = "part"
# The action of a problem that must stop the scan (see `read_batch`).
FATAL = "fatal"


def with_part(batch: pa.Table, column: str, parts: int) -> pa.Table:
    """`batch` with a `part` column: the shuffle partition of its `column` value.

    The partition is a hash of the value, so rows with equal values meet in
    one partition, and the partitions get about equal shares of the values.
    """
    mixed = fmix64(ints(batch, column).view(np.uint64) + GOLDEN)
    # 32 bits: every shuffled row carries it, and a shuffle has far fewer parts.
    part = (mixed % np.uint64(parts)).astype(np.int32)
    return batch.append_column(PART, pa.array(part, pa.int32()))


def without_part(batch: pa.Table) -> pa.Table:
    """`batch` less its `part` column."""
    return batch.drop_columns([PART]) if PART in batch.column_names else batch


# --- read and hash (per input file, per document) -------------------------------


def read_batch(batch: pa.Table, reading: InputConfig, field: str | None) -> pa.Table:
    """Documents and problems of the input files in `batch` (`SOURCE_ROWS` -> `READ_ROWS`).

    `field` is the `--group-by field:NAME` field whose value each document
    carries (None: no field grouping).

    Undecodable bytes under the "fail" decode policy end the file's reading
    with a problem whose action is `FATAL` and whose reason is the
    `DecodeError`'s message: the driver raises it. (Ray Data wraps an
    exception raised in a task without its cause, so it travels as data.)
    """
    docs: list[Document] = []
    groups: list[str | None] = []
    problems: list[Problem] = []
    for source in sources_of(batch):
        try:
            for doc in read_source(source, reading, problems, carry=field is not None):
                docs.append(Document(doc.id, doc.text, doc.source, doc.row))
                value = None if field is None else (doc.record or {}).get(field)
                groups.append(None if value is None else str(value))
        except DecodeError as exc:
            problems.append(Problem(str(source.path), source.id, str(exc), FATAL))
    return read_rows(docs, groups, problems)


def hash_batch(batch: pa.Table, cfg: ScanConfig) -> pa.Table:
    """Blocks of the documents of a `READ_ROWS` batch (`BLOCK_ROWS`), as `hash_blocks` makes."""
    docs, _ = documents_of(batch)
    blocks = hash_blocks([d.text for d in docs], cfg, workers=1)
    return block_rows([d.id for d in docs], blocks)


# --- distinct contents and LSH buckets (shuffled by key) -------------------------


def contents_partition(batch: pa.Table) -> pa.Table:
    """One `SET_ROWS` row per distinct content key among the blocks of a partition."""
    batch = without_part(batch)
    keys, first = np.unique(ints(batch, "key"), return_index=True)
    values, offsets = distinct_sets(*csr_of(batch.column("hashes")), first.astype(np.int64))
    return set_rows(keys.astype(np.int64), values, offsets)


def bands_batch(batch: pa.Table, cfg: ScanConfig, documents: bool = False) -> pa.Table:
    """`BAND_ROWS` of a `SET_ROWS` batch: one row per set and band.

    The bands of `cfg.passage_lsh`; with `documents`, of `cfg.doc_lsh`
    (the banding of near-duplicate documents).
    """
    values, offsets = csr_of(batch.column("set"))
    bands, rows = cfg.doc_lsh if documents else cfg.passage_lsh
    keys = set_band_keys(values, offsets, permutations(cfg.num_perm, cfg.seed), bands, rows)
    return band_rows(ints(batch, "key"), keys)


def buckets_partition(batch: pa.Table, window: int = WINDOW) -> pa.Table:
    """Candidate pairs (`PAIR_ROWS`) of the whole buckets in a partition (`bucket_pairs`)."""
    batch = without_part(batch)
    left, right = bucket_pairs(
        ints(batch, "band"), ints(batch, "band_key"), ints(batch, "key"), window
    )
    return pair_rows(left, right)


def document_set_rows(sets: DocumentSets) -> tuple[pa.Table, pa.Table]:
    """`SET_ROWS` of the two kinds of sets `near_duplicate_groups` compares, keyed by document.

    The first table holds the owners' own sets, the second the whole sets
    of the mostly-common documents; each kind is compared only within
    itself. Documents are numbered as in the corpus, in ascending order as
    the rows of `DocumentSets`: the buckets' pairs are then those
    `near_duplicate_groups` finds among its rows.
    """
    return set_rows(sets.owners, *sets.own), set_rows(sets.mostly_common, *sets.whole)


# --- pairs meet their sets (two shuffles: by left key, then by right key) --------


def sets_among(batch: pa.Table, keys: I64) -> pa.Table:
    """The rows of a `SET_ROWS` batch whose key is among `keys` (sorted, distinct)."""
    own = ints(batch, "key")
    if not len(keys):
        return batch.slice(0, 0)
    at = np.minimum(np.searchsorted(keys, own), len(keys) - 1)
    return batch.filter(pa.array(keys[at] == own))


def sets_to_join(batch: pa.Table) -> pa.Table:
    """`SET_ROWS` as the set side of a join (`JOIN_ROWS`, pair false)."""
    keys = ints(batch, "key")
    return join_rows(keys, keys, False, *csr_of(batch.column("set")))


def pairs_to_join(batch: pa.Table) -> pa.Table:
    """`PAIR_ROWS` as the pair side of a join on their left key, carrying no set yet."""
    left = ints(batch, "left")
    return join_rows(
        left, ints(batch, "right"), True, np.empty(0, np.uint32), np.zeros(len(left) + 1, np.int64)
    )


def _split_join(batch: pa.Table) -> tuple[pa.Table, pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """(set rows, pair rows, set keys sorted, their values, their offsets) of a join partition."""
    batch = without_part(batch)
    is_pair = np.asarray(batch.column("pair").to_numpy(zero_copy_only=False), dtype=bool)
    sets = batch.filter(pa.array(~is_pair))
    pairs = batch.filter(pa.array(is_pair))
    keys = ints(sets, "key")
    order = np.argsort(keys, kind="stable")
    values, offsets = csr_of(sets.column("set"))
    values, offsets = gather(values, offsets, order)
    return sets, pairs, keys[order], values, offsets


def carry_left_partition(batch: pa.Table) -> pa.Table:
    """Each distinct pair of the partition, re-keyed on its right key, carrying its left set."""
    _, pairs, keys, values, offsets = _split_join(batch)
    left, right = unique_pairs(ints(pairs, "key"), ints(pairs, "other"))
    carried, carried_offsets = gather(values, offsets, np.searchsorted(keys, left))
    return join_rows(right, left, True, carried, carried_offsets)


def similarity_partition(batch: pa.Table) -> pa.Table:
    """Exact Jaccard similarity of every pair, the right set met here (`PAIR_ROWS`)."""
    _, pairs, keys, values, offsets = _split_join(batch)
    right, left = ints(pairs, "key"), ints(pairs, "other")
    carried, carried_offsets = csr_of(pairs.column("set"))
    both = np.concatenate((carried, values))
    both_offsets = np.concatenate((carried_offsets, offsets[1:] + carried_offsets[-1]))
    rows = np.arange(len(left), dtype=np.int64)
    similarity = jaccard_sorted(both, both_offsets, rows, len(left) + np.searchsorted(keys, right))
    return pair_rows(left, right, similarity)


def at_least(batch: pa.Table, threshold: float) -> pa.Table:
    """The pairs of a `PAIR_ROWS` batch whose similarity reaches `threshold`."""
    keep = np.asarray(batch.column("similarity").to_numpy(), dtype=np.float64) >= threshold
    return batch.filter(pa.array(keep))


# --- components: large-star / small-star rounds (shuffled by source node) --------


def directed_batch(batch: pa.Table) -> pa.Table:
    """Every edge of a `PAIR_ROWS` batch both ways, as (source = left, neighbour = right)."""
    return pair_rows(*both_ways(ints(batch, "left"), ints(batch, "right")))


def large_star_partition(batch: pa.Table) -> pa.Table:
    """`graph.large_star` of the sources of a partition."""
    batch = without_part(batch)
    return pair_rows(*large_star(ints(batch, "left"), ints(batch, "right")))


def small_star_partition(batch: pa.Table) -> pa.Table:
    """`graph.small_star` of the sources of a partition."""
    batch = without_part(batch)
    return pair_rows(*small_star(ints(batch, "left"), ints(batch, "right")))


def labels_partition(batch: pa.Table) -> pa.Table:
    """(node, label) of the sources of a partition, as `PAIR_ROWS` (left node, right label)."""
    batch = without_part(batch)
    return pair_rows(*star_labels(ints(batch, "left"), ints(batch, "right")))


def edge_digest(batch: pa.Table) -> pa.Table:
    """One row: the number of edges in the batch and an order-free hash of them."""
    left = ints(batch, "left").view(np.uint64)
    right = ints(batch, "right").view(np.uint64)
    mixed = fmix64(fmix64(left + GOLDEN) ^ right)
    total = int(np.sum(mixed, dtype=np.uint64)) if len(left) else 0
    return pa.table(
        {"edges": [len(left)], "digest": pa.array([total], pa.uint64())},
    )


def unlabelled(batch: pa.Table) -> pa.Table:
    """The (node, label) rows whose node is not its own label."""
    return batch.filter(pa.array(ints(batch, "left") != ints(batch, "right")))


# --- ranges of documents for the labelling (core.label_parts) --------------------


def split_by_range(batch: pa.Table, ids: pa.Array, bounds: I64) -> list[pa.Table]:
    """The rows of a `BLOCK_ROWS` batch in each range of documents, range by range.

    `ids` is every document's id in document order; range r holds
    documents `bounds[r]` to `bounds[r + 1]` - 1.

    Raises:
        ValueError: a row's id is not among `ids`.
    """
    at = pc.index_in(batch.column("id"), value_set=ids)
    if at.null_count:
        missing = pc.filter(batch.column("id"), pc.is_null(at))[0].as_py()
        raise ValueError(f"block rows of {missing!r}, which is not a document")
    doc = np.asarray(at.to_numpy(), dtype=np.int64) if len(batch) else np.empty(0, np.int64)
    in_range = np.searchsorted(bounds, doc, side="right") - 1
    order = stable_argsort(in_range)
    cuts = np.searchsorted(in_range[order], np.arange(len(bounds))).tolist()
    taken = batch.take(pa.array(order))
    return [taken.slice(a, b - a) for a, b in itertools.pairwise(cuts)]


def range_part(lo: int, ids: Sequence[str], pieces: Sequence[pa.Table]) -> tuple[Part, I64]:
    """Documents `lo` to `lo + len(ids)` - 1 (`ids`) as a `Part`, from their block rows in `pieces`.

    The part's `key` column holds each block's content key until the
    contents are numbered over the whole corpus (`numbered_contents`);
    the range's distinct keys are returned beside it.
    """
    table = pa.concat_tables(pieces)
    blocks = blocks_of(table, {doc_id: lo + i for i, doc_id in enumerate(ids)})
    del table
    (part,) = ranges_of(blocks, blocks.key, [lo, lo + len(ids)])
    keys = np.unique(blocks.key).astype(np.int64, copy=False)
    return part.with_columns(("content",), key=part["content"]), keys


def numbered_contents(keys: I64, part: Part) -> tuple[Part, None]:
    """A labelling step: each block's content key replaced by its content's number.

    The number is the key's rank among `keys` (every distinct content of
    the corpus, sorted), as `np.unique` numbers them in the embedded runner.
    """
    content = np.searchsorted(keys, part["key"]).astype(np.int64, copy=False)
    return part.with_columns(("key",), content=content), None
