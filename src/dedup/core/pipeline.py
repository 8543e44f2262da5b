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
from dedup.core.labels import Passages, Runs, Spans, find_runs, passage_table, tile_spans
from dedup.core.minhash import permutations, signatures
from dedup.core.sets import gather, unique_rows
from dedup.core.shingles import content_key, shingle_set
from dedup.core.similar import similar_groups
from dedup.core.text import split_blocks, tokens
from dedup.errors import DuplicateIdError

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


@dataclass(frozen=True)
class Blocks:
    """Every block of every document, sorted by (doc, start).

    `content[i]` indexes the distinct normalised contents; `cluster[i]` is the
    int64 key of the block's similarity cluster (the smallest content key in it).
    """

    doc: I64
    start: I64
    end: I64
    content: I64
    cluster: I64


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
    passages: Passages


def cluster_id(representative_id: str) -> int:
    """Stable int64 id of a near-duplicate cluster, from its representative's id."""
    return xxhash.xxh64_intdigest(representative_id.encode("utf-8")) - (1 << 63)


def _blocks_and_contents(
    texts: Sequence[str], cfg: ScanConfig
) -> tuple[I64, I64, I64, I64, list[int], list[U32]]:
    """Split, normalise and shingle; each distinct normalised block is shingled once."""
    doc_ids: list[I64] = []
    starts: list[I64] = []
    ends: list[I64] = []
    contents: list[int] = []
    index: dict[int, int] = {}
    keys: list[int] = []
    sets: list[U32] = []
    for d, text in enumerate(texts):
        s, e = split_blocks(text, cfg.block_mode)
        doc_ids.append(np.full(len(s), d, dtype=np.int64))
        starts.append(s)
        ends.append(e)
        for a, b in zip(s.tolist(), e.tolist(), strict=True):
            words = tokens(text[a:b], cfg.normalize)
            key = content_key(words)
            found = index.get(key)
            if found is None:
                found = index[key] = len(keys)
                keys.append(key)
                sets.append(shingle_set(words, cfg.ngram))
            contents.append(found)
    empty = np.empty(0, dtype=np.int64)
    return (
        np.concatenate(doc_ids) if doc_ids else empty,
        np.concatenate(starts) if starts else empty,
        np.concatenate(ends) if ends else empty,
        np.array(contents, dtype=np.int64),
        keys,
        sets,
    )


def _csr(rows: list[U32]) -> tuple[U32, I64]:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.concatenate(rows) if rows else np.empty(0, dtype=np.uint32)
    return values.astype(np.uint32), offsets


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

    doc, start, end, content, key_list, sets = _blocks_and_contents(sorted_texts, cfg)
    keys = np.array(key_list, dtype=np.int64)
    values, offsets = _csr(sets)
    perm_a, perm_b = permutations(cfg.num_perm, cfg.seed)
    sigs = signatures(values, offsets, perm_a, perm_b)

    bands, rows = cfg.passage_lsh
    group, _, _ = similar_groups(values, offsets, sigs, cfg.passage_threshold, bands, rows)
    smallest_key = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest_key, group, keys)
    cluster = smallest_key[group][content] if len(content) else content

    doc_group = _near_duplicates(doc, content, values, offsets, sigs, len(sorted_ids), cfg)
    cluster_size = np.bincount(doc_group, minlength=len(sorted_ids))[doc_group]

    runs = find_runs(doc, cluster, doc_group, cfg.min_docs)
    return Analysis(
        ids=sorted_ids,
        texts=sorted_texts,
        doc_len=doc_len,
        blocks=Blocks(doc, start, end, content, cluster),
        n_contents=len(keys),
        doc_group=doc_group,
        doc_cluster_size=cluster_size.astype(np.int64),
        runs=runs,
        spans=tile_spans(doc, start, end, runs.block_run, doc_len),
        passages=passage_table(runs, doc),
    )


def _near_duplicates(
    doc: I64, content: I64, values: U32, offsets: I64, sigs: U32, n_docs: int, cfg: ScanConfig
) -> I64:
    """Near-duplicate group of every document (smallest document index in it).

    A document's shingle set is the union of its blocks' sets, and its
    signature the element-wise minimum of theirs (MinHash of a union).
    Documents without blocks stay alone.
    """
    group = np.arange(n_docs, dtype=np.int64)
    with_blocks = np.unique(doc)
    if len(with_blocks) < 2:
        return group
    heads = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    doc_sigs = np.minimum.reduceat(sigs[content], heads, axis=0)
    block_vals, block_offs = gather(values, offsets, content)
    doc_offs = np.append(block_offs[heads], block_offs[-1])
    doc_vals, doc_offs = unique_rows(block_vals, doc_offs)
    bands, rows = cfg.doc_lsh
    local, _, _ = similar_groups(doc_vals, doc_offs, doc_sigs, cfg.doc_threshold, bands, rows)
    group[with_blocks] = with_blocks[local]
    return group
