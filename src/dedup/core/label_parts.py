"""`pipeline.label`, one range of documents at a time, with the same result.

The labelling is a sequence of steps per document separated by counts over
the whole corpus (`docs/ray.md`, "Distributing the labelling"). Here every
such count is made in a pass over the ranges of documents: each range gives
its distinct (key, member) pairs, and the pairs of all ranges make a table
(`core.key_tables`) that the next pass looks its blocks up in. Between passes
a range's block columns are handed to a `Parts` store, so a runner that
keeps them on disk holds one range's blocks and the tables at a time.

The passes, in order (each runs over every range):

1. clusters and scores of the blocks; documents per cluster;
2. the documents' word-shingle sets (then the near-duplicate groups, over
   documents);
3. near-duplicate groups per cluster (and per cluster and user group);
4. runs, then near-duplicate groups per run key;
5. runs split where too rarely shared; the variant targets;
6. variant lines joined; the word n-grams of the edge blocks counted;
7. glued passages cut;
8. - 10. passes 3 - 5 again over the cut blocks (without the targets);
11. spans, span scores and the passages of each range.

Ranges are consecutive, in document order, and cover every document; a
range may hold no block. The result is `label`'s, array for array
(`tests/test_label_parts.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes
from dedup.core.edges import (
    VariantIndex,
    VariantTargets,
    edge_blocks,
    glued_cuts,
    glued_runs_counted,
    join_variants_to,
    joined_targets,
    split_glued,
    variant_targets,
    word_grams,
)
from dedup.core.fastops import gather, span_scores, tile_spans
from dedup.core.groups import group_names
from dedup.core.key_tables import KeyCounts, distinct_pairs, pair_counts, summed
from dedup.core.keyed import summarize_by_partitions
from dedup.core.labels import (
    Runs,
    Spans,
    accept_counted,
    first_runs,
    joined_summaries,
    local_keys,
    passage_summary,
    passages_of,
    split_weak_runs,
)
from dedup.core.near_duplicates import (
    DocumentSets,
    joined_sets,
    near_duplicate_groups,
    sets_of_documents,
)
from dedup.core.pipeline import Analysis, Blocks, Contents, Stash, in_memory, substrings
from dedup.core.sorting import distinct
from dedup.core.text import wrapped_words

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Columns = dict[str, NDArray[Any]]
Out = TypeVar("Out")

# The columns a range starts with (`parts_of`): those of `BlockHashes` that
# the labelling reads, and each block's distinct content.
INPUT_COLUMNS = (
    "doc",
    "start",
    "end",
    "words",
    "word_offsets",
    "first_char",
    "last_char",
    "content",
)


@dataclass(frozen=True)
class Part:
    """The blocks of documents `lo` to `hi` - 1, as named columns.

    Documents are numbered as in the whole corpus; a range's CSR columns
    (`words`, `word_offsets`) are its own (offsets from 0).
    """

    lo: int
    hi: int
    columns: Columns

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.columns[name]

    def with_columns(self, drop: Sequence[str] = (), **columns: NDArray[Any]) -> Part:
        """This range with columns added or replaced, and `drop` removed."""
        kept = {k: v for k, v in self.columns.items() if k not in drop}
        return replace(self, columns=kept | columns)


class Parts(Protocol):
    """Where the ranges wait between passes: a list in memory, or files.

    `load(i)` gives back what `save(i, part)` was given last (equal column
    for column); a store may keep the columns anywhere meanwhile.
    """

    def __len__(self) -> int: ...

    def load(self, index: int) -> Part: ...

    def save(self, index: int, part: Part) -> None: ...


class PartsInMemory:
    """`Parts` kept as they are, in a list."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self._parts = list(parts)

    def __len__(self) -> int:
        return len(self._parts)

    def load(self, index: int) -> Part:
        return self._parts[index]

    def save(self, index: int, part: Part) -> None:
        self._parts[index] = part


def parts_of(blocks: BlockHashes, content: I64, bounds: Sequence[int]) -> list[Part]:
    """The blocks of documents cut at `bounds` (0 = b0 <= b1 <= ... = number of documents)."""
    at = np.searchsorted(blocks.doc, np.asarray(bounds, dtype=np.int64)).tolist()
    parts = []
    for (lo, hi), (a, b) in zip(itertools.pairwise(bounds), itertools.pairwise(at), strict=True):
        words, word_offsets = gather(blocks.words, blocks.word_offsets, np.arange(a, b))
        columns: Columns = {
            "doc": blocks.doc[a:b],
            "start": blocks.start[a:b],
            "end": blocks.end[a:b],
            "words": words,
            "word_offsets": word_offsets,
            "first_char": blocks.first_char[a:b],
            "last_char": blocks.last_char[a:b],
            "content": content[a:b],
        }
        parts.append(Part(int(lo), int(hi), columns))
    return parts


def _each(parts: Parts, step: Callable[[Part], tuple[Part, Out]]) -> list[Out]:
    """`step` applied to every range in turn, each saved before the next is loaded.

    Returns what `step` gave besides each range, in range order.
    """
    found = []
    for i in range(len(parts)):
        part, out = step(parts.load(i))
        parts.save(i, part)
        found.append(out)
    return found


def label_parts(
    ids: list[str],
    texts: Sequence[str],
    parts: Parts,
    content_cluster: I64,
    content_score: F64,
    cfg: ScanConfig,
    group_values: Sequence[str | None] | None = None,
    content_keys: I64 | None = None,
    keep_document_sets: bool = False,
    doc_len: I64 | None = None,
    stash: Stash = in_memory,
) -> Analysis:
    """`pipeline.label` of blocks given as ranges of documents (`parts_of`).

    Arguments as `label`, but for `parts`, whose ranges are rewritten
    pass by pass (they end holding the result's block columns).
    """
    n_docs = len(ids)
    if doc_len is None:
        doc_len = np.array([len(t) for t in texts], dtype=np.int64)
    elif len(doc_len) != n_docs:
        raise ValueError(f"{len(doc_len)} text lengths for {n_docs} documents")

    # 1. - 2. The documents' sets, then their near-duplicate groups.
    spread = summed(_each(parts, partial(_clusters, cfg, content_cluster, content_score)))
    sets = joined_sets([_sets(cfg, spread, parts.load(i)) for i in range(len(parts))])
    del spread
    doc_group = near_duplicate_groups(sets, n_docs, cfg)
    kept_sets = stash(sets) if keep_document_sets else None
    del sets
    groups = group_names(ids, cfg.group_by, group_values)
    user_group = None
    if groups is not None:
        user_group = np.unique(np.array(groups, dtype=object), return_inverse=True)[1]
        user_group = user_group.astype(np.int64)
    scope = user_group if user_group is not None else np.zeros(n_docs, np.int64)

    # 3. - 5. Runs, and the targets of variant lines.
    found = _runs_in_parts(parts, doc_group, user_group, cfg, partial(_targets, cfg, scope))
    targets = joined_targets([t for t in found if t is not None])
    index = (
        VariantIndex.of(targets.rows, cfg.variant_threshold, cfg.num_perm, cfg.seed)
        if len(targets.content)
        else None
    )

    # 6. - 7. Variant lines joined; the n-grams of the edge blocks counted,
    # then the glued passages cut.
    joining = partial(_join, cfg, targets, index, content_cluster, scope, doc_group)
    gram_counts = pair_counts([g for g in _each(parts, joining) if g is not None])
    del targets, index, joining
    _each(parts, partial(_cut, cfg, texts, scope, gram_counts))
    del gram_counts

    # 8. - 10. Runs again, over the cut blocks.
    _runs_in_parts(parts, doc_group, user_group, cfg, None)

    # 11. Spans, scores and passages, numbered as the whole numbers them.
    whole, summaries = _finish(parts, doc_len)
    runs = Runs(
        whole["block_run"],
        whole["span_run"],
        whole["first"],
        whole["length"],
        whole["passage"],
        whole["doc_count"].astype(np.int32),
    )
    cluster_size = np.bincount(doc_group, minlength=n_docs)[doc_group]
    return Analysis(
        ids=ids,
        texts=texts,
        doc_len=doc_len,
        blocks=Blocks(
            whole["doc"],
            whole["start"],
            whole["end"],
            whole["content"],
            whole["cluster"],
            whole["n_words"],
            whole["block_score"],
        ),
        n_contents=len(content_cluster),
        doc_group=doc_group,
        doc_cluster_size=cluster_size.astype(np.int64),
        runs=runs,
        spans=Spans(whole["span_doc"], whole["span_start"], whole["span_end"], whole["span_of"]),
        span_score=whole["span_score"],
        passages=passages_of(joined_summaries(summaries), runs.doc_count),
        groups=groups,
        contents=Contents(
            content_keys if content_keys is not None else np.empty(0, np.int64),
            content_cluster if content_keys is not None else np.empty(0, np.int64),
            content_score if content_keys is not None else np.empty(0),
        ),
        document_sets=kept_sets,
    )


def _clusters(
    cfg: ScanConfig, content_cluster: I64, content_score: F64, part: Part
) -> tuple[Part, tuple[I64, I64]]:
    """Pass 1: each block's cluster, score, words and prose words; documents per cluster."""
    doc, content = part["doc"], part["content"]
    words = np.diff(part["word_offsets"])
    prose = (
        wrapped_words(doc, words, part["first_char"], part["last_char"])
        if cfg.block_mode == "line"
        else words
    )
    cluster = content_cluster[content] if len(content) else content
    match = content_score[content] if len(content) else content_score[:0]
    # The ranges share no document: their counts of documents add up.
    keys, _, documents, _ = summarize_by_partitions(cluster, doc)
    columns = {"n_words": words, "prose": prose, "cluster": cluster, "match": match}
    return part.with_columns(("first_char", "last_char"), **columns), (keys, documents)


def _sets(cfg: ScanConfig, spread: KeyCounts, part: Part) -> DocumentSets:
    """Pass 2: the sets of the range's documents."""
    block_spread = spread.counts_of(part["cluster"])
    words, offsets = part["words"], part["word_offsets"]
    return sets_of_documents(part["doc"], words, offsets, block_spread, part.lo, part.hi, cfg)


def _targets(cfg: ScanConfig, scope: I64, part: Part) -> VariantTargets:
    """After pass 5: the variant targets of the range."""
    word_csr = (part["words"], part["word_offsets"])
    return variant_targets(
        part["doc"], word_csr, part["n_words"], part["content"], part["block_run"], scope, cfg
    )


def _join(
    cfg: ScanConfig,
    targets: VariantTargets,
    index: VariantIndex | None,
    content_cluster: I64,
    scope: I64,
    doc_group: I64,
    part: Part,
) -> tuple[Part, tuple[I64, I64] | None]:
    """Pass 6: variant lines joined; the distinct (n-gram, group) pairs of the edge blocks."""
    doc, cluster = part["doc"], part["cluster"]
    word_csr = (part["words"], part["word_offsets"])
    joined, match = join_variants_to(
        targets,
        index,
        doc,
        word_csr,
        part["n_words"],
        part["content"],
        content_cluster,
        cluster,
        part["match"],
        part["span_run"],
        scope,
        cfg,
    )
    # Glued passages are looked for at the same edges, less the lines that
    # just joined the template (as `label` does).
    edges = edge_blocks(doc, part["span_run"] >= 0)
    edges = edges[joined[edges] == cluster[edges]]
    grams = word_grams(gather(*word_csr, edges), scope[doc[edges]], cfg)
    pairs = None
    if grams is not None:
        pairs = distinct_pairs(grams.key, doc_group[doc[edges]][grams.row])
    return part.with_columns(_RUN_COLUMNS, cluster=joined, match=match, edges=edges), pairs


# The block columns that the cuts rewrite, in `split_glued`'s order.
_CUT_COLUMNS = ("doc", "start", "end", "content", "cluster", "n_words", "prose", "match")


def _cut(
    cfg: ScanConfig, texts: Sequence[str], scope: I64, gram_counts: KeyCounts, part: Part
) -> tuple[Part, None]:
    """Pass 7: glued passages cut out of their blocks (the word hashes go)."""
    doc, start, end, edges = part["doc"], part["start"], part["end"], part["edges"]
    columns = {name: part[name] for name in _CUT_COLUMNS}
    word_csr = gather(part["words"], part["word_offsets"], edges)
    grams = word_grams(word_csr, scope[doc[edges]], cfg)
    if grams is None:
        return Part(part.lo, part.hi, columns), None
    glued = glued_runs_counted(word_csr, grams, gram_counts.counts_of(grams.key), cfg)
    blocks = edges[glued.block]
    # Each text read once for all its cut blocks (texts may be read from disk).
    block_texts = substrings(texts, doc[blocks], start[blocks], end[blocks])
    cuts = glued_cuts(block_texts, glued, part["n_words"][blocks])
    if len(cuts.block):
        text_of = dict(zip(glued.block.tolist(), block_texts, strict=True))
        split = split_glued(
            [text_of[b] for b in cuts.block.tolist()],
            edges,
            cuts,
            *(columns[name] for name in _CUT_COLUMNS),
        )
        columns = dict(zip(_CUT_COLUMNS, split, strict=True))
    return Part(part.lo, part.hi, columns), None


def _finish(parts: Parts, doc_len: I64) -> tuple[Columns, list[tuple[I64, I64, I64, I64]]]:
    """Pass 11: every range's result columns, joined; the passage summary of each range."""
    run_base = block_base = 0
    summaries = []
    pieces: dict[str, list[NDArray[Any]]] = {}
    for i in range(len(parts)):
        part = parts.load(i)
        doc, start, end, match = part["doc"], part["start"], part["end"], part["match"]
        block_run = np.where(part["block_run"] >= 0, part["block_run"] + run_base, -1)
        span_run = np.where(part["span_run"] >= 0, part["span_run"] + run_base, -1)
        block_score = np.where(block_run >= 0, match, 0.0) if len(doc) else match
        local = doc - part.lo
        spans = Spans(*tile_spans(local, start, end, span_run, doc_len[part.lo : part.hi]))
        scores = span_scores(spans.doc, spans.start, spans.run, local, start, end, block_score)
        keys, occurrences, documents, rep = passage_summary(part["passage"], doc[part["first"]])
        summaries.append((keys, occurrences, documents, rep + run_base))
        columns = {
            "doc": doc,
            "start": start,
            "end": end,
            "content": part["content"],
            "cluster": part["cluster"],
            "n_words": part["n_words"],
            "block_score": block_score,
            "block_run": block_run,
            "span_run": span_run,
            "first": part["first"] + block_base,
            "length": part["length"],
            "passage": part["passage"],
            "doc_count": part["doc_count"],
            "span_doc": spans.doc + part.lo,
            "span_start": spans.start,
            "span_end": spans.end,
            "span_of": spans.run,
            "span_score": scores,
        }
        for name, column in columns.items():
            pieces.setdefault(name, []).append(column)
        run_base += len(part["first"])
        block_base += len(doc)
    return {name: np.concatenate(columns) for name, columns in pieces.items()}, summaries


# What one pass of runs leaves in a range (the next pass of runs replaces them).
_RUN_COLUMNS = ("block_run", "span_run", "first", "length", "passage", "doc_count")


def _runs_in_parts(
    parts: Parts,
    doc_group: I64,
    user_group: I64 | None,
    cfg: ScanConfig,
    also: Callable[[Part], Out] | None,
) -> list[Out | None]:
    """`labels.find_runs` over the ranges: each ends with its runs, numbered from 0.

    Three passes: the near-duplicate groups per cluster, the runs and the
    groups per run key, then the weak split. `also` is called with each
    range as the last pass leaves it; what it returns is returned, in range
    order.
    """
    cluster_pairs: list[tuple[I64, I64]] = []
    local_pairs: list[tuple[I64, I64]] = []
    user_pairs: list[tuple[I64, I64]] = []
    for i in range(len(parts)):
        part = parts.load(i)
        doc, cluster = part["doc"], part["cluster"]
        near = doc_group[doc]
        cluster_pairs.append(distinct_pairs(cluster, near))
        if user_group is not None:
            users = user_group[doc]
            local_pairs.append(distinct_pairs(local_keys(cluster, users), near))
            user_pairs.append(distinct_pairs(users, near))
    counts = pair_counts(cluster_pairs)
    tables = _GroupCounts(
        counts,
        pair_counts(local_pairs) if user_group is not None else counts,
        pair_counts(user_pairs),
        len(distinct(doc_group)),
    )
    del cluster_pairs, local_pairs, user_pairs, counts
    key_pairs = _each(parts, partial(_accept, cfg, tables, doc_group, user_group))
    del tables
    key_counts = pair_counts(key_pairs)
    del key_pairs
    return _each(parts, partial(_split_weak, cfg, key_counts, also))


@dataclass(frozen=True)
class _GroupCounts:
    """The near-duplicate groups per cluster, per (cluster, user group) and per user group."""

    cluster: KeyCounts
    local: KeyCounts
    user: KeyCounts
    one_size: int  # of the one group when documents are not grouped


def _accept(
    cfg: ScanConfig, tables: _GroupCounts, doc_group: I64, user_group: I64 | None, part: Part
) -> tuple[Part, tuple[I64, I64]]:
    """The accepted blocks and their first runs; the distinct (run key, group) pairs."""
    doc, cluster = part["doc"], part["cluster"]
    block_count, support = tables.cluster.look_up(cluster)
    group_size: I64 | int = tables.one_size
    local = block_count
    if user_group is not None:
        users = user_group[doc]
        local = tables.local.counts_of(local_keys(cluster, users))
        group_size = tables.user.counts_of(users)
    grouped = user_group is not None
    repeated = accept_counted(
        doc, block_count, local, support, part["prose"], grouped, group_size, cfg
    )
    block_run, first, length, keys = first_runs(doc, cluster, repeated, support)
    columns = {
        "repeated": repeated,
        "support": support,
        "block_count": block_count,
        "block_run": block_run,
        "first": first,
        "length": length,
        "passage": keys,
    }
    return part.with_columns((), **columns), distinct_pairs(keys, doc_group[doc[first]])


def _split_weak(
    cfg: ScanConfig, key_counts: KeyCounts, also: Callable[[Part], Out] | None, part: Part
) -> tuple[Part, Out | None]:
    """The runs of the range, those too rarely shared split (`labels.split_weak_runs`)."""
    first_pass = (part["block_run"], part["first"], part["length"], part["passage"])
    runs = split_weak_runs(
        part["doc"],
        part["cluster"],
        part["prose"],
        part["repeated"],
        part["support"],
        part["block_count"],
        first_pass,
        key_counts.counts_of(part["passage"]),
        cfg,
    )
    part = part.with_columns(
        ("repeated", "support", "block_count"),
        block_run=runs.block_run,
        span_run=runs.span_run,
        first=runs.first,
        length=runs.length,
        passage=runs.passage,
        doc_count=runs.doc_count,
    )
    return part, (also(part) if also is not None else None)
