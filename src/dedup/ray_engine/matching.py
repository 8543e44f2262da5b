"""Block matching on Ray Data: distinct contents, LSH buckets, verified pairs, components.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from dedup.arrow import ints, pair_rows
from dedup.config import ScanConfig
from dedup.core.graph import components
from dedup.ray_engine import stages
from dedup.ray_engine.session import RaySettings

Dataset = Any  # ray.data.Dataset: Ray is optional, so its types are not imported here
_ARROW: dict[str, Any] = {"batch_format": "pyarrow", "batch_size": None}


def shuffle(ds: Dataset, column: str, parts: int, fn: Any, **kwargs: Any) -> Dataset:
    """`fn` applied to each of `parts` hash partitions of `ds` by `column` (whole partitions)."""
    keyed = ds.map_batches(stages.with_part, fn_kwargs={"column": column, "parts": parts}, **_ARROW)
    return keyed.groupby(stages.PART, num_partitions=parts).map_groups(
        fn, batch_format="pyarrow", fn_kwargs=kwargs
    )


def similarities(pairs: Dataset, sets: Dataset, parts: int) -> Dataset:
    """Exact Jaccard similarity of each distinct pair of content keys (`PAIR_ROWS`)."""
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
    components were found on the driver).
    """

    key: np.ndarray
    cluster: np.ndarray
    score: np.ndarray
    edges: int
    rounds: int


def match_blocks(
    ray: Any, blocks: Dataset, cfg: ScanConfig, parts: int, settings: RaySettings
) -> Matches:
    """`content_clusters` of the contents of `blocks` (`BLOCK_ROWS`), on the cluster."""
    sets = shuffle(
        blocks.select_columns(["key", "hashes"]), "key", parts, stages.contents_partition
    ).materialize()
    bands = sets.map_batches(stages.bands_batch, fn_kwargs={"cfg": cfg}, **_ARROW)
    candidates = shuffle(bands, "band_key", parts, stages.buckets_partition)
    verified = (
        similarities(candidates, sets, parts)
        .map_batches(stages.at_least, fn_kwargs={"threshold": cfg.passage_threshold}, **_ARROW)
        .materialize()
    )
    n_edges = verified.count()
    rounds = 0
    if n_edges <= settings.max_driver_edges:
        labels = driver_components(ray, _collect(ray, verified))
    else:
        labels, rounds = star_components(ray, verified, parts)
    moved = labels.map_batches(stages.unlabelled, **_ARROW)
    scored = _collect(ray, similarities(moved, sets, parts))
    if scored is None:
        empty = np.empty(0, np.int64)
        return Matches(empty, empty, np.empty(0), n_edges, rounds)
    key, cluster = ints(scored, "left"), ints(scored, "right")
    order = np.argsort(key)
    score = np.asarray(scored.column("similarity").to_numpy(), np.float64)
    return Matches(key[order], cluster[order], score[order], n_edges, rounds)
