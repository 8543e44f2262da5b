"""The whole analysis of a set of documents, as one pure function.

    documents -> blocks -> shingle sets -> MinHash -> LSH -> verified pairs
      -> block clusters and near-duplicate document clusters
      -> runs and passages -> spans

`analyze` takes ids and texts and returns arrays; it reads no file and keeps
no state. Runners feed it and write its result through the Arrow adapter.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes, hash_blocks, word_shingles
from dedup.core.graph import components
from dedup.core.groups import group_names
from dedup.core.kernel import signatures_kernel as signatures
from dedup.core.labels import (
    Passages,
    Runs,
    Spans,
    find_runs,
    passage_table,
    span_scores,
    tile_spans,
)
from dedup.core.minhash import permutations
from dedup.core.sets import gather, jaccard, unique_rows
from dedup.core.similar import similar_groups
from dedup.core.text import wrapped_words
from dedup.errors import DuplicateIdError

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


@dataclass(frozen=True)
class Blocks:
    """Every block of every document, sorted by (doc, start).

    `content[i]` indexes the distinct normalised contents; `cluster[i]` is the
    int64 key of the block's similarity cluster (the smallest content key in
    it); `score[i]` is the exact Jaccard similarity of the block's shingles to
    those of that smallest-key content, the cluster's representative.
    """

    doc: I64
    start: I64
    end: I64
    content: I64
    cluster: I64
    words: I64
    score: NDArray[np.float64]


@dataclass(frozen=True)
class Analysis:
    """Result of `analyze`. Documents are indexed 0..D-1 in sorted id order.

    `doc_group[d]` is the smallest document index of d's near-duplicate
    cluster (d itself when it has no near-duplicate); `doc_cluster_size[d]`
    is that cluster's size.
    """

    ids: list[str]
    texts: list[str]
    doc_len: I64
    blocks: Blocks
    n_contents: int
    doc_group: I64
    doc_cluster_size: I64
    runs: Runs
    spans: Spans
    span_score: NDArray[np.float64]
    passages: Passages
    groups: list[str]


def cluster_id(representative_id: str) -> int:
    """Stable int64 id of a near-duplicate cluster, from its representative's id."""
    return xxhash.xxh64_intdigest(representative_id.encode("utf-8")) - (1 << 63)


def _contents(blocks: BlockHashes) -> tuple[I64, I64, U32, I64]:
    """Distinct normalised blocks: (content of each block, key, shingle-set CSR).

    Each distinct content is hashed once and kept as a sorted set, however
    many documents repeat it.
    """
    keys, first, content = np.unique(blocks.key, return_index=True, return_inverse=True)
    values, offsets = unique_rows(*gather(blocks.hashes, blocks.offsets, first.astype(np.int64)))
    return content.astype(np.int64), keys.astype(np.int64), values, offsets


def analyze(ids: Sequence[str], texts: Sequence[str], cfg: ScanConfig) -> Analysis:
    """Label every character of every document as unique or boilerplate.

    Args:
        ids: distinct document ids; the result is sorted by id, so the input
            order never changes the output.
        texts: the documents, one string each.
        cfg: the scan configuration.

    Raises:
        DuplicateIdError: two documents share an id.
    """
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    sorted_ids = [ids[i] for i in order]
    for a, b in itertools.pairwise(sorted_ids):
        if a == b:
            raise DuplicateIdError(f"{a}: two documents have this id; ids must be distinct", a)
    sorted_texts = [texts[i] for i in order]
    doc_len = np.array([len(t) for t in sorted_texts], dtype=np.int64)

    blocks = hash_blocks(sorted_texts, cfg)
    doc, start, end = blocks.doc, blocks.start, blocks.end
    content, keys, values, offsets = _contents(blocks)
    words = np.diff(blocks.word_offsets)
    prose = _prose_words(sorted_texts, doc, start, end, words, cfg)
    perm_a, perm_b = permutations(cfg.num_perm, cfg.seed)
    sigs = signatures(values, offsets, perm_a, perm_b)

    bands, rows = cfg.passage_lsh
    group, _, _ = similar_groups(values, offsets, sigs, cfg.passage_threshold, bands, rows)
    representative = _representatives(group, keys)
    cluster = keys[representative][content] if len(content) else content
    content_score = np.ones(len(keys))
    differs = np.flatnonzero(representative != np.arange(len(keys)))
    content_score[differs] = jaccard(values, offsets, differs, representative[differs])

    doc_group = _near_duplicates(blocks, cluster, len(sorted_ids), cfg)
    cluster_size = np.bincount(doc_group, minlength=len(sorted_ids))[doc_group]
    groups = group_names(sorted_ids, cfg.group_by)
    user_group = None
    if cfg.group_by != "none":
        user_group = np.unique(np.array(groups, dtype=object), return_inverse=True)[1]
        user_group = user_group.astype(np.int64)

    runs = find_runs(doc, cluster, prose, doc_group, user_group, cfg)
    block_score = (
        np.where(runs.block_run >= 0, content_score[content], 0.0)
        if len(doc)
        else content_score[:0]
    )
    spans = tile_spans(doc, start, end, runs.span_run, doc_len)
    return Analysis(
        ids=sorted_ids,
        texts=sorted_texts,
        doc_len=doc_len,
        blocks=Blocks(doc, start, end, content, cluster, words, block_score),
        n_contents=len(keys),
        doc_group=doc_group,
        doc_cluster_size=cluster_size.astype(np.int64),
        runs=runs,
        spans=spans,
        span_score=span_scores(spans, doc, start, end, block_score),
        passages=passage_table(runs, doc),
        groups=groups,
    )


def _prose_words(
    texts: Sequence[str], doc: I64, start: I64, end: I64, words: I64, cfg: ScanConfig
) -> I64:
    """Words of the paragraph each block belongs to (hard-wrapped lines joined)."""
    if cfg.block_mode != "line" or not len(doc):
        return words
    out = np.empty_like(words)
    bounds = np.searchsorted(doc, np.arange(len(texts) + 1))
    for d, text in enumerate(texts):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        if hi > lo:
            out[lo:hi] = wrapped_words(text, start[lo:hi], end[lo:hi], words[lo:hi])
    return out


def _representatives(group: I64, keys: I64) -> I64:
    """For every content, the content with the smallest key in its group."""
    if not len(keys):
        return group
    order = np.lexsort((keys, group))
    heads = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    best = np.empty(int(group.max()) + 1, dtype=np.int64)
    best[group[order][heads]] = order[heads]
    result: I64 = best[group]
    return result


# Documents with less than 1/_MIN_OWN_SHARE of their words outside common
# passages are also compared whole.
_MIN_OWN_SHARE = 4


def _near_duplicates(blocks: BlockHashes, cluster: I64, n_docs: int, cfg: ScanConfig) -> I64:
    """Near-duplicate group of every document (smallest document index in it).

    Documents are compared on the word n-grams of their running text, across
    line breaks, so a re-wrapped copy still matches. Passages found in at
    least `prose_min_docs` documents (a site's template, a generated
    skeleton) are left out first: two copies of an article on two sites
    match on the article, and two pages of one template do not match on the
    template. Documents that are mostly such passages (generated code, where
    the skeleton is nearly everything) are also compared whole, among
    themselves. Documents without blocks stay alone.
    """
    doc = blocks.doc
    group = np.arange(n_docs, dtype=np.int64)
    if len(np.unique(doc)) < 2:
        return group
    pairs = np.unique(np.stack((cluster, doc)), axis=1)
    clusters, spread = np.unique(pairs[0], return_counts=True)
    common = np.isin(cluster, clusters[spread >= cfg.prose_min_docs])
    heads = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    bounds = np.append(heads, len(doc))
    word_offsets = blocks.word_offsets
    own_rows: list[U32] = []
    whole_rows: list[U32] = []
    owners: list[int] = []
    mostly_common: list[int] = []
    for d, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        whole = blocks.words[word_offsets[lo] : word_offsets[hi]]
        kept = np.flatnonzero(~common[lo:hi]) + lo
        own = gather(blocks.words, word_offsets, kept)[0] if len(kept) else whole[:0]
        if len(own):
            owners.append(d)
            own_rows.append(word_shingles(own, cfg.ngram))
        if len(own) * _MIN_OWN_SHARE < len(whole):
            mostly_common.append(d)
            whole_rows.append(word_shingles(whole, cfg.ngram))
    left_parts: list[I64] = []
    right_parts: list[I64] = []
    for members, rows in ((owners, own_rows), (mostly_common, whole_rows)):
        if len(members) < 2:
            continue
        index = np.array(members, dtype=np.int64)
        left, right = _similar_pairs(rows, cfg)
        left_parts.append(index[left])
        right_parts.append(index[right])
    with_blocks = doc[heads]
    if left_parts:
        local = components(
            len(with_blocks), np.concatenate(left_parts), np.concatenate(right_parts)
        )
        group[with_blocks] = with_blocks[local]
    return group


def _similar_pairs(rows: list[U32], cfg: ScanConfig) -> tuple[I64, I64]:
    """Verified pairs of document shingle sets at `doc_threshold`."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.concatenate(rows).astype(np.uint32)
    perm_a, perm_b = permutations(cfg.num_perm, cfg.seed)
    sigs = signatures(values, offsets, perm_a, perm_b)
    bands, band_rows = cfg.doc_lsh
    _, left, right = similar_groups(values, offsets, sigs, cfg.doc_threshold, bands, band_rows)
    return left, right
