"""What `dedup clean` needs from the core: cutting spans out of a text, and its fingerprint.

Offsets are half-open code-point offsets, as in every table.
"""

from __future__ import annotations

import numpy as np
import xxhash
from numpy.typing import NDArray

from dedup.errors import InputError

I64 = NDArray[np.int64]


def cut_spans(text: str, starts: I64, ends: I64) -> str:
    """`text` without the spans `[starts[i], ends[i])`, the rest joined in order.

    Spans must be sorted, must not overlap and must lie within the text;
    empty spans cut nothing.

    Raises:
        InputError: the spans are out of order, overlap or leave the text
            (labels that do not belong to this text).
    """
    n = len(starts)
    if n != len(ends):
        raise InputError(f"{n} span starts but {len(ends)} ends")
    if n == 0:
        return text
    bad = (
        (starts < 0).any()
        or (ends > len(text)).any()
        or (ends < starts).any()
        or (starts[1:] < ends[:-1]).any()
    )
    if bad:
        raise InputError(
            f"spans do not fit a text of {len(text)} characters (out of order, overlapping "
            "or past its end); the labels belong to another version of the text"
        )
    keep_from = np.concatenate(([0], ends)).tolist()
    keep_to = np.concatenate((starts, [len(text)])).tolist()
    return "".join(text[a:b] for a, b in zip(keep_from, keep_to, strict=True) if b > a)


def text_hash(text: str) -> int:
    """xxh64 of the text's UTF-8 bytes, as a signed int64 (Parquet and Spark have no uint64).

    Lone surrogates, which no file decodes to but a caller's string may
    hold, are hashed as `surrogatepass` writes them.
    """
    return int(xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass"))) - (1 << 63)
