"""`pipeline.label`, one range of documents at a time, with the same result.

The labelling is a sequence of steps per document separated by counts over
the whole corpus (`docs/ray.md`, "Distributing the labelling"). Here every
such count is made in a pass over the ranges of documents: each range gives
its distinct (key, member) pairs, and the pairs of all ranges make a table
(`core.key_tables`) that the next pass looks its blocks up in. Between passes
a range's block columns are handed to a `Parts` store, so a runner that
keeps them on disk holds one range's blocks and the tables at a time; a
store that keeps them elsewhere runs each pass where they are
(`SteppedParts`: the Ray engine's tasks) and makes the tables there too
(`_apply`): this process then holds per-document arrays, not the pairs
nor the tables, nor the per-content arrays when it is given them as the
store's handles (`label_parts`).

The passes, in order (each runs over every range):

1. clusters and scores of the blocks; documents per cluster;
2. the documents' word-shingle sets (then the near-duplicate groups, over
   documents);
3. near-duplicate groups per cluster (and per cluster and user group);
4. runs, then near-duplicate groups per run key;
5. runs split where too rarely shared; the variant targets and query
   lines (each distinct query line is then looked up once, for all ranges);
6. variant lines joined; the word n-grams of the edge blocks counted;
7. glued passages cut;
8. - 10. passes 3 - 5 again over the cut blocks (without the targets);
11. spans, span scores and the passages of each range.

Ranges are consecutive, in document order, and cover every document; a
range may hold no block. The result is `label`'s, array for array
(`tests/test_label_parts.py`). Runners label in ranges above `RANGES_ABOVE`
blocks (`in_ranges`): below, writing the ranges' columns to files costs
more time than the memory it saves.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes
from dedup.core.edges import (
    QueryRows,
    VariantIndex,
    VariantPairs,
    VariantTargets,
    edge_blocks,
    glued_cuts,
    glued_runs_counted,
    join_found,
    joined_targets,
    split_glued_carrying,
    variant_queries,
    variant_targets,
    word_grams,
)
from dedup.core.fastops import gather, span_scores, tile_spans
from dedup.core.key_tables import (
    KeyCounts,
    dense_pair_counts,
    distinct_dense_pairs,
    distinct_pairs,
    pair_counts,
    table_rows,
)
from dedup.core.labels import (
    Passages,
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
from dedup.core.pipeline import (
    Analysis,
    Blocks,
    Contents,
    SpanRows,
    Stash,
    in_memory,
    substrings,
    user_groups,
)
from dedup.core.sorting import dense_ranks, distinct
from dedup.core.text import wrapped_words
from dedup.core.threads import map_steps_in_threads

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
Columns = dict[str, NDArray[Any]]
Out = TypeVar("Out")
R = TypeVar("R")

_EMPTY = np.empty(0, np.int64)

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


# The columns of a range that carries its documents' texts (`SteppedParts`):
# their UTF-8 bytes (lone surrogates as `surrogatepass`), one after the
# other, and where each document's start (hi - lo + 1 offsets, from 0).
TEXT_COLUMNS = ("text_utf8", "text_at")


class RangeTexts(Sequence[str]):
    """The texts a range carries, looked up by document number (`lo` to `hi` - 1)."""

    def __init__(self, lo: int, utf8: NDArray[np.uint8], at: I64) -> None:
        self.lo = lo
        self._utf8 = utf8
        self._at = at

    @classmethod
    def of(cls, part: Part) -> RangeTexts:
        return cls(part.lo, part["text_utf8"], part["text_at"])

    def __len__(self) -> int:
        return self.lo + len(self._at) - 1

    def __getitem__(self, doc: int) -> str:  # type: ignore[override]
        if not self.lo <= doc < len(self):
            raise IndexError(f"document {doc} is not in the range {self.lo}-{len(self) - 1}")
        i = doc - self.lo
        utf8 = self._utf8[self._at[i] : self._at[i + 1]].tobytes()
        return utf8.decode("utf-8", "surrogatepass")


class Parts(Protocol):
    """Where the ranges wait between passes: a list in memory, or files.

    `load(i)` gives back what `save(i, part)` was given last (equal column
    for column); a store may keep the columns anywhere meanwhile. Saving
    range `len(parts)` adds a range.
    """

    def __len__(self) -> int: ...

    def load(self, index: int) -> Part: ...

    def save(self, index: int, part: Part) -> None: ...


# A step of a pass: a range in, the range as the pass leaves it (None:
# unchanged) and what the pass gathers of it.
Step = Callable[[Part], tuple[Part | None, Out]]
# Near-duplicate groups of `n` documents from the ranges and the step that
# makes each range's sets (`label_parts(near_duplicates=...)`).
NearDuplicates = Callable[["Parts", Step[DocumentSets], int], I64]


@runtime_checkable
class SteppedParts(Parts, Protocol):
    """A `Parts` store that runs each pass's steps itself, where its ranges are.

    Its ranges live away from this process (the Ray engine keeps them in
    the cluster's object store): a step is sent to them, not they to it, and
    this process receives only what the step gathers. The steps then cannot
    read the texts the labelling was given, so such a store's ranges carry
    their documents' texts (`TEXT_COLUMNS`) until the glued cuts, the one
    pass that reads them.
    """

    def each(self, step: Step[Out]) -> list[Out]:
        """What `step` gathers of every range, in range order; each range saved as stepped."""
        ...

    def each_held(self, step: Step[Out]) -> list[Any]:
        """`each`, what the step gathers left where the ranges are: a handle per range."""
        ...

    def apply(self, fn: Callable[..., R], *args: Any) -> Any:
        """`fn(*args)` run where the ranges are; a handle to what it returns.

        Handles among `args` (of `each_held` or `apply`) stand for what
        they hold. A handle may also be an argument of a later pass's step
        (a `functools.partial` argument): the step is given what it holds.
        So a table made from what the ranges gather (the counts of a pass,
        the variant lines' pairs) is made and read where the ranges are,
        never in this process.
        """
        ...


class PartsInMemory:
    """`Parts` kept as they are, in a list."""

    def __init__(self, parts: Sequence[Part] = ()) -> None:
        self._parts = list(parts)

    def __len__(self) -> int:
        return len(self._parts)

    def load(self, index: int) -> Part:
        return self._parts[index]

    def save(self, index: int, part: Part) -> None:
        if index == len(self._parts):
            self._parts.append(part)
        else:
            self._parts[index] = part


# Blocks of a range, about (whole documents): 1 M blocks are 45 MB of text in
# the 406 MB benchmark corpus, and their columns about 0.3 GB at the peak.
RANGE_BLOCKS = 1 << 20
# Blocks (or lines, before hashing) above which a runner works in ranges when
# not told. On the 406 MB benchmark corpus (11.7 M lines, 9.1 M blocks) a
# scan in ranges of 1 M lines took 50-52 s against 47-49 s at once with 1
# worker, at 1.47-1.49 GB peak against 2.28-2.32 GB (session 16): below a
# few million lines, where the peak is small anyway, at once is quicker.
RANGES_ABOVE = 1 << 22


def in_ranges(n_blocks: int, range_blocks: int | None) -> int | None:
    """Blocks per range to label `n_blocks` blocks in, or None to label them at once.

    `range_blocks` is a runner's setting: None for the default (ranges of
    `RANGE_BLOCKS` above `RANGES_ABOVE` blocks), else ranges of that many
    blocks whenever there are more. The embedded runner decides before
    hashing, on the documents' lines, which bound their line blocks.
    """
    if range_blocks is None:
        return RANGE_BLOCKS if n_blocks > RANGES_ABOVE else None
    return range_blocks if n_blocks > range_blocks else None


def range_bounds(doc: I64, n_docs: int, per_range: int = RANGE_BLOCKS) -> list[int]:
    """Cuts 0 = c0 < c1 < ... = n_docs into ranges of about `per_range` blocks.

    `doc` is each block's document, ascending. A range ends at the first
    document to start at or past each multiple of `per_range` blocks, so
    a document with more blocks than that has a range of its own.
    """
    return cuts_at(np.searchsorted(doc, np.arange(n_docs + 1)), per_range)


def cuts_at(starts: I64, per_range: int) -> list[int]:
    """Range cuts of documents whose items start at `starts` (int64[n + 1], ascending, from 0).

    A range ends at the first document to start at or past each multiple
    of `per_range` items (blocks, lines).
    """
    if per_range < 1:
        raise ValueError(f"per_range must be at least 1, got {per_range}")
    cuts = np.searchsorted(starts, np.arange(per_range, int(starts[-1]), per_range))
    return sorted({0, len(starts) - 1, *cuts.tolist()})


def parts_of(blocks: BlockHashes, content: I64, bounds: Sequence[int]) -> list[Part]:
    """The blocks of documents cut at `bounds` (0 = b0 <= b1 <= ... = number of documents)."""
    return list(ranges_of(blocks, content, bounds))


def ranges_of(blocks: BlockHashes, content: I64, bounds: Sequence[int]) -> Iterator[Part]:
    """`parts_of`, one range at a time (each made as it is asked for)."""
    at = np.searchsorted(blocks.doc, np.asarray(bounds, dtype=np.int64)).tolist()
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
        yield Part(int(lo), int(hi), columns)


def _each(parts: Parts, step: Step[Out]) -> list[Out]:
    """`step` applied to every range, each saved once stepped; what `step` gave besides, in order.

    A `SteppedParts` store runs the steps itself. Otherwise ranges are
    stepped side by side on up to `threads.thread_count()` threads (each
    compiled kernel then runs on one), where numba's threading layer allows
    it (`threads.kernels_thread_safe`): a step's numpy and compiled work
    releases the GIL, and ranges do not depend on each other within a
    pass. So as many ranges as threads are in memory.
    """
    if isinstance(parts, SteppedParts):
        return parts.each(step)

    def one(index: int) -> Out:
        part, out = step(parts.load(index))
        if part is not None:
            parts.save(index, part)
        return out

    return map_steps_in_threads(one, range(len(parts)))


def _each_held(parts: Parts, step: Step[Out]) -> list[Out]:
    """`_each`, what `step` gathers held where a `SteppedParts` store's ranges are.

    For such a store the items are its handles, typed as what they hold:
    only `_apply` and the steps' arguments may take them.
    """
    if isinstance(parts, SteppedParts):
        held: list[Out] = parts.each_held(step)
        return held
    return _each(parts, step)


def _apply(parts: Parts, fn: Callable[..., R], *args: Any) -> R:
    """`fn(*args)`, run where a `SteppedParts` store's ranges are (a handle, as `_each_held`)."""
    if isinstance(parts, SteppedParts):
        result: R = parts.apply(fn, *args)
        return result
    return fn(*args)


def label_in_ranges(
    ids: list[str],
    texts: Sequence[str],
    blocks: BlockHashes,
    content: I64,
    content_cluster: I64,
    content_score: F64,
    cfg: ScanConfig,
    group_values: Sequence[str | None] | None = None,
    content_keys: I64 | None = None,
    keep_document_sets: bool = False,
    doc_len: I64 | None = None,
    stash: Stash = in_memory,
    *,
    parts: Parts,
    range_blocks: int,
) -> Analysis:
    """`pipeline.label` of `blocks`, in ranges of about `range_blocks` blocks.

    The ranges are made one at a time into `parts` (empty), and `blocks`
    let go once they are (unless the caller holds them), so that the
    labelling holds a range per worker thread besides what `parts` keeps
    in memory. Other arguments as `label`.
    """
    bounds = range_bounds(blocks.doc, len(ids), range_blocks)
    handed = [blocks]
    del blocks
    for i, part in enumerate(ranges_of(handed[0], content, bounds)):
        parts.save(i, part)
        del part
    handed.clear()
    del content
    return label_parts(
        ids,
        texts,
        parts,
        content_cluster,
        content_score,
        cfg,
        group_values,
        content_keys,
        keep_document_sets,
        doc_len,
        stash,
    )


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
    near_duplicates: NearDuplicates | None = None,
    n_contents: int | None = None,
) -> Analysis:
    """`pipeline.label` of blocks given as ranges of documents (`parts_of`).

    Arguments as `label`, but for `parts`, whose ranges are rewritten
    pass by pass (they end holding the result's block columns).
    `near_duplicates` finds the documents' near-duplicate groups from the
    step that makes each range's sets, where the ranges are (the Ray
    engine's shuffles); by default the sets are gathered here and grouped
    by `near_duplicate_groups`. It is not called when the sets are kept.

    For a `SteppedParts` store, `content_cluster` and `content_score` may
    be its handles (of `apply`), with `n_contents` given and no
    `content_keys`: then no array per content is made or held here, the
    passes' tasks read them where the ranges are.
    """
    n_docs = len(ids)
    if doc_len is None:
        doc_len = np.array([len(t) for t in texts], dtype=np.int64)
    elif len(doc_len) != n_docs:
        raise ValueError(f"{len(doc_len)} text lengths for {n_docs} documents")

    # Clusters are counted by a dense number (`_ClusterIds`), so that the
    # counts per cluster are arrays indexed by it, not tables to search.
    # Made where the ranges are: an array per content, as the clusters.
    ids_of = _apply(parts, _ClusterIds.of, content_cluster)

    # 1. - 2. The documents' sets, then their near-duplicate groups.
    first_pass = _each_held(parts, partial(_clusters, cfg, content_cluster, content_score, ids_of))
    spread = _apply(parts, documents_per_cluster, ids_of, n_docs, *first_pass)
    del first_pass
    bounds = [lo for lo, _ in _each(parts, _bounds)] + [n_docs]
    sets_step = partial(_sets, cfg, spread)
    del spread
    kept_sets = None
    if near_duplicates is not None and not keep_document_sets:
        doc_group = near_duplicates(parts, sets_step, n_docs)
    else:
        sets = joined_sets(_each(parts, sets_step))
        doc_group = near_duplicate_groups(sets, n_docs, cfg)
        kept_sets = stash(sets) if keep_document_sets else None
        del sets
    del sets_step
    groups, user_group, scope = user_groups(ids, cfg, group_values)
    shared = _shared_groups(doc_group, bounds)
    counting = _Counting(doc_group, user_group, shared, cfg)

    # 3. - 5. Runs, and the targets of variant lines; their pairs with the
    # query lines are found where the ranges are.
    found = _runs_in_parts(parts, counting, ids_of, partial(_targets, cfg, scope))
    variants = _apply(parts, variant_pairs_of, cfg, *found)
    del found

    # 6. - 7. Variant lines joined; the n-grams of the edge blocks counted,
    # then the glued passages cut.
    joining = partial(_join, cfg, variants, content_cluster, ids_of, scope, doc_group)
    gram_counts = _apply(parts, counts_of_pairs, *_each_held(parts, joining))
    del variants, joining
    # A store that steps its ranges elsewhere has them carry their texts.
    cut_texts = None if isinstance(parts, SteppedParts) else texts
    glued = _each(parts, partial(_cut, cfg, cut_texts, scope, gram_counts))
    del gram_counts
    ids_of = _apply(
        parts, _ClusterIds.with_glued, ids_of, distinct(np.concatenate(glued)) if glued else _EMPTY
    )

    # 8. - 10. Runs again, over the cut blocks.
    _runs_in_parts(parts, counting, ids_of, None)

    # 11. Spans and their scores, kept in the ranges; the passages.
    finished = _each(parts, partial(_finish, doc_len))
    rows = RangeRows.of(parts, finished, n_docs)
    cluster_size = np.bincount(doc_group, minlength=n_docs)[doc_group]
    no_rows = _EMPTY
    return Analysis(
        ids=ids,
        texts=texts,
        doc_len=doc_len,
        blocks=Blocks(no_rows, no_rows, no_rows, no_rows, no_rows, no_rows, np.empty(0)),
        n_contents=len(content_cluster) if n_contents is None else n_contents,
        doc_group=doc_group,
        doc_cluster_size=cluster_size.astype(np.int64),
        runs=Runs(no_rows, no_rows, no_rows, no_rows, no_rows, np.empty(0, np.int32)),
        spans=Spans(no_rows, no_rows, no_rows, no_rows),
        span_score=np.empty(0),
        passages=rows.passages,
        groups=groups,
        contents=Contents.kept(content_keys, content_cluster, content_score),
        document_sets=kept_sets,
        rows=rows,
    )


def _clusters(
    cfg: ScanConfig, content_cluster: I64, content_score: F64, ids_of: _ClusterIds, part: Part
) -> tuple[Part, tuple[I64, I64]]:
    """Pass 1: each block's cluster, score, words and prose words; documents per cluster.

    Returns the range's distinct (cluster number, document) pairs.
    """
    doc, content = part["doc"], part["content"]
    words = np.diff(part["word_offsets"])
    prose = (
        wrapped_words(doc, words, part["first_char"], part["last_char"])
        if cfg.block_mode == "line"
        else words
    )
    cluster = content_cluster[content] if len(content) else content
    number = ids_of.of_content[content] if len(content) else content
    match = content_score[content] if len(content) else content_score[:0]
    columns = {"n_words": words, "prose": prose, "cluster": cluster, "cid": number, "match": match}
    # The ranges share no document: documents are never counted twice.
    pairs = distinct_dense_pairs(number, doc, max(part.hi, 1))
    return part.with_columns(("first_char", "last_char"), **columns), pairs


def documents_per_cluster(ids_of: _ClusterIds, n_docs: int, *pairs: tuple[I64, I64]) -> I64:
    """Per cluster number, the documents holding it, from what `_clusters` gave each range."""
    # The ranges share no document: no pair comes from two of them.
    spread, _ = dense_pair_counts(list(pairs), ids_of.n, np.zeros(n_docs, bool))
    return spread


def _bounds(part: Part) -> tuple[None, tuple[int, int]]:
    """The first document of a range and the one after its last."""
    return None, (part.lo, part.hi)


def _sets(cfg: ScanConfig, spread: I64, part: Part) -> tuple[None, DocumentSets]:
    """Pass 2: the sets of the documents of the range (which it leaves as it is)."""
    block_spread = spread[part["cid"]]
    words, offsets = part["words"], part["word_offsets"]
    return None, sets_of_documents(part["doc"], words, offsets, block_spread, part.lo, part.hi, cfg)


@dataclass(frozen=True)
class _ClusterIds:
    """A dense number for every cluster value: the sorted distinct values' ranks.

    `keys` are the clusters of contents, sorted and distinct, numbered 0 to
    len(keys) - 1; `of_content` is each content's number. Glued passages
    (whose clusters are their keys) are numbered after them once cut
    (`glued`, sorted: the keys not among `keys`).
    """

    keys: I64
    of_content: I64
    glued: I64

    @classmethod
    def of(cls, content_cluster: I64) -> _ClusterIds:
        of_content, keys = dense_ranks(content_cluster)
        return cls(keys, of_content, _EMPTY)

    @property
    def n(self) -> int:
        return len(self.keys) + len(self.glued)

    def with_glued(self, keys: I64) -> _ClusterIds:
        """Numbers for the glued passages' keys (sorted, distinct) too."""
        new = keys[table_rows(self.keys, keys) < 0]
        return replace(self, glued=new)

    def numbers(self, clusters: I64) -> I64:
        """The number of each of `clusters` (every one must have one)."""
        rows = table_rows(self.keys, clusters)
        missing = rows < 0
        if missing.any():
            rows[missing] = len(self.keys) + table_rows(self.glued, clusters[missing])
        if np.any(rows < 0):
            raise ValueError("a cluster without a number")
        return rows


def _shared_groups(doc_group: I64, bounds: Sequence[int]) -> NDArray[np.bool_]:
    """Per near-duplicate group (by its number): whether its documents lie in two ranges or more."""
    n_docs = len(doc_group)
    in_range = np.searchsorted(np.asarray(bounds[1:], np.int64), np.arange(n_docs), side="right")
    lowest = np.full(n_docs, len(bounds), dtype=np.int64)
    highest = np.full(n_docs, -1, dtype=np.int64)
    np.minimum.at(lowest, doc_group, in_range)
    np.maximum.at(highest, doc_group, in_range)
    shared: NDArray[np.bool_] = (highest >= 0) & (lowest != highest)
    return shared


def _targets(cfg: ScanConfig, scope: I64, part: Part) -> tuple[VariantTargets, QueryRows]:
    """After pass 5: the variant targets and the distinct query lines of the range."""
    doc, content, n_words = part["doc"], part["content"], part["n_words"]
    word_csr = (part["words"], part["word_offsets"])
    targets = variant_targets(doc, word_csr, n_words, content, part["block_run"], scope, cfg)
    queries = variant_queries(doc, n_words, part["span_run"], cfg)
    return targets, QueryRows.of(queries, content, word_csr)


def variant_pairs_of(
    cfg: ScanConfig, *found: tuple[VariantTargets, QueryRows] | None
) -> tuple[VariantTargets, VariantPairs | None]:
    """The targets of every range (`_targets`) and their pairs with the query lines.

    Each distinct query line is looked up once, however many ranges hold it.
    """
    targets = joined_targets([t for t, _ in (f for f in found if f is not None)])
    queries = QueryRows.joined([q for _, q in (f for f in found if f is not None)])
    del found
    if not len(targets.content) or not len(queries.content):
        return targets, None
    index = VariantIndex.of(targets.rows, cfg.variant_threshold, cfg.num_perm, cfg.seed)
    return targets, VariantPairs.of(queries, index)


def counts_of_pairs(*pairs: tuple[I64, I64] | None) -> KeyCounts:
    """`key_tables.pair_counts` of what the ranges gave (None: no pair)."""
    return pair_counts([p for p in pairs if p is not None])


def _join(
    cfg: ScanConfig,
    variants: tuple[VariantTargets, VariantPairs | None],
    content_cluster: I64,
    ids_of: _ClusterIds,
    scope: I64,
    doc_group: I64,
    part: Part,
) -> tuple[Part, tuple[I64, I64] | None]:
    """Pass 6: variant lines joined; the distinct (n-gram, group) pairs of the edge blocks."""
    targets, pairs = variants
    doc, cluster = part["doc"], part["cluster"]
    word_csr = (part["words"], part["word_offsets"])
    joined, match = cluster, part["match"]
    if pairs is not None:
        queries = variant_queries(doc, part["n_words"], part["span_run"], cfg)
        joined, match = join_found(
            targets, pairs, queries, doc, part["content"], content_cluster, cluster, match, scope
        )
    # Glued passages are looked for at the same edges, less the lines that
    # just joined the template (as `label` does).
    edges = edge_blocks(doc, part["span_run"] >= 0)
    edges = edges[joined[edges] == cluster[edges]]
    grams = word_grams(gather(*word_csr, edges), scope[doc[edges]], cfg)
    gram_pairs = None
    if grams is not None:
        gram_pairs = distinct_pairs(grams.key, doc_group[doc[edges]][grams.row])
    changed = np.flatnonzero(joined != cluster)
    number = part["cid"].copy()
    number[changed] = ids_of.numbers(joined[changed])
    columns = {"cluster": joined, "cid": number, "match": match, "edges": edges}
    return part.with_columns(_RUN_COLUMNS, **columns), gram_pairs


# The block columns that the cuts rewrite, in `split_glued`'s order.
_CUT_COLUMNS = ("doc", "start", "end", "content", "cluster", "n_words", "prose", "match")


def _cut(
    cfg: ScanConfig, texts: Sequence[str] | None, scope: I64, gram_counts: KeyCounts, part: Part
) -> tuple[Part, I64]:
    """Pass 7: glued passages cut out of their blocks (the word hashes and texts go).

    `texts` are every document's, or None where the range carries its own
    (`TEXT_COLUMNS`). Returns the keys of the range's glued passages (their
    cluster number is -1 until `_ClusterIds.with_glued` numbers them).
    """
    if texts is None:
        texts = RangeTexts.of(part)
    doc, start, end, edges = part["doc"], part["start"], part["end"], part["edges"]
    columns = {name: part[name] for name in (*_CUT_COLUMNS, "cid")}
    word_csr = gather(part["words"], part["word_offsets"], edges)
    grams = word_grams(word_csr, scope[doc[edges]], cfg)
    if grams is None:
        return Part(part.lo, part.hi, columns), _EMPTY
    glued = glued_runs_counted(word_csr, grams, gram_counts.counts_of(grams.key), cfg)
    blocks = edges[glued.block]
    # Each text read once for all its cut blocks (texts may be read from disk).
    block_texts = substrings(texts, doc[blocks], start[blocks], end[blocks])
    cuts = glued_cuts(block_texts, glued, part["n_words"][blocks])
    if not len(cuts.block):
        return Part(part.lo, part.hi, columns), _EMPTY
    text_of = dict(zip(glued.block.tolist(), block_texts, strict=True))
    split, (number,) = split_glued_carrying(
        [text_of[b] for b in cuts.block.tolist()],
        edges,
        cuts,
        doc,
        start,
        end,
        [columns[name] for name in _CUT_COLUMNS[3:]],
        [columns["cid"]],
    )
    columns = dict(zip(_CUT_COLUMNS, split, strict=True)) | {"cid": number}
    return Part(part.lo, part.hi, columns), cuts.key


@dataclass(frozen=True)
class _Finished:
    """What pass 11 tells of a range besides its span columns."""

    n_blocks: int
    n_runs: int
    n_spans: int
    # Per passage key of the range: key, occurrences, documents, first run
    # (numbered in the range), and that run's count, document, start and end.
    summary: tuple[I64, I64, I64, I64]
    first_run: tuple[NDArray[np.int32], I64, I64, I64]
    boilerplate_chars: I64  # per document of the range
    doc_spans: I64  # spans per document of the range


def _finish(doc_len: I64, part: Part) -> tuple[Part, _Finished]:
    """Pass 11: a range's spans and their scores, as columns; its passages summed up.

    Span columns: `span_doc`, `span_start`, `span_end`, `span_of` (the
    range's run behind the span, -1 where unique) and `span_score`.
    """
    doc, match, block_run = part["doc"], part["match"], part["block_run"]
    block_score = np.where(block_run >= 0, match, 0.0) if len(doc) else match
    local = doc - part.lo
    lengths = doc_len[part.lo : part.hi]
    spans = tile_spans(local, part["start"], part["end"], part["span_run"], lengths)
    scores = span_scores(
        spans[0], spans[1], spans[3], local, part["start"], part["end"], block_score
    )
    first, length = part["first"], part["length"]
    summary = passage_summary(part["passage"], doc[first])
    rep = summary[3]
    at, last = first[rep], first[rep] + length[rep] - 1
    first_run = (part["doc_count"][rep], doc[at], part["start"][at], part["end"][last])
    boiler = np.where(spans[3] >= 0, spans[2] - spans[1], 0)
    boilerplate_chars = np.bincount(spans[0], weights=boiler, minlength=part.hi - part.lo)
    columns = {
        "span_doc": spans[0] + part.lo,
        "span_start": spans[1],
        "span_end": spans[2],
        "span_of": spans[3],
        "span_score": scores,
    }
    finished = _Finished(
        n_blocks=len(doc),
        n_runs=len(first),
        n_spans=len(spans[0]),
        summary=summary,
        first_run=first_run,
        boilerplate_chars=boilerplate_chars.astype(np.int64),
        doc_spans=np.bincount(spans[0], minlength=part.hi - part.lo).astype(np.int64),
    )
    return part.with_columns((), **columns), finished


class RangeRows:
    """The block and span rows of a labelling in ranges, read from its `Parts` (`pipeline.Rows`).

    A reader holds one range's columns at a time (two where a slice of
    spans crosses ranges); the store must stay open while they are read.
    """

    def __init__(
        self,
        parts: Parts,
        block_counts: Sequence[int],
        span_counts: Sequence[int],
        boilerplate: I64,
        passages: Passages,
        places: tuple[I64, I64, I64],
        doc_spans: I64,
    ) -> None:
        self.parts = parts
        self._blocks = int(sum(block_counts))
        self._span_at = np.concatenate(([0], np.cumsum(span_counts, dtype=np.int64)))
        # Where each document's spans start, and the end of the last.
        self._doc_span_at = np.concatenate(([0], np.cumsum(doc_spans, dtype=np.int64)))
        self._boilerplate = boilerplate
        self.passages = passages
        self._places = places

    @classmethod
    def of(cls, parts: Parts, finished: Sequence[_Finished], n_docs: int) -> RangeRows:
        """The rows of `parts` after pass 11, which told `finished` of them; the passages made."""
        run_base = np.concatenate(([0], np.cumsum([f.n_runs for f in finished], dtype=np.int64)))
        summaries = [
            (keys, occurrences, documents, rep + base)
            for (keys, occurrences, documents, rep), base in zip(
                (f.summary for f in finished), run_base.tolist(), strict=False
            )
        ]
        keys, occurrences, documents, rep = joined_summaries(summaries)
        # Each passage's first run is its key's first run in some range:
        # found among those, with its count and place.
        run_of = np.concatenate([s[3] for s in summaries]) if summaries else _EMPTY
        counts, docs, starts, ends = (
            (
                np.concatenate(column)
                for column in zip(*(f.first_run for f in finished), strict=True)
            )
            if finished
            else (np.empty(0, np.int32), _EMPTY, _EMPTY, _EMPTY)
        )
        order = np.argsort(run_of, kind="stable")
        row = order[np.searchsorted(run_of, rep, sorter=order)]
        table = passages_of((keys, occurrences, documents, row), counts)
        at = table.run
        passages = replace(table, run=run_of[at])
        boilerplate = (
            np.concatenate([f.boilerplate_chars for f in finished])
            if finished
            else np.zeros(n_docs, np.int64)
        )
        doc_spans = (
            np.concatenate([f.doc_spans for f in finished])
            if finished
            else np.zeros(n_docs, np.int64)
        )
        return cls(
            parts,
            [f.n_blocks for f in finished],
            [f.n_spans for f in finished],
            boilerplate,
            passages,
            (docs[at], starts[at], ends[at]),
            doc_spans,
        )

    @property
    def n_blocks(self) -> int:
        return self._blocks

    @property
    def n_spans(self) -> int:
        return int(self._span_at[-1])

    def spans(self, lo: int, hi: int) -> SpanRows:
        """Spans `lo` to `hi` - 1, from the ranges that hold them."""
        pieces = []
        for index, a, b in self.span_pieces(lo, hi):
            part = self.parts.load(index)
            pieces.append(part_spans(part, a, b))
            del part
        return SpanRows.joined(pieces)

    def span_documents(self, lo: int, hi: int) -> tuple[int, int]:
        """The documents of spans `lo` to `hi` - 1: (first, last + 1); (0, 0) for none."""
        if hi <= lo:
            return 0, 0
        at = self._doc_span_at
        first = int(np.searchsorted(at, lo, side="right")) - 1
        last = int(np.searchsorted(at, hi - 1, side="right")) - 1
        return first, last + 1

    def span_pieces(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """Where spans `lo` to `hi` - 1 lie: (range, first, end) of each range holding some."""
        pieces = []
        first = int(np.searchsorted(self._span_at, lo, side="right")) - 1
        for index in range(max(first, 0), len(self.parts)):
            base = int(self._span_at[index])
            if base >= hi:
                break
            a, b = max(lo - base, 0), min(hi - base, int(self._span_at[index + 1]) - base)
            if b > a:
                pieces.append((index, a, b))
        return pieces

    def block_clusters(self) -> Iterator[tuple[I64, I64]]:
        for index in range(len(self.parts)):
            part = self.parts.load(index)
            yield part["doc"], part["cluster"]

    def boilerplate_chars(self) -> I64:
        return self._boilerplate

    def passage_places(self) -> tuple[I64, I64, I64]:
        return self._places


def part_spans(part: Part, a: int, b: int) -> SpanRows:
    """Spans `a` to `b` - 1 of a range labelled to the end (pass 11), with their passages."""
    spans = Spans(
        part["span_doc"][a:b], part["span_start"][a:b], part["span_end"][a:b], part["span_of"][a:b]
    )
    return SpanRows.of(spans, part["passage"], part["doc_count"], part["span_score"][a:b])


def joined_rows(result: Analysis) -> Analysis:
    """`result` with the rows of its ranges joined into its arrays, as `label` gives them.

    For a labelling in ranges held in memory (`PartsInMemory`), where every
    array at once is wanted; `result` itself when it holds its rows already.
    """
    rows = result.rows
    if not isinstance(rows, RangeRows):
        return result
    loaded = [rows.parts.load(i) for i in range(len(rows.parts))]
    run_at = np.cumsum([0] + [len(p["first"]) for p in loaded]).tolist()
    block_at = np.cumsum([0] + [len(p["doc"]) for p in loaded]).tolist()

    def joined(name: str, shift: str = "", dtype: type[np.generic] = np.int64) -> NDArray[Any]:
        if not loaded:
            return np.empty(0, dtype)
        pieces = []
        for i, p in enumerate(loaded):
            column = p[name]
            if shift == "runs":
                column = np.where(column >= 0, column + run_at[i], -1)
            elif shift == "blocks":
                column = column + block_at[i]
            pieces.append(column)
        return np.concatenate(pieces).astype(dtype, copy=False)

    block_run = joined("block_run", "runs")
    match = joined("match", dtype=np.float64)
    block_score = np.where(block_run >= 0, match, 0.0) if len(block_run) else match
    runs = Runs(
        block_run,
        joined("span_run", "runs"),
        joined("first", "blocks"),
        joined("length"),
        joined("passage"),
        joined("doc_count", dtype=np.int32),
    )
    return replace(
        result,
        blocks=Blocks(
            joined("doc"),
            joined("start"),
            joined("end"),
            joined("content"),
            joined("cluster"),
            joined("n_words"),
            block_score,
        ),
        runs=runs,
        spans=Spans(
            joined("span_doc"), joined("span_start"), joined("span_end"), joined("span_of", "runs")
        ),
        span_score=joined("span_score", dtype=np.float64),
        rows=None,
    )


# What one pass of runs leaves in a range (the next pass of runs replaces them).
_RUN_COLUMNS = ("block_run", "span_run", "first", "length", "passage", "doc_count")


@dataclass(frozen=True)
class _Counting:
    """What the runs' counts need of the documents (see `_runs_in_parts`)."""

    doc_group: I64
    user_group: I64 | None
    shared: NDArray[np.bool_]  # per group: documents in two ranges or more
    cfg: ScanConfig


def _runs_in_parts(
    parts: Parts,
    counting: _Counting,
    ids_of: _ClusterIds,
    also: Callable[[Part], Out] | None,
) -> list[Out | None]:
    """`labels.find_runs` over the ranges: each ends with its runs, numbered from 0.

    Three passes: the near-duplicate groups per cluster, the runs and the
    groups per run key, then the weak split. `also` is called with each
    range as the last pass leaves it; what it returns is returned, in range
    order.
    """
    doc_group, user_group, cfg = counting.doc_group, counting.user_group, counting.cfg
    # The counts are made where the ranges are (`_apply`), from what each
    # range gave, and read there by the next pass.
    pairs = _each_held(parts, partial(_cluster_pairs, counting, ids_of))
    grouped = user_group is not None
    one_size = len(distinct(doc_group))
    tables = _apply(parts, group_counts, ids_of, counting.shared, grouped, one_size, *pairs)
    del pairs
    key_pairs = _each_held(parts, partial(_accept, cfg, tables, doc_group, user_group))
    key_counts = _apply(parts, counts_of_pairs, *key_pairs)
    del key_pairs
    return _each(parts, partial(_split_weak, cfg, tables, key_counts, also))


def _cluster_pairs(
    counting: _Counting, ids_of: _ClusterIds, part: Part
) -> tuple[Part, tuple[tuple[I64, I64], tuple[I64, I64] | None, tuple[I64, I64] | None]]:
    """The distinct (cluster, group), (cluster and user group, group) and
    (user group, group) pairs of a range; glued passages numbered first."""
    doc, cluster, number = part["doc"], part["cluster"], part["cid"]
    glued = np.flatnonzero(number < 0)
    if len(glued):
        number = number.copy()
        number[glued] = ids_of.numbers(cluster[glued])
        part = part.with_columns((), cid=number)
    near = counting.doc_group[doc]
    n_groups = len(counting.doc_group)
    pairs = distinct_dense_pairs(number, near, max(n_groups, 1))
    if counting.user_group is None:
        return part, (pairs, None, None)
    users = counting.user_group[doc]
    local = distinct_pairs(local_keys(cluster, users), near)
    return part, (pairs, local, distinct_pairs(users, near))


def group_counts(
    ids_of: _ClusterIds,
    shared: NDArray[np.bool_],
    grouped: bool,
    one_size: int,
    *pairs: tuple[tuple[I64, I64], tuple[I64, I64] | None, tuple[I64, I64] | None],
) -> _GroupCounts:
    """The counts per cluster (and per user group) of what `_cluster_pairs` gave each range."""
    count, support = dense_pair_counts([p for p, _, _ in pairs], ids_of.n, shared)
    return _GroupCounts(
        count,
        support,
        pair_counts([p for _, p, _ in pairs if p is not None]) if grouped else None,
        pair_counts([p for _, _, p in pairs if p is not None]) if grouped else None,
        one_size,
    )


@dataclass(frozen=True)
class _GroupCounts:
    """Near-duplicate groups per cluster number (count and support arrays),
    per (cluster, user group) and per user group (tables, when grouped)."""

    count: I64
    support: U64
    local: KeyCounts | None
    user: KeyCounts | None
    one_size: int  # of the one group when documents are not grouped


def _accept(
    cfg: ScanConfig, tables: _GroupCounts, doc_group: I64, user_group: I64 | None, part: Part
) -> tuple[Part, tuple[I64, I64]]:
    """The accepted blocks and their first runs; the distinct (run key, group) pairs.

    Only runs of two blocks or more are counted by key: a run of one block
    takes its block's count (`labels.split_weak_runs`).
    """
    doc, cluster, number = part["doc"], part["cluster"], part["cid"]
    block_count, support = tables.count[number], tables.support[number]
    group_size: I64 | int = tables.one_size
    local = block_count
    if user_group is not None and tables.local is not None and tables.user is not None:
        users = user_group[doc]
        local = tables.local.counts_of(local_keys(cluster, users))
        group_size = tables.user.counts_of(users)
    grouped = user_group is not None
    repeated = accept_counted(
        doc, block_count, local, support, part["prose"], grouped, group_size, cfg
    )
    block_run, first, length, keys = first_runs(doc, cluster, repeated, support)
    # Each block's count and support are not kept: `_split_weak` reads them
    # from `tables` again (two columns fewer to write and read back).
    columns = {
        "repeated": repeated,
        "block_run": block_run,
        "first": first,
        "length": length,
        "passage": keys,
    }
    long = length > 1
    pairs = distinct_pairs(keys[long], doc_group[doc[first[long]]])
    return part.with_columns((), **columns), pairs


def _split_weak(
    cfg: ScanConfig,
    tables: _GroupCounts,
    key_counts: KeyCounts,
    also: Callable[[Part], Out] | None,
    part: Part,
) -> tuple[Part, Out | None]:
    """The runs of the range, those too rarely shared split (`labels.split_weak_runs`)."""
    first_pass = (part["block_run"], part["first"], part["length"], part["passage"])
    number = part["cid"]
    runs = split_weak_runs(
        part["doc"],
        part["cluster"],
        part["prose"],
        part["repeated"],
        tables.support[number],
        tables.count[number],
        first_pass,
        _long_run_counts(key_counts, part["passage"], part["length"]),
        cfg,
    )
    part = part.with_columns(
        ("repeated",),
        block_run=runs.block_run,
        span_run=runs.span_run,
        first=runs.first,
        length=runs.length,
        passage=runs.passage,
        doc_count=runs.doc_count,
    )
    return part, (also(part) if also is not None else None)


def _long_run_counts(key_counts: KeyCounts, keys: I64, length: I64) -> I64:
    """The count of each run of two blocks or more by its key (0 for the others)."""
    counts = np.zeros(len(keys), dtype=np.int64)
    long = np.flatnonzero(length > 1)
    counts[long] = key_counts.counts_of(keys[long])
    return counts


# The columns each step of a pass reads or drops, for a store that hands a
# step only those (the Ray engine's object store restores what a task is
# given: a range's texts, its largest column, are read by one pass of ten).
# A step not named here is handed every column. Edit with the step.
_STEP_READS: dict[Callable[..., Any], tuple[str, ...]] = {
    _clusters: ("doc", "content", "word_offsets", "first_char", "last_char"),
    _bounds: (),
    _sets: ("doc", "cid", "words", "word_offsets"),
    _targets: ("doc", "content", "n_words", "words", "word_offsets", "block_run", "span_run"),
    _join: (
        "doc",
        "cluster",
        "cid",
        "match",
        "content",
        "n_words",
        "words",
        "word_offsets",
        *_RUN_COLUMNS,
    ),
    _cut: (*TEXT_COLUMNS, *_CUT_COLUMNS, "cid", "edges", "words", "word_offsets"),
    _finish: ("doc", "match", "start", "end", *_RUN_COLUMNS),
    _cluster_pairs: ("doc", "cluster", "cid"),
    _accept: ("doc", "cluster", "cid", "prose"),
    _split_weak: ("doc", "cluster", "cid", "prose", "repeated", *_RUN_COLUMNS),
}
# Steps whose range holds only the columns they return: the others go.
_REPLACES_ALL: frozenset[Callable[..., Any]] = frozenset({_cut})
# The columns of a range labelled to the end that `part_spans` reads.
SPAN_COLUMNS = (
    "span_doc",
    "span_start",
    "span_end",
    "span_of",
    "span_score",
    "passage",
    "doc_count",
)


def step_columns(
    step: Callable[..., Any], more: dict[Callable[..., Any], tuple[str, ...]] | None = None
) -> tuple[tuple[str, ...] | None, bool]:
    """(the columns `step` reads or drops, or None for all; whether it keeps only those it returns).

    `step` is a step function or a `partial` of one; a step among its
    arguments (`_split_weak`'s `also`) adds its own columns. `more` names
    steps of a caller's own.
    """
    known = _STEP_READS if more is None else _STEP_READS | more
    func = step.func if isinstance(step, partial) else step
    reads = known.get(func)
    if reads is None:
        return None, False
    names = list(reads)
    for arg in step.args if isinstance(step, partial) else ():
        if callable(arg) and not isinstance(arg, type):
            extra, _ = step_columns(arg, more)
            if extra is None:
                return None, False
            names += [n for n in extra if n not in names]
    return tuple(names), func in _REPLACES_ALL
