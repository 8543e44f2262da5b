"""What an index keeps beside the scan tables, computed from an analysis.

A scan's tables say how every document was labelled; they do not say how a
*new* document would be. For that, `check` needs, as arrays:

- every distinct block content's similarity cluster and score, and the
  shingle sets of the contents already repeated (to find near repeats);
- which near-duplicate groups (and `--group-by` groups) hold each cluster,
  so that counts can be updated by one document;
- every document's word-shingle sets, as near-duplicate detection compares
  them, so that a new document finds the earlier ones it copies.

`index_parts` derives them from an `Analysis` and the blocks' hashes (the
same `hash_blocks` the analysis ran). It is pure: the Arrow adapter writes
the parts, and `Lookup` (core/lookup.py) is built from them at open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import ClusteredBlocks
from dedup.core.fastops import gather, unique_rows
from dedup.core.pipeline import Analysis, block_clusters
from dedup.core.sets import drained, expand_rows
from dedup.core.sorting import dense_ranks, distinct

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
F64 = NDArray[np.float64]
CSR = tuple[U32, I64]

_EMPTY = np.empty(0, np.int64)


@dataclass(frozen=True)
class IndexParts:
    """The arrays an index stores; rows of each group are parallel.

    Contents, sorted by key: `content_cluster`, `content_score` as in
    `pipeline.Contents`; `content_spread` counts the documents holding the
    content's similarity cluster; `content_sets` are CSR rows of sorted
    shingle hashes, empty unless the cluster is held by two documents or more.

    Holders, one row per distinct (cluster, near group, user group) of the
    final blocks, sorted: `holder_group` is the smallest document index of a
    near-duplicate group, `holder_user` the `--group-by` group's index in the
    sorted group names (0 when ungrouped).

    Documents, in id order: `doc_group` and `doc_user` as for holders,
    `doc_blocks` their blocks; `own` the word-shingle sets compared for
    near-duplicates (running text outside common passages) and `whole`
    the sets of documents that are mostly common passages (empty otherwise).
    """

    content_key: I64
    content_cluster: I64
    content_score: F64
    content_spread: I64
    content_sets: CSR
    holder_cluster: I64
    holder_group: I64
    holder_user: I64
    doc_group: I64
    doc_user: I64
    doc_blocks: I64
    own: CSR
    whole: CSR


def user_groups(groups: list[str] | None, n_docs: int) -> I64:
    """Index of every document's `--group-by` group among the sorted names (0 when ungrouped)."""
    if groups is None:
        return np.zeros(n_docs, dtype=np.int64)
    inverse = np.unique(np.array(groups, dtype=object), return_inverse=True)[1]
    return np.asarray(inverse, dtype=np.int64).reshape(-1)


def _distinct_holders(cluster: I64, pair: I64) -> tuple[I64, I64]:
    """The distinct (cluster, pair) of equally long arrays, sorted by cluster then pair."""
    # Each as a rank among its distinct values, both packed in one int64 (as
    # `lexsort2` packs them) and sorted alone. No order is kept nor gathered
    # by: the index is built when the analysis is still held, at the peak.
    cluster_rank, clusters = dense_ranks(cluster)
    del cluster  # goes here when the caller passed it without a name
    pair_rank, pairs = dense_ranks(pair)
    del pair
    holders = cluster_rank
    holders *= len(pairs)
    holders += pair_rank
    del cluster_rank, pair_rank
    holders = distinct(holders)
    return clusters[holders // max(len(pairs), 1)], pairs[holders % max(len(pairs), 1)]


def index_parts(result: Analysis, blocks: ClusteredBlocks, cfg: ScanConfig) -> IndexParts:
    """The index arrays of an analysis.

    Args:
        result: `analyze(ids, texts, cfg)`.
        blocks: the blocks the analysis clustered.
        cfg: the config of the analysis.
    """
    n_docs = len(result.ids)
    contents = result.contents
    if not np.array_equal(blocks.key, contents.key):
        raise ValueError(
            "index_parts: blocks must be those of hash_blocks(result.texts, cfg), the blocks "
            "the analysis clustered; their contents differ from the analysis'"
        )
    found = result.document_sets
    if found is None:
        raise ValueError("index_parts: the analysis kept no document sets (keep_document_sets)")
    n_blocks = int(blocks.doc_blocks.sum())
    if len(found.spread) != n_blocks or len(blocks.doc_blocks) != n_docs:
        raise ValueError(
            f"index_parts: {n_blocks} blocks of {len(blocks.doc_blocks)} documents given, "
            f"{len(found.spread)} of {n_docs} in the analysis"
        )
    users = user_groups(result.groups, n_docs)
    # Holders first, before the kept arrays are read (a scan's
    # index maps them from files, and their pages then stay resident).
    # (near group, user group) as one int64 below n_docs squared (users are
    # at most documents), so one two-key sort orders the triples.
    n_users = int(users.max()) + 1 if n_docs else 1
    if n_docs * n_users >= 1 << 63:
        raise ValueError(f"index_parts: {n_docs} documents are too many to pack group pairs")
    # The distinct (cluster, pair) of every piece of blocks (a range's, or
    # all blocks at once), then of those of all pieces.
    found_holders = []
    for doc, cluster in block_clusters(result):
        pair = result.doc_group[doc]
        pair *= n_users
        pair += users[doc]
        found_holders.append(_distinct_holders(cluster, pair))
        del pair
    if len(found_holders) == 1:
        holder_cluster, holder_pair = found_holders[0]
    elif found_holders:
        # Joined piece by piece, each going once copied (`drained`).
        clusters = [c for c, _ in found_holders]
        pairs = [p for _, p in found_holders]
        found_holders.clear()
        holder_cluster, holder_pair = _distinct_holders(drained(clusters), drained(pairs))
    else:
        holder_cluster, holder_pair = _EMPTY, _EMPTY

    # Spread of every content's cluster (all blocks of a content share it).
    content_spread = found.spread[blocks.first]
    # Only contents already repeated are matched on their sets (see `Lookup`).
    repeated = np.flatnonzero(content_spread >= 2)
    sets = unique_rows(*gather(blocks.hashes, blocks.offsets, repeated))
    content_sets = expand_rows(*sets, repeated, len(contents.key))

    return IndexParts(
        content_key=contents.key,
        content_cluster=contents.cluster,
        content_score=contents.score,
        content_spread=content_spread,
        content_sets=content_sets,
        holder_cluster=holder_cluster,
        holder_group=holder_pair // n_users,
        holder_user=holder_pair % n_users,
        doc_group=result.doc_group,
        doc_user=users,
        doc_blocks=blocks.doc_blocks,
        own=expand_rows(*found.own, found.owners, n_docs),
        whole=expand_rows(*found.whole, found.mostly_common, n_docs),
    )
