"""Connected components over an edge list."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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
