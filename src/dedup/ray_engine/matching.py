"""Block and document matching on Ray Data: LSH buckets, verified pairs, components.

The global step of the analysis (`core.pipeline.content_clusters`) expressed
as shuffles, so that no node holds every content or every edge:

    blocks --shuffle by key--> distinct contents (key, shingle set)
    contents --map--> (band, band key, key) --shuffle by band key--> candidate pairs
    pairs + contents --shuffle by left, then right--> exact Jaccard --> verified edges
    edges --large-star / small-star rounds, shuffled by node--> (node, smallest node)
    (node, label) + contents --the same join--> the score of each node against its label

Only contents that belong to a cluster of two or more come back to the
driver, as (key, cluster key, score): the same values `content_clusters`
gives, in key order.

Near-duplicate documents (`core.near_duplicates.near_duplicate_groups`)
take the same path from their word-shingle sets, made by a task per range
of the labelling (`DocumentMatching`): buckets by the documents' band keys,
verified pairs, components; the driver receives (document, group) of the
documents in groups of two or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from dedup.arrow import ints, pair_rows
from dedup.config import ScanConfig
from dedup.core.graph import components
from dedup.core.label_parts import Parts, Step
from dedup.core.near_duplicates import DocumentSets
from dedup.heap import release_free_heap
from dedup.ray_engine import stages
from dedup.ray_engine.parts import RangeArgs, RayParts, run_step
from dedup.ray_engine.session import RaySettings

I64 = NDArray[np.int64]
Dataset = Any  # ray.data.Dataset: Ray is optional, so its types are not imported here
_ARROW: dict[str, Any] = {"batch_format": "pyarrow", "batch_size": None}


def shuffle(ds: Dataset, column: str, parts: int, fn: Any, **kwargs: Any) -> Dataset:
    """`fn` applied to each of `parts` hash partitions of `ds` by `column` (whole partitions)."""
    keyed = ds.map_batches(stages.with_part, fn_kwargs={"column": column, "parts": parts}, **_ARROW)
    return keyed.groupby(stages.PART, num_partitions=parts).map_groups(
        fn, batch_format="pyarrow", fn_kwargs=kwargs
    )


def similarities(
    ray: Any, pairs: Dataset, sets: Dataset, parts: int, max_pairs: int = 0
) -> Dataset:
    """Exact Jaccard similarity of each distinct pair of content keys (`PAIR_ROWS`).

    When the pairs are at most `max_pairs`, their keys are gathered on
    the driver and only the sets they name are shuffled to meet them: the
    similarities are the same, and the joins carry a few sets instead of
    all (the 46 k candidate pairs among the 1.2 M contents of a 100 MB
    corpus name under a tenth of them).
    """
    pairs = pairs.materialize()
    n_pairs = pairs.count()
    if n_pairs <= max_pairs:
        named = _collect(ray, pairs)
        keys = np.empty(0, np.int64)
        if named is not None:
            keys = np.unique(np.concatenate((ints(named, "left"), ints(named, "right"))))
        del named
        sets = sets.map_batches(stages.sets_among, fn_kwargs={"keys": keys}, **_ARROW)
        sets = sets.materialize()
    set_side = sets.map_batches(stages.sets_to_join, **_ARROW)
    first = set_side.union(pairs.map_batches(stages.pairs_to_join, **_ARROW))
    carried = shuffle(first, "key", parts, stages.carry_left_partition)
    return shuffle(set_side.union(carried), "key", parts, stages.similarity_partition)


def _collect(ray: Any, ds: Dataset) -> pa.Table:
    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    return pa.concat_tables(tables) if tables else None


def _digest(ray: Any, ds: Dataset) -> tuple[int, int]:
    rows = _collect(ray, ds.map_batches(stages.edge_digest, **_ARROW))
    if rows is None:
        return 0, 0
    digest = int(np.sum(np.asarray(rows.column("digest").to_numpy(), np.uint64), dtype=np.uint64))
    return int(np.sum(ints(rows, "edges"))), digest


def star_components(ray: Any, edges: Dataset, parts: int) -> tuple[Dataset, int]:
    """(node, smallest node of its component) for every node of `edges`, and the rounds it took.

    Large-star and small-star alternate until the edge set stops changing
    (same count and digest); each step is one shuffle of the edges by node.
    """
    before = _digest(ray, edges)
    rounds = 0
    while True:
        rounds += 1
        large = shuffle(
            edges.map_batches(stages.directed_batch, **_ARROW),
            "left",
            parts,
            stages.large_star_partition,
        )
        small = shuffle(
            large.map_batches(stages.directed_batch, **_ARROW),
            "left",
            parts,
            stages.small_star_partition,
        ).materialize()
        after = _digest(ray, small)
        edges = small
        if after == before:
            break
        before = after
    directed = edges.map_batches(stages.directed_batch, **_ARROW)
    return shuffle(directed, "left", parts, stages.labels_partition), rounds


def driver_components(ray: Any, edges: pa.Table | None) -> Dataset:
    """(node, smallest node of its component) of a small edge list, on the driver (scipy)."""
    if edges is None:
        return ray.data.from_arrow(pair_rows(np.empty(0, np.int64), np.empty(0, np.int64)))
    left, right = ints(edges, "left"), ints(edges, "right")
    nodes = np.unique(np.concatenate((left, right)))
    group = components(len(nodes), np.searchsorted(nodes, left), np.searchsorted(nodes, right))
    return ray.data.from_arrow(pair_rows(nodes, nodes[group]))


@dataclass(frozen=True)
class Matches:
    """Contents in clusters of two or more: key, cluster key (smallest key), score.

    Every other content is its own cluster with score 1.0. `edges` counts the
    verified pairs and `rounds` the large-star/small-star rounds (0: the
    components were found on the driver); `contents` counts the distinct
    contents.
    """

    key: np.ndarray
    cluster: np.ndarray
    score: np.ndarray
    edges: int
    rounds: int
    contents: int


def verified_pairs(
    ray: Any, sets: Dataset, cfg: ScanConfig, parts: int, max_pairs: int, documents: bool = False
) -> Dataset:
    """The pairs of `sets` (`SET_ROWS`) that LSH proposes and exact Jaccard verifies.

    Contents at `cfg.passage_threshold` with `cfg.passage_lsh`; with
    `documents`, documents at `cfg.doc_threshold` with `cfg.doc_lsh`.
    `max_pairs` as `similarities`.
    """
    bands = sets.map_batches(
        stages.bands_batch, fn_kwargs={"cfg": cfg, "documents": documents}, **_ARROW
    )
    candidates = shuffle(bands, "band_key", parts, stages.buckets_partition)
    threshold = cfg.doc_threshold if documents else cfg.passage_threshold
    return (
        similarities(ray, candidates, sets, parts, max_pairs)
        .map_batches(stages.at_least, fn_kwargs={"threshold": threshold}, **_ARROW)
        .materialize()
    )


def component_labels(
    ray: Any, edges: Dataset, parts: int, settings: RaySettings
) -> tuple[Dataset, int, int]:
    """(node, smallest node of its component) of the nodes of `edges`; the edges; the rounds.

    On the driver up to `settings.max_driver_edges` edges, else in
    large-star/small-star rounds (`star_components`; rounds 0: the driver).
    """
    n_edges = edges.count()
    if n_edges <= settings.max_driver_edges:
        return driver_components(ray, _collect(ray, edges)), n_edges, 0
    labels, rounds = star_components(ray, edges, parts)
    return labels, n_edges, rounds


def match_blocks(
    ray: Any, blocks: Dataset, cfg: ScanConfig, parts: int, settings: RaySettings
) -> Matches:
    """`content_clusters` of the contents of `blocks` (`BLOCK_ROWS`), on the cluster."""
    sets = shuffle(
        blocks.select_columns(["key", "hashes"]), "key", parts, stages.contents_partition
    ).materialize()
    max_pairs = settings.max_driver_edges
    verified = verified_pairs(ray, sets, cfg, parts, max_pairs)
    labels, n_edges, rounds = component_labels(ray, verified, parts, settings)
    moved = labels.map_batches(stages.unlabelled, **_ARROW)
    scored = _collect(ray, similarities(ray, moved, sets, parts, max_pairs))
    contents = sets.count()
    if scored is None:
        empty = np.empty(0, np.int64)
        return Matches(empty, empty, np.empty(0), n_edges, rounds, contents)
    key, cluster = ints(scored, "left"), ints(scored, "right")
    order = np.argsort(key)
    score = np.asarray(scored.column("similarity").to_numpy(), np.float64)
    matches = Matches(key[order], cluster[order], score[order], n_edges, rounds, contents)
    del scored, sets, verified, labels, moved
    # Ray Data's shuffles leave freed native memory in the driver's heap:
    # at 1 GB, 200 MB of RssAnon, 164 MB of it given back here.
    release_free_heap()
    return matches


def _set_tables(
    step: Step[DocumentSets], given: RangeArgs, *args: Any
) -> tuple[pa.Table, pa.Table, list[int]]:
    """A range's two tables of sets (`stages.document_set_rows`) and their row counts.

    `args` are the range's objects (`RayParts.args`), then the step's handles.
    """
    _, _, (_, sets) = run_step(step, given, args)
    own, whole = stages.document_set_rows(sets)
    return own, whole, [own.num_rows, whole.num_rows]


@dataclass(frozen=True)
class DocumentMatching:
    """`near_duplicate_groups` on the cluster, for `label_parts(near_duplicates=...)`.

    Each range's sets are made by a task and stay in the object store as
    two tables (`stages.document_set_rows`); each kind goes through the
    same LSH buckets and verification shuffles as block matching, with the
    documents' banding and threshold, and the edges of both kinds make one
    graph (a document can be of both), whose components are found as
    `component_labels` finds them. The driver receives only the labels of
    the documents in groups of two or more, never a set.
    """

    ray: Any
    cfg: ScanConfig
    partitions: int
    settings: RaySettings

    def __call__(self, parts: Parts, step: Step[DocumentSets], n_docs: int) -> I64:
        """Near-duplicate group of every document (smallest document index in it).

        Raises:
            TypeError: `parts` are not in the object store (`RayParts`).
        """
        if not isinstance(parts, RayParts):
            raise TypeError("DocumentMatching steps ranges kept in Ray's object store")
        ray = self.ray
        task = ray.remote(num_returns=3)(_set_tables)
        made, _, _ = parts.start(task, step)
        counts = np.array(ray.get([n for _, _, n in made]), dtype=np.int64).reshape(-1, 2)
        # A kind of fewer than two sets has no pair: its shuffles are skipped.
        edges = [
            verified_pairs(
                ray,
                ray.data.from_arrow_refs(refs),
                self.cfg,
                self.partitions,
                self.settings.max_driver_edges,
                True,
            )
            for kind, refs in enumerate(([o for o, _, _ in made], [w for _, w, _ in made]))
            if counts[:, kind].sum() >= 2
        ]
        del made
        group = np.arange(n_docs, dtype=np.int64)
        if not edges:
            return group
        both = edges[0].union(*edges[1:]) if len(edges) > 1 else edges[0]
        labels, _, _ = component_labels(ray, both, self.partitions, self.settings)
        found = _collect(ray, labels)
        if found is not None:
            group[ints(found, "left")] = ints(found, "right")
        del found, labels, both, edges
        # As after block matching (`match_blocks`): the shuffles' freed
        # native memory back to the system.
        release_free_heap()
        return group
