"""Label one new document against an index, without adding it.

`check_document` applies the scan's rules to one document, with the counts
of the index plus that document, as far as a single document allows:

1. Each block finds its similarity cluster: the cluster of the same
   content (after normalisation) in the index, else of the most similar
   content already held by two documents or more (exact Jaccard of
   shingles at `passage_threshold`), else its own.
2. Its near-duplicates are the indexed documents whose word-shingle sets
   (running text outside common passages, as the scan compares them)
   reach `doc_threshold`; the document joins their groups.
3. A cluster's count is the number of near-duplicate groups holding it in
   the index, plus one for the document (its own group, merged with those
   of its near-duplicates). The scan's rules then decide, on those counts:
   candidates, short lines and prose, runs, lines standing alone, weak
   sequences, absorbed lines.

What the scan would do and a single document cannot, `check` leaves out:
it does not join variant lines or cut glued sentences, a sequence of
blocks is one passage only when the index already has that passage, and
the labels of the indexed documents never change. The README says where
`check` and `add` must agree, and where they may not ("How check relates
to add"); `tests/test_index.py` holds them to it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.core.blockhash import hash_blocks
from dedup.core.fastops import gather, jaccard_sorted, unique_rows, word_shingle_rows
from dedup.core.index_parts import CSR
from dedup.core.labels import (
    Spans,
    _absorb,
    _run_ids,
    _run_keys,
    accept_counted,
    group_starts,
    span_scores,
    tile_spans,
)
from dedup.core.lookup import BandIndex, Lookup, group_hash
from dedup.core.minhash import permutations
from dedup.core.near_duplicates import MIN_OWN_SHARE
from dedup.core.similar import set_band_keys
from dedup.core.sorting import distinct
from dedup.core.text import wrapped_words

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

# Index rows met per query row and LSH band. Larger than the scan's window:
# a query is one document, and near-duplicates should all be reported.
QUERY_CAP = 64
# The document's own group in support hashes: no index group is negative.
_SELF = np.array([-1], dtype=np.int64)


@dataclass(frozen=True)
class CheckResult:
    """Spans of one document (they tile it) and its near-duplicates in the index.

    `passage[i]` and `doc_count[i]` are -1 and 0 for a unique span and
    `score[i]` NaN; `near_doc` are index document rows, most similar first
    (then by row), with their exact Jaccard similarity `near_similarity`.
    """

    start: I64
    end: I64
    boilerplate: Bools
    passage: I64
    doc_count: I64
    score: F64
    near_doc: I64
    near_similarity: F64


@dataclass(frozen=True)
class _Counts:
    """Per block of the document: counts and support with the document added."""

    count: I64
    local: I64
    support: U64


def _pairs_similarity(index_sets: CSR, rows: I64, query_sets: CSR, queries: I64) -> F64:
    """Exact Jaccard of `index_sets[rows[i]]` and `query_sets[queries[i]]`."""
    left = gather(*index_sets, rows)
    right = gather(*query_sets, queries)
    values = np.concatenate((left[0], right[0]))
    offsets = np.concatenate((left[1], right[1][1:] + left[1][-1]))
    n = np.arange(len(rows), dtype=np.int64)
    return jaccard_sorted(values, offsets, n, n + len(rows))


def _clusters(lookup: Lookup, keys: I64, sets: CSR) -> tuple[I64, F64, I64]:
    """(cluster, score, content row or -1) of every block (step 1 of the module docstring)."""
    n = len(keys)
    if not len(lookup.content_key):
        return keys.copy(), np.ones(n), np.full(n, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(lookup.content_key, keys), len(lookup.content_key) - 1)
    hit = lookup.content_key[pos] == keys
    row = np.where(hit, pos, -1).astype(np.int64)
    cluster = np.where(hit, lookup.content_cluster[pos], keys)
    score = np.where(hit, lookup.content_score[pos], 1.0)
    misses = np.flatnonzero(~hit & (np.diff(sets[1]) > 0))
    if not len(misses) or not len(lookup.near_content):
        return cluster, score, row
    miss_sets = gather(*sets, misses)
    cfg = lookup.cfg
    band_keys = set_band_keys(*miss_sets, permutations(cfg.num_perm, cfg.seed), *cfg.passage_lsh)
    query, hit_row = lookup.near_bands.query(band_keys, QUERY_CAP)
    if not len(query):
        return cluster, score, row
    similarity = _pairs_similarity(lookup.near_sets, hit_row, miss_sets, query)
    keep = similarity >= cfg.passage_threshold
    query, hit_row, similarity = query[keep], hit_row[keep], similarity[keep]
    content = lookup.near_content[hit_row]
    candidate_cluster = lookup.content_cluster[content]
    # The most similar content wins; ties go to the smallest cluster key.
    order = np.lexsort((candidate_cluster, -similarity, query))
    heads = order[group_starts(query[order])] if len(order) else order
    blocks = misses[query[heads]]
    cluster[blocks] = candidate_cluster[heads]
    row[blocks] = content[heads]
    # Score against the cluster's representative: the content whose key is the cluster key.
    rep = np.searchsorted(lookup.content_key, candidate_cluster[heads])
    rep_row = np.searchsorted(lookup.near_content, rep)
    score[blocks] = _pairs_similarity(lookup.near_sets, rep_row, miss_sets, query[heads])
    return cluster, score, row


def _near_duplicates(
    lookup: Lookup, words: CSR, own_blocks: Bools, n_blocks: int
) -> tuple[I64, F64]:
    """Index documents similar to this one (step 2), most similar first."""
    cfg = lookup.cfg
    everything = np.array([0, len(words[0])], dtype=np.int64)
    own_words = gather(*words, np.flatnonzero(own_blocks).astype(np.int64))[0]
    own = word_shingle_rows(own_words, np.array([0, len(own_words)], np.int64), cfg.ngram)
    found: list[tuple[I64, F64]] = []
    if len(own[0]):
        rows, similarity = _similar_documents(lookup, own, lookup.own_bands, lookup.own_sets)
        found.append((lookup.own_rows[rows], similarity))
    if n_blocks and len(own_words) * MIN_OWN_SHARE < len(words[0]):
        # Mostly common passages (generated code): compared whole, as the scan does.
        whole = word_shingle_rows(words[0], everything, cfg.ngram)
        rows, similarity = _similar_documents(lookup, whole, lookup.whole_bands, lookup.whole_sets)
        found.append((lookup.whole_rows[rows], similarity))
    if not found:
        return np.empty(0, np.int64), np.empty(0)
    docs = np.concatenate([f[0] for f in found])
    similarity = np.concatenate([f[1] for f in found])
    order = np.lexsort((docs, -similarity))
    docs, similarity = docs[order], similarity[order]
    first = np.unique(docs, return_index=True)[1]
    keep = np.sort(first)
    return docs[keep], similarity[keep]


def _similar_documents(lookup: Lookup, query: CSR, bands: BandIndex, sets: CSR) -> tuple[I64, F64]:
    cfg = lookup.cfg
    keys = set_band_keys(*query, permutations(cfg.num_perm, cfg.seed), *cfg.doc_lsh)
    _, rows = bands.query(keys, QUERY_CAP)
    if not len(rows):
        return rows, np.empty(0)
    similarity = _pairs_similarity(sets, rows, query, np.zeros(len(rows), np.int64))
    keep = similarity >= cfg.doc_threshold
    return rows[keep], similarity[keep]


def _holds(lookup: Lookup, lo: int, hi: int, groups: I64, user: int | None) -> I64:
    """The `groups` among holders lo:hi (of one user group when `user` is given)."""
    if not len(groups) or hi <= lo:
        return groups[:0]
    held = lookup.holder_group[lo:hi]
    if user is not None:
        held = held[lookup.holder_user[lo:hi] == user]
    return groups[np.isin(groups, held)]


def _counts(lookup: Lookup, cluster: I64, merged: I64, user: int | None) -> _Counts:
    """Counts of each block's cluster with the document added (step 3).

    `merged` are the index groups the document joins (its near-duplicates'
    groups); with the document they become one group. `user` is its user
    group's index, None when ungrouped.
    """
    n = len(cluster)
    count = np.ones(n, dtype=np.int64)
    local = np.ones(n, dtype=np.int64)
    support = np.full(n, group_hash(_SELF)[0], dtype=np.uint64)
    at = np.searchsorted(lookup.cluster_key, cluster)
    at = np.minimum(at, max(len(lookup.cluster_key) - 1, 0))
    known = (lookup.cluster_key[at] == cluster) if len(lookup.cluster_key) else np.zeros(n, bool)
    # Support hashes are sums that wrap around, as in `labels.count_distinct`.
    with np.errstate(over="ignore"):
        for i in np.flatnonzero(known).tolist():
            c = int(at[i])
            lo, hi = int(lookup.cluster_first[c]), int(lookup.cluster_first[c + 1])
            shared = _holds(lookup, lo, hi, merged, None)
            count[i] += lookup.cluster_groups[c] - len(shared)
            support[i] += lookup.cluster_support[c] - np.sum(group_hash(shared), dtype=np.uint64)
            if user is not None:
                mine = int(np.sum(lookup.holder_user[lo:hi] == user))
                local[i] += mine - len(_holds(lookup, lo, hi, merged, user))
    if user is None:
        local = count
    return _Counts(count, local, support)


def _group_size(lookup: Lookup, merged: I64, user: int | None) -> int:
    """Near-duplicate groups of the document's user group (of all documents when ungrouped)."""
    if user is None:
        return lookup.n_groups - len(merged) + 1
    width = np.int64(max(lookup.n_docs, 1))
    pairs = lookup.user_group_pairs
    lo, hi = np.searchsorted(pairs, [user * width, (user + 1) * width])
    groups = pairs[lo:hi] - user * width
    return int(hi - lo) - int(np.isin(merged, groups).sum()) + 1


def _accept(counts: _Counts, prose: I64, grouped: bool, group_size: int, lookup: Lookup) -> Bools:
    """`labels.accept_blocks` for the blocks of one document, on the given counts."""
    doc = np.zeros(len(prose), dtype=np.int64)
    return accept_counted(
        doc, counts.count, counts.local, counts.support, prose, grouped, group_size, lookup.cfg
    )


def _passage_counts(lookup: Lookup, keys: I64, merged: I64) -> I64:
    """Groups holding each passage key as a span, with the document added."""
    counts = np.ones(len(keys), dtype=np.int64)
    at = np.minimum(np.searchsorted(lookup.passage_key, keys), max(len(lookup.passage_key) - 1, 0))
    if not len(lookup.passage_key):
        return counts
    for i in np.flatnonzero(lookup.passage_key[at] == keys).tolist():
        lo, hi = int(lookup.passage_first[at[i]]), int(lookup.passage_first[at[i] + 1])
        groups = lookup.passage_group[lo:hi]
        counts[i] += len(groups) - int(np.isin(merged, groups).sum())
    return counts


def user_index(lookup: Lookup, group: str | None) -> int | None:
    """Index of a `--group-by` group name (a new name gets one past the known ones)."""
    names = lookup.user_names
    if names is None:
        return None
    name = group if group is not None else ""
    at = bisect.bisect_left(names, name)
    return at if at < len(names) and names[at] == name else len(names)


def check_document(lookup: Lookup, text: str, group: str | None = None) -> CheckResult:
    """Spans and near-duplicates of one document against the index (see the module docstring).

    `group` is the document's `--group-by` group (ignored when the index is
    not grouped). Offsets are half-open code-point offsets into `text`.
    """
    cfg = lookup.cfg
    blocks = hash_blocks([text], cfg)
    n = len(blocks.doc)
    doc_len = np.array([len(text)], dtype=np.int64)
    if not n:
        # No block: one unique span over white space, or none for an empty text.
        blank = tile_spans(blocks.doc, blocks.start, blocks.end, blocks.doc, doc_len)
        nothing = np.zeros(len(blank.start), dtype=np.int64)
        return CheckResult(
            blank.start,
            blank.end,
            nothing.astype(bool),
            nothing - 1,
            nothing,
            np.full(len(nothing), np.nan),
            np.empty(0, np.int64),
            np.empty(0),
        )
    words = np.diff(blocks.word_offsets)
    prose = (
        wrapped_words(blocks.doc, words, blocks.first_char, blocks.last_char)
        if cfg.block_mode == "line"
        else words
    )
    sets = unique_rows(blocks.hashes, blocks.offsets)
    cluster, score, row = _clusters(lookup, blocks.key, sets)
    spread = np.ones(n, dtype=np.int64)  # the document itself
    spread[row >= 0] += lookup.content_spread[row[row >= 0]]
    word_csr = (blocks.words, blocks.word_offsets)
    near_doc, near_similarity = _near_duplicates(lookup, word_csr, spread < cfg.prose_min_docs, n)
    merged = distinct(lookup.doc_group[near_doc])
    user = user_index(lookup, group)
    counts = _counts(lookup, cluster, merged, user)
    accepted = _accept(counts, prose, user is not None, _group_size(lookup, merged, user), lookup)

    doc = np.zeros(n, dtype=np.int64)
    alone = np.zeros(n, dtype=bool)
    block_run = _run_ids(doc, accepted, counts.support, alone)
    first, length, keys = _run_keys(block_run, cluster)
    run_counts = _passage_counts(lookup, keys, merged)
    weak = (run_counts < cfg.min_docs) & (length > 1)
    if weak.any():
        # A sequence the index does not hold often enough falls apart into its blocks.
        alone[np.flatnonzero(block_run >= 0)[np.repeat(weak, length)]] = True
        block_run = _run_ids(doc, accepted, counts.support, alone)
        first, length, keys = _run_keys(block_run, cluster)
        run_counts = _passage_counts(lookup, keys, merged)
    run_counts = np.where(length == 1, counts.count[first], run_counts)
    span_run = _absorb(doc, prose, block_run, cfg.absorb_words)
    spans: Spans = tile_spans(doc, blocks.start, blocks.end, span_run, doc_len)
    block_score = np.where(block_run >= 0, score, 0.0)
    boiler = spans.run >= 0
    run = np.maximum(spans.run, 0)
    has_runs = len(keys) > 0
    return CheckResult(
        start=spans.start,
        end=spans.end,
        boilerplate=boiler,
        passage=np.where(boiler, keys[run] if has_runs else -1, -1).astype(np.int64),
        doc_count=np.where(boiler, run_counts[run] if has_runs else 0, 0).astype(np.int64),
        score=span_scores(spans, doc, blocks.start, blocks.end, block_score),
        near_doc=near_doc,
        near_similarity=near_similarity,
    )
