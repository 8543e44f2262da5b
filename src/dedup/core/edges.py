"""The edges of boilerplate runs: variants of template lines, and glued passages.

Block matching decides on whole blocks and word shingles. Two kinds of
boilerplate escape it, and both sit right next to a run of boilerplate:

- **a short template line with a variable part** (a typo, a page title in a
  banner, one word changed). One changed word breaks up to `ngram` word
  shingles, which on a 12-word line leaves it far below any useful
  threshold, yet most of its words are a boilerplate line's words.
  `variant_pairs` compares such lines with the boilerplate lines on their
  sets of words.
- **a boilerplate sentence glued to a unique paragraph** ("... end of the
  article. Subscribe to our newsletter."). The block as a whole is unique;
  its tail (or head) repeats across documents. `glued_runs` finds, word by
  word, repeated prefixes and suffixes, and `glued_cuts` where they start
  and end.

Only unique blocks next to a boilerplate block are looked at (`edge_blocks`),
so the cost follows the number of template edges, not the size of the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.fastops import best_pairs, bucket_counts, gather, jaccard_at_least, unique_rows
from dedup.core.key_tables import table_rows
from dedup.core.labels import count_distinct
from dedup.core.lsh import (
    GOLDEN,
    SortedBands,
    fmix64,
    optimal_params,
    query_sorted_bands,
    sorted_bands,
)
from dedup.core.minhash import permutations
from dedup.core.sets import joined_rows
from dedup.core.similar import set_band_keys
from dedup.core.sorting import distinct, lexsort2, stable_argsort, unique_first_inverse
from dedup.core.splice import splice

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

# Lines of fewer words are not compared as variants: in "Posted by Ann"
# against "Posted by Bob" one word is the whole content.
VARIANT_MIN_WORDS = 4
# A word for locating cuts in the text: what normalisation keeps as a word
# (`text.normalize` turns everything else, `_` included, into white space).
_WORD = re.compile(r"[^\W_]+")
# Salt of glued passage keys, apart from block content keys ("glued").
_GLUED = np.uint64(0x676C756564)
# Index rows compared per query row and LSH band.
_QUERY_CAP = 8
# Query rows looked up at a time by `variant_pairs`.
_QUERY_BATCH = 1 << 17


def edge_blocks(doc: I64, boiler: Bools) -> I64:
    """Blocks that are not boilerplate but follow or precede one in their document."""
    n = len(doc)
    near = np.zeros(n, dtype=bool)
    if n > 1:
        same = doc[1:] == doc[:-1]
        near[1:] |= boiler[:-1] & same
        near[:-1] |= boiler[1:] & same
    return np.flatnonzero(~boiler & near)


def variant_pairs(
    queries: tuple[U32, I64],
    index: tuple[U32, I64],
    threshold: float,
    num_perm: int,
    seed: int,
    batch: int = _QUERY_BATCH,
) -> tuple[I64, I64, F64]:
    """(query row, index row, similarity) of every pair at or above `threshold`.

    `queries` and `index` are CSR rows of sorted distinct word hashes; the
    similarity is their exact Jaccard similarity. Rows of fewer than
    `VARIANT_MIN_WORDS` words match nothing. MinHash LSH proposes the pairs.
    Pairs come sorted by query row, then index row.

    Queries are looked up `batch` rows at a time, against index bands
    sorted once: the candidate pairs (six in seven fail the threshold)
    then never exist all at once. Their number grows faster than the corpus,
    since short lines meet more index rows in their buckets as it grows
    (11.6 M candidates, 0.5 GB with their sorting, at 406 MB of text).
    """
    return VariantIndex.of(index, threshold, num_perm, seed).pairs(queries, batch)


@dataclass(frozen=True)
class VariantIndex:
    """The index side of `variant_pairs`, built once for any number of query batches.

    `rows` are the index rows of `VARIANT_MIN_WORDS` words or more, `values`
    and `offsets` their CSR, `counts` their `bucket_counts`, `bands` their
    band keys sorted for look-ups.
    """

    rows: I64
    values: U32
    offsets: I64
    counts: NDArray[np.uint8]
    bands: SortedBands | None
    threshold: float
    perms: tuple[U32, U32]
    lsh: tuple[int, int]

    @classmethod
    def of(cls, index: tuple[U32, I64], threshold: float, num_perm: int, seed: int) -> VariantIndex:
        """The index of CSR rows of sorted distinct word hashes."""
        rows = np.flatnonzero(np.diff(index[1]) >= VARIANT_MIN_WORDS)
        values, offsets = gather(*index, rows)
        perms = permutations(num_perm, seed)
        bands, band_rows = optimal_params(threshold, num_perm, 0.1, 0.9)
        counts = bucket_counts(values, offsets)
        if not len(rows):
            return cls(rows, values, offsets, counts, None, threshold, perms, (bands, band_rows))
        keys = set_band_keys(values, offsets, perms, bands, band_rows)
        lsh = (bands, band_rows)
        return cls(rows, values, offsets, counts, sorted_bands(keys), threshold, perms, lsh)

    def pairs(self, queries: tuple[U32, I64], batch: int = _QUERY_BATCH) -> tuple[I64, I64, F64]:
        """`variant_pairs` of `queries` against this index."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        empty = np.empty(0, np.int64)
        q_rows = np.flatnonzero(np.diff(queries[1]) >= VARIANT_MIN_WORDS)
        if not len(q_rows) or self.bands is None:
            return empty, empty, np.empty(0)
        q_values, q_offsets = gather(*queries, q_rows)
        n_index = len(self.rows)
        # One CSR, the index rows then the queries, for the band keys and the Jaccard.
        values = np.concatenate((self.values, q_values))
        offsets = np.concatenate((self.offsets, q_offsets[1:] + self.offsets[-1]))
        counts = np.concatenate((self.counts, bucket_counts(q_values, q_offsets)))
        del q_values, q_offsets
        threshold = self.threshold
        found: list[tuple[I64, I64, F64]] = []
        for lo in range(0, len(q_rows), batch):
            hi = min(lo + batch, len(q_rows))
            # Rows a..b of a CSR are its offsets[a : b + 1], where they lie.
            rows = offsets[n_index + lo : n_index + hi + 1]
            keys = set_band_keys(values, rows, self.perms, *self.lsh)
            query, hit = query_sorted_bands(self.bands, keys, _QUERY_CAP)
            similarity = jaccard_at_least(
                values, offsets, n_index + lo + query, hit, threshold, counts
            )
            keep = similarity >= threshold
            found.append((q_rows[lo + query[keep]], self.rows[hit[keep]], similarity[keep]))
        query, hit, similarity = (np.concatenate(column) for column in zip(*found, strict=True))
        return query, hit, similarity


def best_variant(
    block: I64, candidate: I64, similarity: F64, candidate_key: I64, n_blocks: int
) -> tuple[I64, F64]:
    """For each block, the most similar candidate (smallest key on ties), or -1.

    On a tie of similarity and key as well, the first such pair wins.

    `block`, `candidate`, `similarity` and `candidate_key` are parallel arrays
    of allowed (block, candidate) pairs.
    """
    # One compiled pass keeping the best pair so far per block: a sort of
    # all pairs (np.lexsort of three keys) cost 0.35 s on the 1.7 M pairs
    # of a 406 MB corpus.
    return best_pairs(block, candidate, similarity, candidate_key, n_blocks)


@dataclass(frozen=True)
class Cuts:
    """Glued passages: block `block[i]` holds boilerplate `start[i]:end[i]`.

    `key` identifies the passage (a hash of its words), `words` counts them.
    Offsets are relative to the block text.
    """

    block: I64
    start: I64
    end: I64
    key: I64
    words: I64


def _extend(text: str, start: int, end: int) -> tuple[int, int]:
    """The cut widened over the punctuation glued to its first and last word."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


@dataclass(frozen=True)
class GluedRuns:
    """Glued passages in words: block `block[i]`'s words `first[i]` to `first[i] + words[i]`."""

    block: I64
    first: I64
    words: I64
    key: I64


def glued_runs(words: tuple[U32, I64], member: I64, scope: I64, cfg: ScanConfig) -> GluedRuns:
    """Repeated prefixes and suffixes of blocks that are unique as a whole.

    Args:
        words: CSR rows of the hashes of each block's normalised words, in
            order (`BlockHashes.words`).
        member: int64 near-duplicate group of each block's document; a word
            n-gram repeats when it occurs in `min_docs` groups.
        scope: int64 counting scope of each block (the user's group, or 0):
            n-grams are counted within a scope.
        cfg: ngram, min_docs, glue_words, prose_words, prose_min_docs.

    A prefix (suffix) is the longest run of repeated word n-grams from the
    block's first (to its last) word. It is a glued passage when it covers at
    least `glue_words` words but not the whole block (whole blocks were
    judged already), and, when longer than `prose_words`, repeats in
    `prose_min_docs` groups. `glued_cuts` turns the runs into offsets.
    """
    grams = word_grams(words, scope, cfg)
    if grams is None:
        return _no_glued_runs()
    count, _ = count_distinct(grams.key, member[grams.row])
    return glued_runs_counted(words, grams, count, cfg)


def _no_glued_runs() -> GluedRuns:
    empty = np.empty(0, np.int64)
    return GluedRuns(empty, empty, empty, empty)


@dataclass(frozen=True)
class WordGrams:
    """The word n-grams of blocks: n-gram i is block `row[i]`'s words from `index[i]`.

    `key` hashes its words and the block's scope: what `glued_runs` counts by.
    """

    row: I64
    index: I64
    key: I64


def word_grams(words: tuple[U32, I64], scope: I64, cfg: ScanConfig) -> WordGrams | None:
    """The word n-grams of blocks (arguments as `glued_runs`); None when there is none to count.

    A block's n-grams do not depend on the other blocks: the n-grams of
    several ranges of blocks are theirs, one range after the other.
    """
    k = cfg.ngram
    hashes, offsets = words
    rows = len(offsets) - 1
    if cfg.glue_words <= 0 or not rows:
        return None
    n_grams = np.maximum(np.diff(offsets) - k + 1, 0)
    gram_offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(n_grams, out=gram_offsets[1:])
    if not gram_offsets[-1]:
        return None
    row = np.repeat(np.arange(rows), n_grams)
    index = np.arange(gram_offsets[-1]) - gram_offsets[row]
    first_word = offsets[row] + index
    acc = fmix64(scope[row].astype(np.uint64) + GOLDEN)
    for j in range(k):
        acc = fmix64(acc ^ fmix64(hashes[first_word + j].astype(np.uint64) + GOLDEN)) + GOLDEN
    return WordGrams(row, index, acc.view(np.int64))


def glued_runs_counted(
    words: tuple[U32, I64], grams: WordGrams, count: I64, cfg: ScanConfig
) -> GluedRuns:
    """`glued_runs` of blocks whose n-grams (`word_grams`) occur in `count[i]` groups each.

    The counts are over every block of the corpus looked at, not only these.
    """
    k = cfg.ngram
    hashes, offsets = words
    rows = len(offsets) - 1
    n_words = np.diff(offsets)
    n_grams = np.maximum(n_words - k + 1, 0)
    row, index = grams.row, grams.index
    rare = count < cfg.min_docs

    first_rare = np.full(rows, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_rare, row[rare], index[rare])
    prefix = np.minimum(first_rare, n_grams)
    last_rare = np.full(rows, -1, dtype=np.int64)
    np.maximum.at(last_rare, row[rare], index[rare])
    suffix = n_grams - 1 - last_rare

    big = np.iinfo(np.int64).max
    in_prefix = index < prefix[row]
    prefix_min = np.full(rows, big, dtype=np.int64)
    np.minimum.at(prefix_min, row[in_prefix], count[in_prefix])
    in_suffix = index > last_rare[row]
    suffix_min = np.full(rows, big, dtype=np.int64)
    np.minimum.at(suffix_min, row[in_suffix], count[in_suffix])

    def accepted(runs: I64, least: I64) -> Bools:
        covered = np.where(runs > 0, runs + k - 1, 0)
        return (
            (covered >= cfg.glue_words)
            & (covered < n_words)
            & ((covered <= cfg.prose_words) | (least >= cfg.prose_min_docs))
        )

    head = accepted(prefix, prefix_min)
    tail = accepted(suffix, suffix_min)
    head_words = np.where(head, prefix + k - 1, 0)
    tail_words = np.where(tail, suffix + k - 1, 0)
    # Overlapping head and tail: the whole block repeats in pieces; keep the longer.
    clash = head & tail & (head_words + tail_words > n_words)
    head &= ~clash | (head_words >= tail_words)
    tail &= ~clash | (tail_words > head_words)

    row_ids = np.arange(rows, dtype=np.int64)
    block = np.concatenate((row_ids[head], row_ids[tail]))
    covered = np.concatenate((head_words[head], tail_words[tail]))
    skip = np.concatenate((np.zeros(int(head.sum()), np.int64), (n_words - tail_words)[tail]))
    order = lexsort2(skip, block)
    block, covered, skip = block[order], covered[order], skip[order]
    # The key hashes the words position by position, as `labels` keys runs.
    owner = np.repeat(np.arange(len(block)), covered)
    at = np.arange(int(covered.sum())) - np.repeat(np.cumsum(covered) - covered, covered)
    word = hashes[offsets[block][owner] + skip[owner] + at].astype(np.uint64)
    terms = fmix64(word ^ fmix64((at + 1).astype(np.uint64) * GOLDEN))
    totals = np.zeros(len(block), dtype=np.uint64)
    np.add.at(totals, owner, terms)
    keys = fmix64(totals ^ (covered.astype(np.uint64) * GOLDEN + _GLUED)).view(np.int64)

    return GluedRuns(block, skip, covered, keys)


def glued_cuts(texts: Sequence[str], runs: GluedRuns, n_words: I64) -> Cuts:
    """Code-point offsets of glued runs, within the texts of their blocks.

    `texts[i]` and `n_words[i]` are the text and hashed word count of block
    `runs.block[i]`. The cut follows word boundaries, widened over
    punctuation attached to its first and last word.
    """
    starts = np.full(len(runs.block), -1, dtype=np.int64)
    ends = np.full(len(runs.block), -1, dtype=np.int64)
    for i, (text, first, n) in enumerate(
        zip(texts, runs.first.tolist(), runs.words.tolist(), strict=True)
    ):
        found = [m.span() for m in _WORD.finditer(text)]
        # Rarely (a block of only punctuation, NFKC splitting a character),
        # the text's words are not the hashed words: no cut rather than a wrong one.
        if len(found) == n_words[i]:
            starts[i], ends[i] = _extend(text, found[first][0], found[first + n - 1][1])
    ok = starts >= 0
    return Cuts(runs.block[ok], starts[ok], ends[ok], runs.key[ok], runs.words[ok])


@dataclass(frozen=True)
class VariantTargets:
    """The boilerplate lines that variant lines join (`join_variants`).

    `content`: every distinct content of a short boilerplate line, ascending;
    `rows`: its sorted distinct word hashes (CSR, one row per content);
    `scoped`: content * `n_scopes` + scope of every such line, distinct and
    ascending (a variant joins a line of its own scope only).
    """

    content: I64
    rows: tuple[U32, I64]
    scoped: I64
    n_scopes: int


def variant_targets(
    doc: I64,
    words: tuple[U32, I64],
    line_words: I64,
    content: I64,
    block_run: I64,
    scope: I64,
    cfg: ScanConfig,
) -> VariantTargets:
    """The targets among these blocks (arguments as `join_variants`).

    The targets of consecutive ranges of documents, joined by
    `joined_targets`, are those of all of them.
    """
    targets = np.flatnonzero((block_run >= 0) & (line_words <= cfg.prose_words))
    n_scopes = int(scope.max()) + 1 if len(scope) else 1
    scoped = distinct(content[targets] * np.int64(n_scopes) + scope[doc[targets]])
    # Each distinct content is compared once: a template line repeats on every page.
    index_content, index_first, _ = unique_first_inverse(content[targets])
    rows = unique_rows(*gather(*words, targets[index_first]))
    return VariantTargets(index_content, rows, scoped, n_scopes)


def joined_targets(parts: Sequence[VariantTargets]) -> VariantTargets:
    """The targets of several ranges of documents, as one (blocks of one content have one row)."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty = np.empty(0, np.int64)
        return VariantTargets(empty, (np.empty(0, np.uint32), np.zeros(1, np.int64)), empty, 1)
    content, first, _ = unique_first_inverse(np.concatenate([p.content for p in parts]))
    values, offsets = joined_rows([p.rows for p in parts])
    scoped = distinct(np.concatenate([p.scoped for p in parts]))
    return VariantTargets(content, gather(values, offsets, first), scoped, parts[0].n_scopes)


def join_variants(
    doc: I64,
    words: tuple[U32, I64],
    line_words: I64,
    content: I64,
    content_cluster: I64,
    cluster: I64,
    match: F64,
    block_run: I64,
    span_run: I64,
    scope: I64,
    cfg: ScanConfig,
) -> tuple[I64, F64]:
    """Clusters and scores with short edge lines joined to the boilerplate line they vary.

    A unique line of at most `prose_words` words next to boilerplate joins the
    cluster of the boilerplate line of its scope whose word set is most
    similar, at `variant_threshold` or above (`variant_pairs`); its score
    becomes that similarity. `words` are the CSR word hashes of every block;
    `block_run` and `span_run` those of `Runs` (the rest of the run table is
    not read).
    """
    targets = variant_targets(doc, words, line_words, content, block_run, scope, cfg)
    return join_variants_to(
        targets,
        None,
        doc,
        words,
        line_words,
        content,
        content_cluster,
        cluster,
        match,
        span_run,
        scope,
        cfg,
    )


def variant_queries(doc: I64, line_words: I64, span_run: I64, cfg: ScanConfig) -> I64:
    """The blocks that may join a template line: short, unique, next to boilerplate."""
    queries = edge_blocks(doc, span_run >= 0)
    result: I64 = queries[line_words[queries] <= cfg.prose_words]
    return result


@dataclass(frozen=True)
class QueryRows:
    """Distinct contents of query lines (ascending) and their sorted distinct word hashes."""

    content: I64
    rows: tuple[U32, I64]

    @classmethod
    def of(cls, queries: I64, content: I64, words: tuple[U32, I64]) -> QueryRows:
        """The distinct contents of blocks `queries`, each from its first block."""
        contents, first, _ = unique_first_inverse(content[queries])
        return cls(contents, unique_rows(*gather(*words, queries[first])))

    @classmethod
    def joined(cls, parts: Sequence[QueryRows]) -> QueryRows:
        """The query rows of several ranges of documents, as one."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls(np.empty(0, np.int64), (np.empty(0, np.uint32), np.zeros(1, np.int64)))
        contents, first, _ = unique_first_inverse(np.concatenate([p.content for p in parts]))
        return cls(contents, gather(*joined_rows([p.rows for p in parts]), first))


@dataclass(frozen=True)
class VariantPairs:
    """Pairs of query contents (`QueryRows.content`) and target rows, by query content.

    Query content `content[i]`'s pairs are `offsets[i]` to `offsets[i + 1]`
    - 1, in target row order: `target[j]` indexes `VariantTargets.content`,
    `similarity[j]` is the exact Jaccard similarity of the two word sets.
    """

    content: I64
    offsets: I64
    target: I64
    similarity: F64

    @classmethod
    def of(cls, queries: QueryRows, index: VariantIndex) -> VariantPairs:
        """The pairs at or above the index's threshold (`variant_pairs`)."""
        pair_query, pair_index, similarity = index.pairs(queries.rows)
        # Stable: each query's pairs stay in target row order.
        order = stable_argsort(pair_query)
        per_query = np.bincount(pair_query[order], minlength=len(queries.content))
        offsets = np.zeros(len(queries.content) + 1, dtype=np.int64)
        np.cumsum(per_query, out=offsets[1:])
        return cls(queries.content, offsets, pair_index[order], similarity[order])


def join_variants_to(
    targets: VariantTargets,
    index: VariantIndex | None,
    doc: I64,
    words: tuple[U32, I64],
    line_words: I64,
    content: I64,
    content_cluster: I64,
    cluster: I64,
    match: F64,
    span_run: I64,
    scope: I64,
    cfg: ScanConfig,
) -> tuple[I64, F64]:
    """`join_variants` of these blocks to `targets` (of these blocks or of more).

    `index` is `VariantIndex.of(targets.rows, ...)` when built already (for
    several ranges of documents); built here when None and needed.
    """
    queries = variant_queries(doc, line_words, span_run, cfg)
    if not len(queries) or not len(targets.content):
        return cluster, match
    if index is None:
        index = VariantIndex.of(targets.rows, cfg.variant_threshold, cfg.num_perm, cfg.seed)
    pairs = VariantPairs.of(QueryRows.of(queries, content, words), index)
    return join_found(targets, pairs, queries, doc, content, content_cluster, cluster, match, scope)


def join_found(
    targets: VariantTargets,
    pairs: VariantPairs,
    queries: I64,
    doc: I64,
    content: I64,
    content_cluster: I64,
    cluster: I64,
    match: F64,
    scope: I64,
) -> tuple[I64, F64]:
    """Clusters and scores of these blocks with query blocks `queries` joined by `pairs`.

    `pairs` hold every query block's content (of these blocks or of more).
    """
    if not len(queries) or not len(targets.content):
        return cluster, match
    n_scopes = np.int64(targets.n_scopes)
    row = table_rows(pairs.content, content[queries])
    # From distinct contents back to query blocks, keeping targets of the block's scope.
    lo = pairs.offsets[row]
    count = pairs.offsets[row + 1] - lo
    block = np.repeat(np.arange(len(queries)), count)
    pair = np.repeat(lo, count) + (
        np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    )
    target = targets.content[pairs.target[pair]]
    # `scoped` is sorted and distinct: a walk along it (`table_rows`) took
    # 2-7 ms a range of the 406 MB corpus where `np.isin` took 130-210 ms.
    allowed = table_rows(targets.scoped, target * n_scopes + scope[doc[queries[block]]]) >= 0
    block, target, sim = block[allowed], target[allowed], pairs.similarity[pair][allowed]
    best, score = best_variant(block, target, sim, content_cluster[target], len(queries))
    found = best >= 0
    changed = queries[found]
    cluster = cluster.copy()
    match = match.copy()
    cluster[changed] = content_cluster[best[found]]
    match[changed] = score[found]
    return cluster, match


def split_glued(
    block_texts: Sequence[str],
    edges: I64,
    cuts: Cuts,
    doc: I64,
    start: I64,
    end: I64,
    *columns: NDArray[np.generic],
) -> tuple[I64, I64, I64, I64, I64, I64, I64, F64]:
    """Block arrays with every cut block split into its glued passages and unique rest.

    See `split_glued_carrying`, which this calls with no carried column.
    """
    return split_glued_carrying(block_texts, edges, cuts, doc, start, end, columns, ())[0]


def split_glued_carrying(
    block_texts: Sequence[str],
    edges: I64,
    cuts: Cuts,
    doc: I64,
    start: I64,
    end: I64,
    columns: Sequence[NDArray[np.generic]],
    carried: Sequence[I64],
) -> tuple[tuple[I64, I64, I64, I64, I64, I64, I64, F64], list[I64]]:
    """Block arrays with every cut block split into its glued passages and unique rest.

    `block_texts[i]` is the text of block `edges[cuts.block[i]]` (its
    `start` to `end`). `columns` are (content, cluster, words, prose, match); a glued passage
    gets content -1, its key as cluster, its word count as words and prose,
    and match 1.0 (it repeats exactly); the rest keeps the block's values.
    Each `carried` int64 column is split the same way, -1 for a glued
    passage and the block's value for the rest (returned second, in order).
    """
    content, cluster, words, prose, match = columns
    cut_blocks = edges[cuts.block]
    rows: list[tuple[int, int, int, int, int, int, int, float]] = []
    source: list[int] = []  # the block each new row comes from
    for i, b in enumerate(cut_blocks.tolist()):
        d, base = int(doc[b]), int(start[b])
        lo, hi = base + int(cuts.start[i]), base + int(cuts.end[i])
        n = int(cuts.words[i])
        rows.append((d, lo, hi, -1, int(cuts.key[i]), n, n, 1.0))
        source.append(b)
    # The unique rest: the block minus its cuts, trimmed of white space.
    # The cuts of one block are neighbours: `glued_runs` orders them by block.
    heads = np.flatnonzero(np.r_[True, cut_blocks[1:] != cut_blocks[:-1]])
    tails = np.append(heads[1:], len(cut_blocks))
    for first, last in zip(heads.tolist(), tails.tolist(), strict=True):
        b = int(cut_blocks[first])
        d, pos = int(doc[b]), int(start[b])
        base, text = pos, block_texts[first]
        bounds = [(pos + int(cuts.start[i]), pos + int(cuts.end[i])) for i in range(first, last)]
        for lo, hi in [*sorted(bounds), (int(end[b]), int(end[b]))]:
            piece = text[pos - base : lo - base]
            stripped = piece.strip()
            if stripped:
                first = pos + (len(piece) - len(piece.lstrip()))
                rows.append(
                    (
                        d,
                        first,
                        first + len(stripped),
                        int(content[b]),
                        int(cluster[b]),
                        int(words[b]),
                        int(prose[b]),
                        float(match[b]),
                    )
                )
                source.append(b)
            pos = hi
    new = [np.array(col) for col in zip(*rows, strict=True)]
    # Blocks do not overlap, so a block's pieces take its place in the
    # (doc, start) order: each cut block is replaced by its pieces sorted by
    # start, without sorting all blocks again.
    order = lexsort2(new[1], new[0])
    at = np.asarray(source, dtype=np.int64)[order]
    removed = distinct(cut_blocks)
    # Position of each new row in the result: the kept blocks before its
    # source block, plus the new rows before it.
    at = at - np.searchsorted(removed, at) + np.arange(len(at))
    old = (doc, start, end, content, cluster, words, prose, match)
    out = [splice(col, removed, at, added[order]) for col, added in zip(old, new, strict=True)]
    # Carried columns: a glued passage (the first rows of `source`) gets -1,
    # a piece of the rest its block's value.
    glued = np.arange(len(source)) < len(cut_blocks)
    from_block = np.asarray(source, dtype=np.int64)
    kept: list[I64] = [
        splice(col, removed, at, np.where(glued, -1, col[from_block])[order]) for col in carried
    ]
    split: tuple[I64, I64, I64, I64, I64, I64, I64, F64] = (
        out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7].astype(np.float64)
    )  # fmt: skip
    return split, kept
