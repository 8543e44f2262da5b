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
from dedup.core.blockhash import BlockHashes
from dedup.core.fastops import gather, unique_rows, word_shingle_rows
from dedup.core.labels import count_distinct
from dedup.core.pipeline import Analysis
from dedup.core.sorting import unique_first_inverse

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
F64 = NDArray[np.float64]
CSR = tuple[U32, I64]

# Documents with less than 1/_MIN_OWN_SHARE of their words outside common
# passages are also compared whole (the pipeline's rule, repeated here).
MIN_OWN_SHARE = 4


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


def _expand(values: U32, offsets: I64, rows: I64, n: int) -> CSR:
    """A CSR of `n` rows holding the given rows at positions `rows` (sorted), empty elsewhere."""
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = np.diff(offsets)
    new = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=new[1:])
    return values, new


def index_parts(result: Analysis, hashes: BlockHashes, cfg: ScanConfig) -> IndexParts:
    """The index arrays of an analysis.

    Args:
        result: `analyze(ids, texts, cfg)`.
        hashes: `hash_blocks(result.texts, cfg)`, the blocks before glued
            passages were cut out (the blocks the analysis clustered).
        cfg: the config of the analysis.
    """
    n_docs = len(result.ids)
    contents = result.contents
    doc = hashes.doc
    # The contents are the distinct keys of these very blocks, so a block's
    # content is its key's rank among them.
    keys, first, content = unique_first_inverse(hashes.key)
    if not np.array_equal(keys, contents.key):
        raise ValueError(
            "index_parts: hashes must be hash_blocks(result.texts, cfg), the blocks the "
            "analysis clustered; their contents differ from the analysis'"
        )
    similar = contents.cluster[content] if len(doc) else np.empty(0, np.int64)
    spread, _ = count_distinct(similar, doc)

    # Spread of every content's cluster; every content has a block.
    content_spread = np.zeros(len(contents.key), dtype=np.int64)
    content_spread[content] = spread
    # Only contents already repeated are matched on their sets (see `Lookup`).
    repeated = np.flatnonzero(content_spread >= 2)
    sets = unique_rows(*gather(hashes.hashes, hashes.offsets, first[repeated]))
    content_sets = _expand(*sets, repeated, len(contents.key))

    users = user_groups(result.groups, n_docs)
    final = result.blocks
    near = result.doc_group[final.doc]
    user = users[final.doc]
    order = np.lexsort((user, near, final.cluster))
    triples = np.stack((final.cluster[order], near[order], user[order]))
    if triples.shape[1]:
        keep = np.r_[True, np.any(triples[:, 1:] != triples[:, :-1], axis=0)]
        triples = triples[:, keep]

    own, whole = _document_sets(hashes, similar, spread, n_docs, cfg)
    return IndexParts(
        content_key=contents.key,
        content_cluster=contents.cluster,
        content_score=contents.score,
        content_spread=content_spread,
        content_sets=content_sets,
        holder_cluster=triples[0],
        holder_group=triples[1],
        holder_user=triples[2],
        doc_group=result.doc_group,
        doc_user=users,
        doc_blocks=np.bincount(doc, minlength=n_docs).astype(np.int64),
        own=own,
        whole=whole,
    )


def _document_sets(
    hashes: BlockHashes, similar: I64, spread: I64, n_docs: int, cfg: ScanConfig
) -> tuple[CSR, CSR]:
    """(own, whole) word-shingle sets of every document, as near-duplicate detection forms them.

    `own` leaves out blocks whose similarity cluster is held by at least
    `prose_min_docs` documents; `whole` is kept only for documents with less
    than a quarter of their words their own (empty rows elsewhere).
    """
    doc = hashes.doc
    cuts = np.arange(n_docs + 1)
    own_blocks = np.flatnonzero(spread < cfg.prose_min_docs)
    own_words, own_block_offsets = gather(hashes.words, hashes.word_offsets, own_blocks)
    own_offsets = own_block_offsets[np.searchsorted(doc[own_blocks], cuts)]
    whole_offsets = hashes.word_offsets[np.searchsorted(doc, cuts)]
    own_len, whole_len = np.diff(own_offsets), np.diff(whole_offsets)
    mostly_common = np.flatnonzero((whole_len > 0) & (own_len * MIN_OWN_SHARE < whole_len))
    own = word_shingle_rows(own_words, own_offsets, cfg.ngram)
    whole = word_shingle_rows(*gather(hashes.words, whole_offsets, mostly_common), cfg.ngram)
    return own, _expand(*whole, mostly_common, n_docs)
