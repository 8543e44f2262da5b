"""Code-point offsets to UTF-8 byte offsets."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]


def utf8_offsets(text: str, positions: I64) -> I64:
    """UTF-8 byte offset of each code-point offset in `positions` (0..len(text)).

    Lone surrogates (which only `surrogateescape`/`surrogatepass` decoding can
    produce) count as the three bytes `surrogatepass` would write.
    """
    if text.isascii():
        return positions.astype(np.int64, copy=True)
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    widths = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    cumulative = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(widths, out=cumulative[1:])
    return cumulative[positions]
