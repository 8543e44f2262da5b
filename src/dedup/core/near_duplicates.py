"""Near-duplicate documents: which documents copy each other's running text.

Documents are compared on the word n-grams of their running text, across
line breaks, so a re-wrapped copy still matches. Passages found in at least
`prose_min_docs` documents (a site's template, a generated skeleton) are left
out first: two copies of an article on two sites match on the article, and
two pages of one template do not match on the template. Documents that are
mostly such passages (generated code, where the skeleton is nearly
everything) are also compared whole, among themselves.

The sets compared are kept in `DocumentSets`: the analysis groups documents
with them, and an index stores them so that a new document finds the
documents it copies without forming them again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.fastops import gather, word_shingle_rows
from dedup.core.graph import components
from dedup.core.labels import count_distinct
from dedup.core.minhash import permutations
from dedup.core.sets import drained, drained_rows
from dedup.core.similar import groups_from_keys, set_band_keys

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
CSR = tuple[U32, I64]

# Documents with less than 1/MIN_OWN_SHARE of their words outside common
# passages are also compared whole.
MIN_OWN_SHARE = 4


@dataclass(frozen=True)
class DocumentSets:
    """The word-shingle sets near-duplicate detection compares.

    `spread[i]`: how many documents hold block i's similarity cluster.
    `owners`: the documents with words outside common passages (clusters of
    at least `prose_min_docs` documents), ascending; `own` holds their
    sets, one CSR row per owner. `mostly_common`: the documents with less
    than 1/MIN_OWN_SHARE of their words their own, ascending; `whole` holds
    the sets of all their words, one row each.
    """

    spread: I64
    owners: I64
    own: CSR
    mostly_common: I64
    whole: CSR


def document_sets(
    doc: I64, words: U32, word_offsets: I64, cluster: I64, n_docs: int, cfg: ScanConfig
) -> DocumentSets:
    """The sets of every document, from its blocks.

    Args:
        doc: int64[B] document of each block, ascending (blocks sorted by
            document).
        words, word_offsets: CSR of each block's word hashes.
        cluster: int64[B] similarity cluster of each block.
        n_docs: number of documents (some may have no block).
        cfg: ngram and prose_min_docs.
    """
    spread, _ = count_distinct(cluster, doc)
    return sets_of_documents(doc, words, word_offsets, spread, 0, n_docs, cfg)


def sets_of_documents(
    doc: I64, words: U32, word_offsets: I64, spread: I64, lo: int, hi: int, cfg: ScanConfig
) -> DocumentSets:
    """The sets of documents `lo` to `hi` - 1, from their blocks and `spread`.

    `doc`, `words` and `word_offsets` are the blocks of those documents
    (every block of each), `spread` how many documents of the whole corpus
    hold each block's cluster. Documents are numbered as in the corpus: the
    sets of consecutive ranges, joined by `joined_sets`, are those of the
    whole.
    """
    own_blocks = np.flatnonzero(spread < cfg.prose_min_docs)
    own_words, own_block_offsets = gather(words, word_offsets, own_blocks)
    cuts = np.arange(lo, hi + 1)
    own = own_block_offsets[np.searchsorted(doc[own_blocks], cuts)]
    whole = word_offsets[np.searchsorted(doc, cuts)]
    own_len, whole_len = np.diff(own), np.diff(whole)
    owners = np.flatnonzero(own_len > 0)
    mostly_common = np.flatnonzero((whole_len > 0) & (own_len * MIN_OWN_SHARE < whole_len))
    # The owners' rows are all of `own_words`, in order (the other documents'
    # rows are empty): a CSR of owners over it needs no copy of the words,
    # which would be the largest array at this step (most words are a
    # document's own).
    owner_offsets = np.append(own[owners], own[-1])
    return DocumentSets(
        spread=spread,
        owners=owners + lo,
        own=word_shingle_rows(own_words, owner_offsets, cfg.ngram),
        mostly_common=mostly_common + lo,
        whole=word_shingle_rows(*gather(words, whole, mostly_common), cfg.ngram),
    )


def joined_sets(parts: list[DocumentSets]) -> DocumentSets:
    """The sets of consecutive ranges of documents (`sets_of_documents`), as one.

    `parts` is emptied: each range's arrays go once copied, so that the
    joined sets (0.15 GB for a 406 MB corpus) are not held twice.
    """
    if len(parts) == 1:
        return parts.pop()
    if not parts:
        empty, rows = np.empty(0, np.int64), (np.empty(0, np.uint32), np.zeros(1, np.int64))
        return DocumentSets(empty, empty, rows, empty, rows)
    spread = [p.spread for p in parts]
    owners = [p.owners for p in parts]
    own = [p.own for p in parts]
    mostly_common = [p.mostly_common for p in parts]
    whole = [p.whole for p in parts]
    parts.clear()
    return DocumentSets(
        spread=drained(spread),
        owners=drained(owners),
        own=drained_rows(own),
        mostly_common=drained(mostly_common),
        whole=drained_rows(whole),
    )


def near_duplicate_groups(sets: DocumentSets, n_docs: int, cfg: ScanConfig) -> I64:
    """Near-duplicate group of every document (smallest document index in it).

    Owners are compared on their own sets, mostly-common documents on their
    whole sets; documents without blocks stay alone.
    """
    left_parts: list[I64] = []
    right_parts: list[I64] = []
    for members, (values, offsets) in ((sets.owners, sets.own), (sets.mostly_common, sets.whole)):
        if len(members) < 2:
            continue
        left, right = _similar_pairs(values, offsets, cfg)
        left_parts.append(members[left])
        right_parts.append(members[right])
    if not left_parts:
        return np.arange(n_docs, dtype=np.int64)
    return components(n_docs, np.concatenate(left_parts), np.concatenate(right_parts))


def _similar_pairs(values: U32, offsets: I64, cfg: ScanConfig) -> tuple[I64, I64]:
    """Verified pairs of document shingle sets (CSR rows) at `doc_threshold`."""
    bands, band_rows = cfg.doc_lsh
    keys = set_band_keys(values, offsets, permutations(cfg.num_perm, cfg.seed), bands, band_rows)
    _, left, right = groups_from_keys(values, offsets, keys, cfg.doc_threshold)
    return left, right
