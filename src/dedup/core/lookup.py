"""The in-memory lookup that labels one new document against an index.

Built once when an index is opened (`build_lookup`), from the arrays the
index stores (`IndexParts`) and the passages of its spans; after that,
`check.check_document` labels a document with a few binary searches and
small set comparisons, never touching the other documents' text.

Every structure is sorted so that a query is a `searchsorted`:

- contents by key (exact repeats of a block, after normalisation);
- a `BandIndex` over the shingle sets of contents already repeated (near
  repeats, at the passage threshold);
- holders by (cluster, user group, near group), with per-cluster counts and
  an order-free hash of the groups holding it;
- passages (as spans hold them) by key, with the groups holding them;
- a `BandIndex` over documents' word-shingle sets (near-duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.fastops import gather
from dedup.core.index_parts import CSR, IndexParts
from dedup.core.labels import group_starts
from dedup.core.lsh import GOLDEN, band_column, fmix64
from dedup.core.minhash import permutations
from dedup.core.similar import set_band_keys
from dedup.core.sorting import distinct, lexsort2, stable_sorted

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class BandIndex:
    """LSH band keys of index rows, sorted per band for lookups.

    `keys[b]` are band b's keys in ascending order and `rows[b]` the index
    row of each (rows ascending within equal keys).
    """

    keys: I64
    rows: I64

    @classmethod
    def build(cls, band_keys: I64) -> BandIndex:
        """From int64[n, bands] band keys (`similar.set_band_keys`)."""
        n, bands = band_keys.shape
        keys = np.empty((bands, n), dtype=np.int64)
        rows = np.empty((bands, n), dtype=np.int64)
        for band in range(bands):
            keys[band], rows[band] = stable_sorted(band_column(band_keys, band))
        return cls(keys, rows)

    def query(self, query_keys: I64, cap: int) -> tuple[I64, I64]:
        """Distinct (query row, index row) pairs sharing a band key.

        Per band, a query row meets at most `cap` index rows of its bucket
        (the smallest rows), so a crowded bucket costs at most `cap` pairs.
        """
        queries: list[I64] = []
        hits: list[I64] = []
        n_query = query_keys.shape[0]
        for band in range(self.keys.shape[0]):
            lo = np.searchsorted(self.keys[band], query_keys[:, band], side="left")
            hi = np.searchsorted(self.keys[band], query_keys[:, band], side="right")
            count = np.minimum(hi - lo, cap)
            total = int(count.sum())
            if not total:
                continue
            step = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
            queries.append(np.repeat(np.arange(n_query, dtype=np.int64), count))
            hits.append(self.rows[band][np.repeat(lo, count) + step])
        if not queries:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        width = np.int64(max(self.keys.shape[1], 1))
        packed = distinct(np.concatenate(queries) * width + np.concatenate(hits))
        return packed // width, packed % width


def group_hash(groups: I64) -> U64:
    """Per element, the term that `Lookup.cluster_support` sums for a group."""
    return fmix64(groups.astype(np.uint64) + GOLDEN)


@dataclass(frozen=True)
class Lookup:
    """Everything `check_document` needs, as sorted arrays (see the module docstring).

    Contents (sorted by key): `content_*` as in `IndexParts`; `near_content`
    are the contents with a shingle set (rows of `near_sets` and `near_bands`).

    Clusters (sorted by key): `cluster_key`; holders of cluster i are rows
    `cluster_first[i]:cluster_first[i + 1]` of `holder_user`/`holder_group`,
    sorted by (user, group); `cluster_groups[i]` counts its distinct groups
    and `cluster_support[i]` sums `group_hash` over them.

    Passages (sorted by key): `passage_key`, groups `passage_group[
    passage_first[i]:passage_first[i + 1]]` hold passage i as a span.

    Documents (in id order): `doc_group`, `doc_user`; `own_rows` and
    `whole_rows` are the documents with a non-empty set in `own_sets` /
    `whole_sets` (rows of the band indexes). `user_groups` are the sorted
    distinct `(user, group)` of documents with blocks; `n_groups` counts
    the near-duplicate groups of all documents.
    """

    cfg: ScanConfig
    user_names: list[str] | None
    content_key: I64
    content_cluster: I64
    content_score: F64
    content_spread: I64
    near_content: I64
    near_sets: CSR
    near_bands: BandIndex
    cluster_key: I64
    cluster_first: I64
    cluster_groups: I64
    cluster_support: U64
    holder_user: I64
    holder_group: I64
    passage_key: I64
    passage_first: I64
    passage_group: I64
    doc_group: I64
    doc_user: I64
    user_group_pairs: I64
    n_groups: int
    own_rows: I64
    own_sets: CSR
    own_bands: BandIndex
    whole_rows: I64
    whole_sets: CSR
    whole_bands: BandIndex

    @property
    def n_docs(self) -> int:
        return len(self.doc_group)


def _nonempty(sets: CSR) -> tuple[I64, CSR]:
    """Rows with at least one value, and the CSR of just those rows."""
    rows = np.flatnonzero(np.diff(sets[1]) > 0).astype(np.int64)
    return rows, gather(sets[0], sets[1], rows)


def _bands(sets: CSR, cfg: ScanConfig, lsh: tuple[int, int]) -> BandIndex:
    keys = set_band_keys(sets[0], sets[1], permutations(cfg.num_perm, cfg.seed), *lsh)
    return BandIndex.build(keys)


def build_lookup(
    parts: IndexParts,
    span_passage: I64,
    span_doc: I64,
    user_names: list[str] | None,
    cfg: ScanConfig,
) -> Lookup:
    """The lookup of an index.

    Args:
        parts: the index's arrays.
        span_passage, span_doc: passage key and document index of every
            boilerplate span of the index.
        user_names: the sorted distinct `--group-by` groups, None when ungrouped.
        cfg: the index's config.
    """
    near_content, near_sets = _nonempty(parts.content_sets)

    order = np.lexsort((parts.holder_group, parts.holder_user, parts.holder_cluster))
    h_cluster = parts.holder_cluster[order]
    h_user, h_group = parts.holder_user[order], parts.holder_group[order]
    heads = np.flatnonzero(group_starts(h_cluster)) if len(h_cluster) else np.empty(0, np.int64)
    cluster_first = np.append(heads, len(h_cluster)).astype(np.int64)
    # Distinct groups per cluster: a group may hold a cluster in two user groups.
    by_group = lexsort2(h_group, h_cluster)
    first_pair = group_starts(h_cluster[by_group], h_group[by_group]) if len(h_cluster) else heads
    cluster_of = np.repeat(np.arange(len(heads)), np.diff(cluster_first))
    cluster_groups = np.bincount(cluster_of[by_group][first_pair], minlength=len(heads))
    support = np.zeros(len(heads), dtype=np.uint64)
    np.add.at(support, cluster_of[by_group][first_pair], group_hash(h_group[by_group][first_pair]))

    group_of_span = parts.doc_group[span_doc]
    order = lexsort2(group_of_span, span_passage)
    pairs = np.stack((span_passage[order], group_of_span[order]))
    if pairs.shape[1]:
        pairs = pairs[:, group_starts(pairs[0], pairs[1])]
    p_heads = np.flatnonzero(group_starts(pairs[0])) if pairs.shape[1] else np.empty(0, np.int64)

    with_blocks = np.flatnonzero(parts.doc_blocks > 0)
    user_group_pairs = distinct(
        parts.doc_user[with_blocks] * np.int64(max(len(parts.doc_group), 1))
        + parts.doc_group[with_blocks]
    )
    own_rows, own_sets = _nonempty(parts.own)
    whole_rows, whole_sets = _nonempty(parts.whole)
    return Lookup(
        cfg=cfg,
        user_names=user_names,
        content_key=parts.content_key,
        content_cluster=parts.content_cluster,
        content_score=parts.content_score,
        content_spread=parts.content_spread,
        near_content=near_content,
        near_sets=near_sets,
        near_bands=_bands(near_sets, cfg, cfg.passage_lsh),
        cluster_key=h_cluster[heads],
        cluster_first=cluster_first,
        cluster_groups=cluster_groups.astype(np.int64),
        cluster_support=support,
        holder_user=h_user,
        holder_group=h_group,
        passage_key=pairs[0][p_heads],
        passage_first=np.append(p_heads, pairs.shape[1]).astype(np.int64),
        passage_group=pairs[1],
        doc_group=parts.doc_group,
        doc_user=parts.doc_user,
        user_group_pairs=user_group_pairs,
        n_groups=len(distinct(parts.doc_group)),
        own_rows=own_rows,
        own_sets=own_sets,
        own_bands=_bands(own_sets, cfg, cfg.doc_lsh),
        whole_rows=whole_rows,
        whole_sets=whole_sets,
        whole_bands=_bands(whole_sets, cfg, cfg.doc_lsh),
    )
