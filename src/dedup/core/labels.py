"""From block clusters and document clusters to runs, passages and spans.

A block is a *candidate* when its cluster occurs in at least `min_docs`
documents, each near-duplicate cluster of documents counted once. Whether a
candidate is boilerplate depends on the evidence (`accept_blocks`): where it
repeats (inside one group, or across groups), whether it is prose, what run it
sits in, and whether it stands alone among unique blocks. Within a document,
consecutive boilerplate blocks that occur in the same set of document
clusters form a *run*; runs with the same sequence of block clusters are one
*passage* (a header, a donation appeal, a newsletter box). A multi-block run
whose exact sequence occurs in fewer than `min_docs` documents is split into
single-block runs, so every boilerplate span points to a passage that is
really shared.

All offsets are half-open code-point offsets into the document text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.fastops import run_ids, run_keys
from dedup.core.keyed import count_by_partitions, summarize_by_partitions
from dedup.core.lsh import GOLDEN, fmix64
from dedup.core.sorting import distinct, lexsort2

I64 = NDArray[np.int64]
I32 = NDArray[np.int32]
U64 = NDArray[np.uint64]
Bools = NDArray[np.bool_]


@dataclass(frozen=True)
class Runs:
    """Runs of repeated blocks. Blocks of run j are `first[j] .. first[j] + length[j] - 1`.

    `block_run[i]` is the run of block i, or -1 for a block that is not
    repeated. `span_run` is the same, but a short unique block absorbed
    between two boilerplate blocks carries the run before it: spans follow
    `span_run`, passages follow `block_run`. `passage[j]` is the passage key
    of run j and `doc_count[j]` the number of document clusters that share it.
    """

    block_run: I64
    span_run: I64
    first: I64
    length: I64
    passage: I64
    doc_count: I32


@dataclass(frozen=True)
class Spans:
    """Spans of all documents, sorted by (doc, start); they tile each document.

    `run` is the run behind a boilerplate span and -1 for a unique span.
    """

    doc: I64
    start: I64
    end: I64
    run: I64


@dataclass(frozen=True)
class Passages:
    """One row per passage, sorted by (-doc_count, passage); `run` is its first occurrence."""

    passage: I64
    doc_count: I32
    n_occurrences: I64
    n_documents: I64
    run: I64


def group_starts(*keys: NDArray[np.generic]) -> Bools:
    """True where any of the equally long key arrays differs from the previous element."""
    n = len(keys[0])
    first = np.zeros(n, dtype=bool)
    if n:
        first[0] = True
        for key in keys:
            first[1:] |= key[1:] != key[:-1]
    return first


def count_distinct(key: NDArray[np.integer], member: NDArray[np.integer]) -> tuple[I64, U64]:
    """Per element: distinct `member`s sharing its `key`, and an order-free hash of them.

    The hash is the wrapping sum of `fmix64(member + GOLDEN)` over the
    distinct members (members as 64-bit patterns), so equal sets get equal
    hashes whatever the order of the elements.
    """
    if not len(key):
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    return count_by_partitions(_as_int64(key), _as_int64(member))


def _as_int64(values: NDArray[np.integer]) -> I64:
    """Integers as int64 bit patterns (uint64 reinterpreted, narrower types widened)."""
    if values.dtype == np.uint64:
        return np.ascontiguousarray(values).view(np.int64)
    return np.ascontiguousarray(values, dtype=np.int64)


def _run_ids(doc: I64, repeated: Bools, support: U64, alone: Bools) -> I64:
    """Run id of every block, -1 where not repeated; `alone` blocks start their own run.

    The reference of `fastops.run_ids`, which `find_runs` calls; `core.check`
    calls this one on the blocks of one document.
    """
    new = repeated & (group_starts(doc, support, repeated) | alone)
    ids = np.cumsum(new, dtype=np.int64)
    ids -= 1
    ids[~repeated] = -1
    return ids


def _run_keys(block_run: I64, cluster: I64) -> tuple[I64, I64, I64]:
    """(first block, length, passage key) of every run.

    The key hashes the run's cluster sequence, position by position. The
    reference of `fastops.run_keys` (see `_run_ids`).
    """
    blocks = np.flatnonzero(block_run >= 0)
    if not len(blocks):
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    heads = np.flatnonzero(group_starts(block_run[blocks]))
    first = blocks[heads]
    length = np.diff(np.append(heads, len(blocks)))
    pos = (blocks - np.repeat(first, length)).astype(np.uint64)
    terms = fmix64(cluster[blocks].view(np.uint64) ^ fmix64((pos + np.uint64(1)) * GOLDEN))
    sums = np.add.reduceat(terms, heads)
    keys = fmix64(sums + length.astype(np.uint64) * GOLDEN).view(np.int64)
    return first, length, keys


def _distinct_per_group(group: I64, member: I64) -> I64:
    """Distinct `member`s of every group value 0..max(group)."""
    if not len(group):
        return np.zeros(0, np.int64)
    order = lexsort2(member, group)
    firsts = group_starts(group[order], member[order])
    return np.bincount(group[order][firsts], minlength=int(group.max()) + 1).astype(np.int64)


def accept_blocks(
    doc: I64,
    cluster: I64,
    words: I64,
    doc_group: I64,
    user_group: I64 | None,
    cfg: ScanConfig,
    near: I64 | None = None,
) -> tuple[Bools, I64, U64]:
    """Which blocks are boilerplate, with their document counts and supports.

    Args:
        doc: int64[B] document of each block; blocks sorted by (doc, start).
        cluster: int64[B] cluster key of each block.
        words: int64[B] normalised words of the paragraph holding each block
            (hard-wrapped lines joined; see `text.wrapped_words`).
        doc_group: int64[D] near-duplicate group of each document.
        user_group: int64[D] the user's group of each document (`--group-by`),
            or None when documents are not grouped.
        cfg: min_docs, prose_words, prose_min_docs, common_fraction.
        near: int64[B] `doc_group[doc]`, when the caller has it already (a
            second copy of 8 bytes a block is made otherwise).

    Returns:
        (accepted, count, support): bool[B]; int64[B] distinct near-duplicate
        groups holding the block's cluster; uint64[B] a hash of that set.

    The rules, each measured on labelled web and source corpora
    (benchmarks/RESULTS.md):
    - a candidate repeats in at least `min_docs` near-duplicate groups;
    - repetition inside one user group counts; across groups (or with no
      groups) a block counts when it is short (<= `prose_words` words) or
      repeats in at least `prose_min_docs` groups: a paragraph shared by two
      sites is a quote or a wire story, a short line shared by them is a menu
      item or a button;
    - a candidate that does not count alone counts when a neighbour in its
      run (consecutive candidates with the same support) does, prose only
      from `min_docs` + 1 groups;
    - a candidate standing alone among unique blocks, not first or last in
      its document, that occurs in at least `common_fraction` of the
      documents of its group (and in at least `prose_min_docs`) is
      structure (`return None`, `}`), not boilerplate.
    """
    if near is None:
        near = doc_group[doc]
    elif len(near) != len(doc):
        raise ValueError(f"{len(near)} near-duplicate groups for {len(doc)} blocks")
    count, local, support, group_size = block_counts(doc, cluster, near, doc_group, user_group)
    grouped = user_group is not None
    accepted = accept_counted(doc, count, local, support, words, grouped, group_size, cfg)
    return accepted, count, support


def local_keys(cluster: I64, users: I64) -> I64:
    """Key of each (cluster, user group) pair: what repetition inside a group counts by."""
    mixed = fmix64(cluster.view(np.uint64) ^ fmix64(users.astype(np.uint64) + GOLDEN))
    result: I64 = mixed.view(np.int64)
    return result


def block_counts(
    doc: I64, cluster: I64, near: I64, doc_group: I64, user_group: I64 | None
) -> tuple[I64, I64, U64, I64 | int]:
    """The counts `accept_counted` takes, for every block (arguments as `accept_blocks`).

    Returns (count, local, support, group_size): the distinct near-duplicate
    groups holding the block's cluster, those inside its user group
    (`count` when ungrouped), a hash of the first set, and the near-duplicate
    groups of the block's user group (one number for all when ungrouped).
    """
    count, support = count_distinct(cluster, near)
    if user_group is None:
        # One group: one size for every block.
        return count, count, support, len(distinct(doc_group))
    users = user_group[doc]
    local, _ = count_distinct(local_keys(cluster, users), near)
    group_size = _distinct_per_group(users, near)[users] if len(doc) else local
    return count, local, support, group_size


def accept_counted(
    doc: I64,
    count: I64,
    local: I64,
    support: U64,
    words: I64,
    grouped: bool,
    group_size: I64 | int,
    cfg: ScanConfig,
) -> Bools:
    """The evidence rules of `accept_blocks`, on counts known already.

    `count` is each block's distinct near-duplicate groups, `local` those
    inside its user group (`count` when ungrouped), `support` a hash of that
    set, `group_size` the near-duplicate groups of the block's user group.
    An index that labels one new document (`core.check`) gives its own counts.
    """
    candidate = count >= cfg.min_docs
    short = words <= cfg.prose_words
    ok = candidate & (short | (count >= cfg.prose_min_docs))
    if grouped:
        ok |= local >= cfg.min_docs

    run = run_ids(doc, candidate, support, np.zeros(len(doc), dtype=bool))
    if candidate.any():
        run_ok = np.zeros(int(run.max()) + 1, dtype=bool)
        run_ok[run[candidate & ok]] = True  # a run is ok when any of its blocks is
        accepted = candidate & run_ok[np.maximum(run, 0)]
        # Through its run, prose needs one document more than a short line:
        # two articles sharing a quote and a caption are not a template.
        accepted &= ok | short | (count > cfg.min_docs)
    else:
        accepted = candidate

    first = group_starts(doc) if len(doc) else np.zeros(0, dtype=bool)
    last = np.append(first[1:], True) if len(doc) else first
    prev_candidate = np.append(False, candidate[:-1]) & ~first if len(doc) else first
    next_candidate = np.append(candidate[1:], False) & ~last if len(doc) else first
    alone = candidate & ~prev_candidate & ~next_candidate & ~first & ~last
    common = local >= np.maximum(cfg.prose_min_docs, cfg.common_fraction * group_size)
    result: Bools = accepted & ~(alone & common)
    return result


def find_runs(
    doc: I64,
    cluster: I64,
    words: I64,
    doc_group: I64,
    user_group: I64 | None,
    cfg: ScanConfig,
) -> Runs:
    """Runs and passages of boilerplate blocks (arguments as `accept_blocks`)."""
    block_group = doc_group[doc]
    repeated, block_count, support = accept_blocks(
        doc, cluster, words, doc_group, user_group, cfg, block_group
    )
    block_run, first, length, keys = first_runs(doc, cluster, repeated, support)
    counts, _ = count_distinct(keys, block_group[first])
    return split_weak_runs(
        doc,
        cluster,
        words,
        repeated,
        support,
        block_count,
        (block_run, first, length, keys),
        counts,
        cfg,
    )


def first_runs(doc: I64, cluster: I64, repeated: Bools, support: U64) -> tuple[I64, I64, I64, I64]:
    """(block_run, first, length, key) of the runs of accepted blocks, before the weak split.

    Runs are numbered from 0 in block order; `first` indexes the blocks given.
    """
    block_run = run_ids(doc, repeated, support, np.zeros(len(doc), dtype=bool))
    first, length, keys = run_keys(block_run, cluster)
    return block_run, first, length, keys


def split_weak_runs(
    doc: I64,
    cluster: I64,
    words: I64,
    repeated: Bools,
    support: U64,
    block_count: I64,
    runs: tuple[I64, I64, I64, I64],
    counts: I64,
    cfg: ScanConfig,
) -> Runs:
    """The runs of `first_runs`, those shared too rarely split into their blocks.

    `counts[j]` is the distinct near-duplicate groups holding run j's key
    (over every document, not only these blocks'), read only for runs of
    two blocks or more; `block_count` is each block's count (from
    `accept_blocks`).
    """
    block_run, first, length, keys = runs
    weak = (counts < cfg.min_docs) & (length > 1)
    if weak.any():
        # A sequence shared too rarely falls apart into its (shared) blocks.
        alone = np.zeros(len(doc), dtype=bool)
        alone[np.flatnonzero(block_run >= 0)[np.repeat(weak, length)]] = True
        before, counted = block_run, counts
        block_run = run_ids(doc, repeated, support, alone)
        first, length, keys = run_keys(block_run, cluster)
        # No second count: a key's runs are weak all together (the count is
        # the key's), so a run of two blocks or more is one of before, with
        # every run of its key, and keeps its count; runs of one block take
        # their block's count below.
        counts = counted[before[first]]
        del before, counted  # the runs of before: a block array
    # A lone block is shared by every group that holds its cluster anywhere.
    counts = np.where(length == 1, block_count[first], counts)
    span_run = _absorb(doc, words, block_run, cfg.absorb_words)
    return Runs(block_run, span_run, first, length, keys, counts.astype(np.int32))


def _absorb(doc: I64, words: I64, block_run: I64, max_words: int) -> I64:
    """`block_run` with short unique blocks between two boilerplate blocks joined in."""
    span_run = block_run.copy()
    if max_words <= 0 or len(doc) < 3:
        return span_run
    inside = np.flatnonzero(
        (block_run[1:-1] < 0)
        & (words[1:-1] <= max_words)
        & (block_run[:-2] >= 0)
        & (block_run[2:] >= 0)
        & (doc[:-2] == doc[1:-1])
        & (doc[1:-1] == doc[2:])
    )
    span_run[inside + 1] = block_run[inside]
    return span_run


def span_scores(
    spans: Spans, doc: I64, start: I64, end: I64, block_score: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per span: the length-weighted mean score of its blocks (NaN for unique spans).

    Blocks are matched to the span that contains their start; absorbed blocks
    should carry score 0, so a span that absorbed unique text scores lower.
    """
    scores = np.full(len(spans.doc), np.nan)
    if not len(doc) or not len(spans.doc):
        return scores
    # (doc, start) packed into one sortable int64: both arrays are sorted by it.
    span_key = (spans.doc << np.int64(32)) + spans.start
    block_key = (doc << np.int64(32)) + start
    owner = np.searchsorted(span_key, block_key, side="right") - 1
    weight = (end - start).astype(np.float64)
    total = np.bincount(owner, weights=weight, minlength=len(spans.doc))
    scored = np.bincount(owner, weights=weight * block_score, minlength=len(spans.doc))
    boiler = spans.run >= 0
    scores[boiler] = scored[boiler] / np.maximum(total[boiler], 1.0)
    return scores


def tile_spans(doc: I64, start: I64, end: I64, block_run: I64, doc_len: I64) -> Spans:
    """Tile every document with unique spans and one boilerplate span per run.

    Blocks of one run merge into one span with the white space between them.
    White space whose neighbouring blocks are all boilerplate (a single
    neighbour at a document edge) joins the preceding run (the following one
    at the start of a document); other white space joins the unique text
    around it. An empty document gets no span.
    """
    n_docs, n_blocks = len(doc_len), len(doc)
    per_doc = np.bincount(doc, minlength=n_docs).astype(np.int64)
    upto = np.cumsum(per_doc)
    # Document d's pieces are: gap, block, gap, block, ..., gap (2k + 1 pieces).
    n_pieces = 2 * n_blocks + n_docs
    p_doc = np.empty(n_pieces, np.int64)
    p_start = np.empty(n_pieces, np.int64)
    p_end = np.empty(n_pieces, np.int64)
    p_run = np.empty(n_pieces, np.int64)

    blocks = np.arange(n_blocks, dtype=np.int64)
    at = 2 * blocks + doc + 1
    p_doc[at], p_start[at], p_end[at], p_run[at] = doc, start, end, block_run

    opens = group_starts(doc) if n_blocks else np.empty(0, bool)
    prev_end = np.where(opens, 0, np.roll(end, 1))
    prev_run = np.where(opens, -2, np.roll(block_run, 1))  # -2: document edge
    gap_run = np.where(prev_run == -2, block_run, np.where(prev_run >= 0, prev_run, -1))
    at = 2 * blocks + doc
    p_doc[at], p_start[at], p_end[at] = doc, prev_end, start
    p_run[at] = np.where(block_run >= 0, gap_run, -1)

    docs = np.arange(n_docs, dtype=np.int64)
    at = 2 * upto + docs
    has = per_doc > 0
    last = np.clip(upto - 1, 0, None)
    p_doc[at], p_end[at] = docs, doc_len
    if n_blocks:
        p_start[at] = np.where(has, end[last], 0)
        p_run[at] = np.where(has, block_run[last], -1)
    else:
        p_start[at], p_run[at] = 0, -1

    keep = p_end > p_start
    p_doc, p_start, p_end, p_run = p_doc[keep], p_start[keep], p_end[keep], p_run[keep]
    if not len(p_doc):
        return Spans(p_doc, p_start, p_end, p_run)
    heads = np.flatnonzero(group_starts(p_doc, p_run))
    tails = np.append(heads[1:], len(p_doc)) - 1
    return Spans(p_doc[heads], p_start[heads], p_end[tails], p_run[heads])


def passage_table(runs: Runs, doc: I64) -> Passages:
    """One row per passage key, its first occurrence by (document, position).

    Args:
        runs: from `find_runs`.
        doc: int64[B] document index of each block.
    """
    summary = passage_summary(runs.passage, doc[runs.first])
    return passages_of(summary, runs.doc_count)


def passage_summary(passage: I64, run_doc: I64) -> tuple[I64, I64, I64, I64]:
    """Per passage key of these runs: (key, occurrences, documents, first run).

    Runs are numbered in block order, and blocks are sorted by document: a
    key's first run is its first occurrence by (document, position).
    """
    # In one pass over hash partitions of the keys.
    return summarize_by_partitions(passage, run_doc)


def joined_summaries(
    parts: list[tuple[I64, I64, I64, I64]],
) -> tuple[I64, I64, I64, I64]:
    """`passage_summary` of consecutive ranges of documents, as one.

    Each part's first runs are numbered as the whole numbers its runs; the
    ranges share no document, so their documents add up.
    """
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    keys, occurrences, documents, first = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = lexsort2(first, keys)
    keys, occurrences, documents, first = (a[order] for a in (keys, occurrences, documents, first))
    heads = np.flatnonzero(group_starts(keys)) if len(keys) else np.zeros(0, np.int64)
    return (
        keys[heads],
        np.add.reduceat(occurrences, heads) if len(heads) else occurrences,
        np.add.reduceat(documents, heads) if len(heads) else documents,
        first[heads],
    )


def passages_of(summary: tuple[I64, I64, I64, I64], doc_count: I32) -> Passages:
    """The passage table of a `passage_summary` of runs whose counts are `doc_count`."""
    keys, occurrences, n_documents, rep = summary
    counts = doc_count[rep]
    final = np.lexsort((keys, -counts.astype(np.int64)))
    return Passages(
        passage=keys[final],
        doc_count=counts[final],
        n_occurrences=occurrences[final],
        n_documents=n_documents[final],
        run=rep[final],
    )
