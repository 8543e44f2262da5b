"""Connected components over an edge list."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dedup.core.lsh import unique_pairs
from dedup.core.sorting import lexsort2

I64 = NDArray[np.int64]


def components(n: int, left: I64, right: I64) -> I64:
    """int64[n]: for every node, the smallest node index of its component.

    Labelling by the smallest member makes the result independent of edge
    order and of the solver's own numbering.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    result: I64 = smallest[labels]
    return result


# --- Components without the whole graph on one node --------------------------------
#
# Large-star and small-star (Kiveris et al., "Connected Components in MapReduce
# and Beyond", 2014) each look only at one node and its neighbours, so a
# distributed engine runs them on partitions of an edge list shuffled by
# node. Alternated until the edge set stops changing, they leave every
# component a star around its smallest node: `star_labels` then reads off the
# same labels as `components` (the smallest member), in node values rather
# than indices.


def both_ways(left: I64, right: I64) -> tuple[I64, I64]:
    """Every undirected edge as two directed ones (source, neighbour), self-loops dropped."""
    keep = left != right
    return np.concatenate((left[keep], right[keep])), np.concatenate((right[keep], left[keep]))


def _neighbourhoods(source: I64, neighbour: I64) -> tuple[I64, I64, I64, I64]:
    """Directed edges sorted by source, with each source's first edge and smallest neighbour."""
    order = lexsort2(neighbour, source)
    source, neighbour = source[order], neighbour[order]
    heads = np.flatnonzero(np.r_[True, source[1:] != source[:-1]]) if len(source) else source
    smallest = np.minimum(neighbour[heads], source[heads]) if len(source) else source
    return source, neighbour, heads, smallest


def large_star(source: I64, neighbour: I64) -> tuple[I64, I64]:
    """Edges (v, m(u)) for every neighbour v > u of every source u; m(u) = min(u, N(u)).

    `source` and `neighbour` hold every directed edge of each source present
    (see `both_ways`); the result is an undirected edge list, deduplicated.
    """
    if not len(source):
        return source, neighbour
    source, neighbour, heads, smallest = _neighbourhoods(source, neighbour)
    least = np.repeat(smallest, np.diff(np.append(heads, len(source))))
    keep = neighbour > source
    return unique_pairs(neighbour[keep], least[keep])


def small_star(source: I64, neighbour: I64) -> tuple[I64, I64]:
    """Edges (v, m) for u and each neighbour v < u, m = min(u, those v); see `large_star`."""
    lower = neighbour < source
    source, neighbour = source[lower], neighbour[lower]
    if not len(source):
        return source, neighbour
    source, neighbour, heads, smallest = _neighbourhoods(source, neighbour)
    least = np.repeat(smallest, np.diff(np.append(heads, len(source))))
    left = np.concatenate((neighbour, source[heads]))
    right = np.concatenate((least, smallest))
    keep = left != right
    return unique_pairs(left[keep], right[keep])


def star_labels(source: I64, neighbour: I64) -> tuple[I64, I64]:
    """(node, label) of every source: the smallest of itself and its neighbours.

    Once large-star and small-star rounds no longer change the edges, this is
    the smallest node of each node's component, as `components` labels it.
    """
    if not len(source):
        return source, neighbour
    source, _, heads, smallest = _neighbourhoods(source, neighbour)
    return source[heads], smallest
