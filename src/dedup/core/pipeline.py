"""The whole analysis of a set of documents, as one pure function.

    documents -> blocks -> shingle sets -> MinHash -> LSH -> verified pairs
      -> block clusters and near-duplicate document clusters
      -> runs and passages -> spans

`analyze` takes ids and texts and returns arrays; it opens no file and keeps
no state. Runners feed it and write its result through the Arrow adapter
(the texts may be any sequence of strings: the embedded runner passes texts
that it spilled to disk, read back where needed).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import numpy as np
import xxhash
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes, ClusteredBlocks, hash_blocks, select_docs
from dedup.core.edges import edge_blocks, glued_cuts, glued_runs, join_variants, split_glued
from dedup.core.fastops import (
    gather,
    jaccard_sorted,
    span_scores,
    tile_spans,
    unique_rows,
)
from dedup.core.graph import components
from dedup.core.groups import group_names
from dedup.core.labels import (
    Passages,
    Runs,
    Spans,
    find_runs,
    passage_table,
)
from dedup.core.lsh import candidate_pairs_of
from dedup.core.minhash import permutations
from dedup.core.near_duplicates import DocumentSets, document_sets, near_duplicate_groups
from dedup.core.similar import band_key_groups
from dedup.core.sorting import distinct, lexsort2, stable_argsort, unique_first_inverse
from dedup.core.text import wrapped_words
from dedup.errors import DuplicateIdError

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
F64 = NDArray[np.float64]
Kept = TypeVar("Kept")


class Stash(Protocol):
    """Where an analysis puts what it keeps only for its caller (the index's arrays).

    Called once with each such value as soon as it is made; returns the
    value to keep in its place, equal array for array. A runner may move
    its arrays out of memory until it reads them (`dedup.spilled_arrays`);
    the analysis never reads them again.
    """

    def __call__(self, value: Kept, /) -> Kept: ...


def in_memory(value: Kept, /) -> Kept:
    """The default `Stash`: keep the value as it is."""
    return value


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
class Contents:
    """Every distinct normalised block content, sorted by `key`.

    `cluster[i]` is the similarity cluster of content i (the smallest content
    key in it) before variants and glued passages are joined; `score[i]` is
    the exact Jaccard similarity of its shingles to that representative's.
    An index keeps these so that a new document's blocks find their cluster
    without re-running the analysis.
    """

    key: I64
    cluster: I64
    score: F64

    @classmethod
    def kept(cls, keys: I64 | None, cluster: I64, score: F64) -> Contents:
        """The contents a labelling keeps: none when their keys are not given."""
        if keys is None:
            return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        return cls(keys, cluster, score)


@dataclass(frozen=True)
class SpanRows:
    """Spans as spans.parquet shows them: where each lies, and which passage it repeats.

    `boilerplate` is True where a run is behind the span; there `passage`
    is the run's passage key, `doc_count` the document clusters sharing
    it and `score` how close the span is to the passage. Where the span is
    unique, `passage` and `doc_count` are 0 and `score` is what was computed.
    """

    doc: I64
    start: I64
    end: I64
    boilerplate: NDArray[np.bool_]
    passage: I64
    doc_count: NDArray[np.int32]
    score: F64

    def __len__(self) -> int:
        return len(self.doc)

    @classmethod
    def of(cls, spans: Spans, passage: I64, doc_count: NDArray[np.int32], score: F64) -> SpanRows:
        """The rows of `spans`, whose `run` indexes the runs' `passage` and `doc_count`."""
        boilerplate = spans.run >= 0
        if len(passage):
            run = np.where(boilerplate, spans.run, 0)
            passage = np.where(boilerplate, passage[run], 0)
            doc_count = np.where(boilerplate, doc_count[run], 0).astype(np.int32, copy=False)
        else:
            passage, doc_count = (
                np.zeros(len(spans.run), np.int64),
                np.zeros(len(spans.run), np.int32),
            )
        return cls(spans.doc, spans.start, spans.end, boilerplate, passage, doc_count, score)

    @classmethod
    def joined(cls, pieces: Sequence[SpanRows]) -> SpanRows:
        """The rows of `pieces`, one after the other."""
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            none = np.empty(0, np.int64)
            return cls(
                none, none, none, none.astype(bool), none, none.astype(np.int32), np.empty(0)
            )
        return cls(
            *(
                np.concatenate([getattr(p, name) for p in pieces])
                for name in ("doc", "start", "end", "boilerplate", "passage", "doc_count", "score")
            )
        )


class Rows(Protocol):
    """The per-block and per-span rows of a labelling, kept outside its `Analysis`.

    A labelling in ranges (`core.label_parts`) leaves them in its ranges'
    store, read back a range at a time by the tables and the index, so that
    they are never all in memory at once.
    """

    @property
    def n_blocks(self) -> int: ...

    @property
    def n_spans(self) -> int: ...

    def spans(self, lo: int, hi: int) -> SpanRows:
        """Spans `lo` to `hi` - 1, in (document, start) order."""
        ...

    def block_clusters(self) -> Iterator[tuple[I64, I64]]:
        """Document and cluster of every block, in (document, start) order, a piece at a time."""
        ...

    def boilerplate_chars(self) -> I64:
        """Per document: how many of its characters are boilerplate."""
        ...

    def passage_places(self) -> tuple[I64, I64, I64]:
        """Document, start and end of each passage's first occurrence, as `Analysis.passages`."""
        ...


@dataclass(frozen=True)
class Analysis:
    """Result of `analyze`. Documents are indexed 0..D-1 in sorted id order.

    `doc_group[d]` is the smallest document index of d's near-duplicate
    cluster (d itself when it has no near-duplicate); `doc_cluster_size[d]`
    is that cluster's size. `document_sets` are the sets those clusters were
    found with, over the blocks before glued passages were cut out, and
    `clustered` each content's first block with its shingle hashes (what the
    index reads of the blocks the contents were matched on), when asked for;
    None otherwise.

    With `rows` (a labelling in ranges), `blocks`, `runs`, `spans` and
    `span_score` are empty and the rows are read from `rows`: readers go
    through `n_blocks`, `span_rows`, `block_clusters`, `boilerplate_chars`
    and `passage_texts`, which read either.
    """

    ids: list[str]
    texts: Sequence[str]
    doc_len: I64
    blocks: Blocks
    n_contents: int
    doc_group: I64
    doc_cluster_size: I64
    runs: Runs
    spans: Spans
    span_score: NDArray[np.float64]
    passages: Passages
    groups: list[str] | None
    contents: Contents
    document_sets: DocumentSets | None = None
    clustered: ClusteredBlocks | None = None
    rows: Rows | None = None


def n_blocks(result: Analysis) -> int:
    """How many blocks the analysis labelled (after glued passages were cut out)."""
    return result.rows.n_blocks if result.rows is not None else len(result.blocks.doc)


def n_spans(result: Analysis) -> int:
    """How many spans the analysis's documents are cut into."""
    return result.rows.n_spans if result.rows is not None else len(result.spans.doc)


def span_rows(result: Analysis, lo: int, hi: int) -> SpanRows:
    """Spans `lo` to `hi` - 1 of the analysis, with their passages, in (document, start) order."""
    if result.rows is not None:
        return result.rows.spans(lo, hi)
    spans = result.spans
    part = Spans(spans.doc[lo:hi], spans.start[lo:hi], spans.end[lo:hi], spans.run[lo:hi])
    return SpanRows.of(part, result.runs.passage, result.runs.doc_count, result.span_score[lo:hi])


def block_clusters(result: Analysis) -> Iterator[tuple[I64, I64]]:
    """Document and cluster of every block, a piece at a time (see `Rows.block_clusters`)."""
    if result.rows is not None:
        yield from result.rows.block_clusters()
    else:
        yield result.blocks.doc, result.blocks.cluster


def boilerplate_chars(result: Analysis) -> I64:
    """Per document: how many of its characters are boilerplate."""
    if result.rows is not None:
        return result.rows.boilerplate_chars()
    spans = result.spans
    lengths = np.where(spans.run >= 0, spans.end - spans.start, 0)
    counts = np.bincount(spans.doc, weights=lengths, minlength=len(result.ids))
    return counts.astype(np.int64)


def passage_texts(result: Analysis, rows: I64) -> tuple[I64, I64, I64, list[str]]:
    """Document, start, end and text of the representative occurrence of passage rows.

    `rows` index `result.passages`; an occurrence spans its run's first block
    start to its last block end (no surrounding white space).
    """
    if result.rows is not None:
        docs, starts, ends = (column[rows] for column in result.rows.passage_places())
    else:
        runs, blocks = result.runs, result.blocks
        first = runs.first[result.passages.run[rows]]
        last = first + runs.length[result.passages.run[rows]] - 1
        docs, starts, ends = blocks.doc[first], blocks.start[first], blocks.end[last]
    return docs, starts, ends, substrings(result.texts, docs, starts, ends)


def substrings(texts: Sequence[str], docs: I64, starts: I64, ends: I64) -> list[str]:
    """`texts[d][s:e]` of every (d, s, e), each text read once however many rows it has.

    Texts read from disk (`dedup.spilled_texts`) cost a read per access, and
    the passages table takes many substrings of the same documents. A
    sequence with a `substrings` method of its own (those texts) is asked
    for them instead.
    """
    own = getattr(texts, "substrings", None)
    if callable(own):
        pieces: list[str] = own(docs, starts, ends)
        return pieces
    if isinstance(texts, (list, tuple)):  # texts in memory: no read to save
        rows = zip(docs.tolist(), starts.tolist(), ends.tolist(), strict=True)
        return [texts[d][s:e] for d, s, e in rows]
    out = [""] * len(docs)
    order = stable_argsort(docs)
    by_doc = docs[order]
    heads = np.flatnonzero(np.r_[True, by_doc[1:] != by_doc[:-1]]) if len(docs) else by_doc
    bounds = np.r_[heads, len(docs)].tolist()
    for lo, hi in itertools.pairwise(bounds):
        text = texts[int(by_doc[lo])]
        for row in order[lo:hi].tolist():
            out[row] = text[int(starts[row]) : int(ends[row])]
    return out


def cluster_id(representative_id: str) -> int:
    """Stable int64 id of a near-duplicate cluster, from its representative's id."""
    return xxhash.xxh64_intdigest(representative_id.encode("utf-8")) - (1 << 63)


def _contents(blocks: BlockHashes) -> tuple[I64, I64, I64]:
    """Distinct normalised blocks: (content of each block, key, first block).

    Each distinct content is signed and compared once, however many
    documents repeat it, from its first block: equal keys, equal words.
    """
    keys, first, content = unique_first_inverse(blocks.key)
    return content, keys, first


def distinct_sets(hashes: U32, offsets: I64, rows: I64) -> tuple[U32, I64]:
    """Shingle sets (sorted, distinct CSR rows) of blocks `rows` of a block batch.

    Blocks with the same content key have the same words, hence the same
    set: any one block of a content stands for it (a distributed engine
    takes any block of each key from its shuffle partition).
    """
    return unique_rows(*gather(hashes, offsets, rows))


def id_order(ids: Sequence[str]) -> list[int]:
    """Indices of `ids` in the order the analysis numbers documents: sorted by id.

    A runner that sorts its documents this way before `analyze` (to keep
    their blocks in that order for the index) gets the same numbering.
    """
    return sorted(range(len(ids)), key=lambda i: ids[i])


def check_distinct(sorted_ids: Sequence[str]) -> None:
    """Raise DuplicateIdError at the first id of `sorted_ids` (sorted) given twice."""
    for a, b in itertools.pairwise(sorted_ids):
        if a == b:
            raise DuplicateIdError(f"{a}: two documents have this id; ids must be distinct", a)


def analyze(
    ids: Sequence[str],
    texts: Sequence[str],
    cfg: ScanConfig,
    workers: int = 1,
    group_values: Sequence[str | None] | None = None,
    blocks: BlockHashes | None = None,
    keep_document_sets: bool = False,
    doc_len: I64 | None = None,
    stash: Stash = in_memory,
) -> Analysis:
    """Label every character of every document as unique or boilerplate.

    Args:
        ids: distinct document ids; the result is sorted by id, so the input
            order never changes the output.
        texts: the documents, one string each.
        cfg: the scan configuration.
        workers: threads for hashing blocks; the result does not depend on it.
        group_values: each document's value of the field that a
            `group_by="field:<name>"` config counts by (None: no value).
        blocks: `hash_blocks(texts, cfg)` computed already; hashed here
            when None. Either way they are let go step by step, unless the
            caller holds them too. Blocks of documents in input order
            are put in id order here.
        keep_document_sets: keep what an index reads besides the tables in
            the result: the near-duplicate step's document sets
            (`Analysis.document_sets`) and each content's first block's
            shingle hashes (`Analysis.clustered`).
        doc_len: each text's length in code points, known already (texts
            read from disk); measured here when None.
        stash: given what `keep_document_sets` keeps, as soon as each is
            made (it is held to the end of the analysis, which never reads
            it: a runner may keep it out of memory meanwhile).

    Texts already in id order are kept as given (not copied into a list);
    given their blocks and lengths as well, they are read only where glued
    passages are cut, and then by the result's readers.

    Raises:
        DuplicateIdError: two documents share an id.
        ConfigError: a `field:` group spec without `group_values`.
        ValueError: as many texts (or text lengths) as ids are not given.
    """
    if len(texts) != len(ids) or (doc_len is not None and len(doc_len) != len(ids)):
        lengths = "" if doc_len is None else f" and {len(doc_len)} text lengths"
        raise ValueError(f"{len(texts)} texts{lengths} for {len(ids)} ids")
    order = id_order(ids)
    sorted_ids = [ids[i] for i in order]
    check_distinct(sorted_ids)
    in_order = order == list(range(len(ids)))
    sorted_texts = texts if in_order else [texts[i] for i in order]
    if doc_len is not None and not in_order:
        doc_len = doc_len[order]

    if blocks is None:
        blocks = hash_blocks(sorted_texts, cfg, workers)
    elif not in_order:
        blocks = select_docs(blocks, order, len(ids))
    content, keys, first = _contents(blocks)
    sorted_values = None if group_values is None else [group_values[i] for i in order]
    # Block matching and the index read the shingle hashes of each content's
    # first block alone (a third of the rows of the 406 MB benchmark
    # corpus): the other rows' go before the matching, and the labelling
    # reads none (`label`).
    found = ClusteredBlocks.of(blocks, len(ids), keys, first)
    no_hashes = np.empty(0, np.uint32), np.zeros(1, np.int64)
    blocks = replace(blocks, hashes=no_hashes[0], offsets=no_hashes[1])
    del first
    contents = np.arange(len(keys), dtype=np.int64)
    clusters, scores = content_clusters(found.hashes, found.offsets, contents, keys, cfg)
    clustered = stash(found) if keep_document_sets else None
    del found, contents
    # Handed over with no name left here, so that `label` can let each
    # block array go once it has read it: they are most of an analysis's
    # memory (a caller that passed `blocks` keeps its own, of course).
    handed_blocks, handed_content = [blocks], [content]
    del blocks, content
    # Called directly, not through a `functools.partial`: a Python function's
    # call takes its arguments over from the caller, where a C callable's
    # leaves the caller holding them (the blocks) until it returns.
    result = label(
        sorted_ids,
        sorted_texts,
        handed_blocks.pop(),
        handed_content.pop(),
        clusters,
        scores,
        cfg,
        sorted_values,
        keys,
        keep_document_sets,
        doc_len,
        stash,
    )
    return replace(result, clustered=clustered) if keep_document_sets else result


def user_groups(
    ids: Sequence[str], cfg: ScanConfig, group_values: Sequence[str | None] | None
) -> tuple[list[str] | None, I64 | None, I64]:
    """The documents' group names (`--group-by`), their numbers, and each one's counting scope.

    Returns (names or None, int64 number of each document's group or None,
    scope: that number, or 0 for every document when they are not grouped).
    """
    groups = group_names(ids, cfg.group_by, group_values)
    if groups is None:
        return None, None, np.zeros(len(ids), np.int64)
    numbers = np.unique(np.array(groups, dtype=object), return_inverse=True)[1].astype(np.int64)
    return groups, numbers, numbers


def content_clusters(
    hashes: U32, offsets: I64, rows: I64, keys: I64, cfg: ScanConfig
) -> tuple[I64, F64]:
    """Cluster key and score of every distinct content (the global step of block matching).

    Args:
        hashes, offsets: CSR rows of uint32 shingle hashes, in any order and
            with repeats (`BlockHashes.hashes`: a block's as hashed).
        rows: int64, the row holding each distinct content (any one of its
            blocks), contents sorted by key.
        keys: int64 content key of each content, ascending.
        cfg: num_perm, seed, passage_threshold, lsh_fn_weight.

    Returns:
        (cluster, score): the smallest content key of the content's cluster
        (contents joined by verified LSH pairs at `passage_threshold`), and
        the exact Jaccard similarity of its set of shingles to that
        content's set.
    """
    perms = permutations(cfg.num_perm, cfg.seed)
    bands, band_rows = cfg.passage_lsh
    # A few bands at a time: all bands' keys at once were the largest array
    # of the analysis on corpora of mostly distinct lines.
    groups = band_key_groups(hashes, offsets, perms, bands, band_rows, rows)
    left, right = candidate_pairs_of(groups, len(rows))
    # Only contents proposed in a pair are compared, on their exact sets
    # (sorted and distinct): a tenth of the contents of a 406 MB corpus, so
    # a set is made of those alone. Every content whose representative is
    # another content, and that representative, lie on a verified pair
    # (their component has two members or more), hence among them.
    compared = distinct(np.concatenate((left, right)))
    values, set_offsets = distinct_sets(hashes, offsets, rows[compared])

    def jaccard(a: I64, b: I64) -> F64:
        at_a, at_b = np.searchsorted(compared, a), np.searchsorted(compared, b)
        return jaccard_sorted(values, set_offsets, at_a, at_b)

    keep = jaccard(left, right) >= cfg.passage_threshold
    group = components(len(keys), left[keep], right[keep])
    representative = _representatives(group, keys)
    content_score = np.ones(len(keys))
    differs = np.flatnonzero(representative != np.arange(len(keys)))
    content_score[differs] = jaccard(differs, representative[differs])
    return keys[representative], content_score


def label(
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
) -> Analysis:
    """Everything after block matching: near-duplicates, runs, edges, spans, passages.

    Args:
        ids, texts: the documents, sorted by id (distinct).
        blocks: their blocks (`blocks.doc` indexes `ids`); the shingle
            hashes (`hashes`, `offsets`) are not read and may be empty.
            Each array is let go once read for the last time, so a caller
            that keeps no reference (as `analyze` does) frees them early.
        content: int64[B] distinct content of each block (an index into
            `content_cluster` and `content_score`).
        content_cluster, content_score: of each distinct content, from
            `content_clusters`.
        cfg: the scan configuration.
        group_values: each document's value of a `field:` group spec.
        content_keys: the key of each distinct content, kept in the result's
            `contents` for an index (empty when not given).
        keep_document_sets: keep the document sets in the result, for an
            index (about 4 bytes per word of running text, otherwise freed
            once the near-duplicate groups are known).
        doc_len: int64[D] each text's length in code points, when known
            (then the texts are read only where glued passages are cut).
        stash: given the document sets kept for an index, once the
            near-duplicate groups are known (see `analyze`).

    An engine that matches blocks in its own way (a cluster of machines)
    calls this with the same arrays and gets the same `Analysis`.
    """
    if doc_len is None:
        doc_len = np.array([len(t) for t in texts], dtype=np.int64)
    elif len(doc_len) != len(ids):
        raise ValueError(f"{len(doc_len)} text lengths for {len(ids)} documents")
    doc, start, end = blocks.doc, blocks.start, blocks.end
    word_csr = (blocks.words, blocks.word_offsets)
    words = np.diff(blocks.word_offsets)
    prose = (
        wrapped_words(doc, words, blocks.first_char, blocks.last_char)
        if cfg.block_mode == "line"
        else words
    )
    # The arrays read below are held by name; the others (first and last
    # characters, shingle hashes) go now unless the caller holds them.
    del blocks
    cluster = content_cluster[content] if len(content) else content
    sets = document_sets(doc, *word_csr, cluster, len(ids), cfg)
    doc_group = near_duplicate_groups(sets, len(ids), cfg)
    kept_sets = stash(sets) if keep_document_sets else None
    del sets
    cluster_size = np.bincount(doc_group, minlength=len(ids))[doc_group]
    groups, user_group, scope = user_groups(ids, cfg, group_values)
    runs = find_runs(doc, cluster, prose, doc_group, user_group, cfg)
    # Only each block's runs are read until the cuts: the run table (first
    # block, length, key, count of every run) goes now, and is found again
    # after the cuts; two sets of run arrays would be the peak.
    block_run, span_run = runs.block_run, runs.span_run
    del runs
    match = content_score[content] if len(doc) else content_score[:0]
    joined, match = join_variants(
        doc,
        word_csr,
        words,
        content,
        content_cluster,
        cluster,
        match,
        block_run,
        span_run,
        scope,
        cfg,
    )
    del block_run
    # Glued passages are looked for at the same edges, less the lines that
    # just joined the template: one more labelling pass instead of two.
    edges = edge_blocks(doc, span_run >= 0)
    del span_run
    edges = edges[joined[edges] == cluster[edges]]
    cluster = joined
    del joined  # else it would keep the clusters before the cuts to the end
    glued = glued_runs(gather(*word_csr, edges), doc_group[doc[edges]], scope[doc[edges]], cfg)
    del word_csr  # the word hashes: read for the last time
    cut = edges[glued.block]
    # Each text read once for all its cut blocks (texts may be read from disk).
    cut_texts = substrings(texts, doc[cut], start[cut], end[cut])
    cuts = glued_cuts(cut_texts, glued, words[cut])
    if len(cuts.block):
        text_of = dict(zip(glued.block.tolist(), cut_texts, strict=True))
        doc, start, end, content, cluster, words, prose, match = split_glued(
            [text_of[b] for b in cuts.block.tolist()],
            edges,
            cuts,
            doc,
            start,
            end,
            content,
            cluster,
            words,
            prose,
            match,
        )
    del cut_texts
    runs = find_runs(doc, cluster, prose, doc_group, user_group, cfg)
    del prose  # read for the last time; as are the scores below
    block_score = np.where(runs.block_run >= 0, match, 0.0) if len(doc) else match
    del match
    spans = Spans(*tile_spans(doc, start, end, runs.span_run, doc_len))
    return Analysis(
        ids=ids,
        texts=texts,
        doc_len=doc_len,
        blocks=Blocks(doc, start, end, content, cluster, words, block_score),
        n_contents=len(content_cluster),
        doc_group=doc_group,
        doc_cluster_size=cluster_size.astype(np.int64),
        runs=runs,
        spans=spans,
        span_score=span_scores(spans.doc, spans.start, spans.run, doc, start, end, block_score),
        passages=passage_table(runs, doc),
        groups=groups,
        contents=Contents.kept(content_keys, content_cluster, content_score),
        document_sets=kept_sets,
    )


def _representatives(group: I64, keys: I64) -> I64:
    """For every content, the content with the smallest key in its group."""
    if not len(keys):
        return group
    order = lexsort2(keys, group)
    heads = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    best = np.empty(int(group.max()) + 1, dtype=np.int64)
    best[group[order][heads]] = order[heads]
    result: I64 = best[group]
    return result
