"""Code-point offsets to UTF-8 byte offsets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dedup.core.text import Utf8Texts
from dedup.core.xxh import _compiled

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


@_compiled
def _utf8_at(points: U32, positions: I64, out: I64) -> None:
    """out[k] = UTF-8 length of points[:positions[k]], for any order of positions.

    One pass fills the running byte count up to the largest position, then
    one gather: a fifth of the passes (and temporaries) of the numpy version.
    """
    top = 0
    for p in positions:
        top = max(top, p)
    cumulative = np.empty(top + 1, dtype=np.int64)
    total = 0
    cumulative[0] = 0
    for i in range(top):
        c = points[i]
        total += 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4
        cumulative[i + 1] = total
    for k in range(len(positions)):
        out[k] = cumulative[positions[k]]


@_compiled
def _utf8_rows(
    utf8: NDArray[np.uint8],
    byte_offsets: I64,
    group_doc: I64,
    firsts: I64,
    lasts: I64,
    start: I64,
    end: I64,
    start_byte: I64,
    end_byte: I64,
) -> int:
    """start_byte, end_byte of rows `firsts[g]` to `lasts[g]` - 1 of each group g,
    from the UTF-8 bytes of its text (`group_doc[g]` of `byte_offsets`); -1, or
    the first group with an offset outside its text.

    A code point starts at every byte that is not a continuation byte
    (10xxxxxx), lone surrogates' three bytes included.
    """
    widest = 0
    for d in group_doc:
        widest = max(widest, byte_offsets[d + 1] - byte_offsets[d])
    at = np.empty(widest + 1, dtype=np.int64)
    for g in range(len(group_doc)):
        b0, b1 = byte_offsets[group_doc[g]], byte_offsets[group_doc[g] + 1]
        n = 0
        for k in range(b0, b1):
            if (utf8[k] & 0xC0) != 0x80:
                at[n] = k - b0
                n += 1
        at[n] = b1 - b0
        for r in range(firsts[g], lasts[g]):
            if not (0 <= start[r] <= n and 0 <= end[r] <= n):
                return g
            start_byte[r] = at[start[r]]
            end_byte[r] = at[end[r]]
    return -1


def utf8_offsets(text: str, positions: I64) -> I64:
    """UTF-8 byte offset of each code-point offset in `positions` (0..len(text)).

    Lone surrogates (which only `surrogateescape`/`surrogatepass` decoding can
    produce) count as the three bytes `surrogatepass` would write.

    Raises:
        IndexError: a position is outside 0..len(text) (compiled code checks
            no bounds, so they are checked here).
    """
    given = positions
    positions = np.asarray(given, dtype=np.int64)
    if len(positions) and (int(positions.min()) < 0 or int(positions.max()) > len(text)):
        raise IndexError(f"offsets must lie in 0..{len(text)}")
    if text.isascii():
        return positions.copy() if positions is given else positions
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = np.empty(len(positions), dtype=np.int64)
    _utf8_at(points, positions, out)
    return out


def utf8_spans(
    texts: Sequence[str],
    doc: I64,
    start: I64,
    end: I64,
    ascii: NDArray[np.bool_] | None = None,
) -> tuple[I64, I64]:
    """UTF-8 byte offsets (start_byte, end_byte) of spans given in code points.

    `doc` indexes `texts` and is ascending (rows of a document together), as
    in a spans table; each document's text is converted once for both ends.
    `ascii`, when given, says which texts are ASCII (all one byte per code
    point): their offsets are copied, and the texts not read.

    Raises:
        IndexError: an offset lies outside its text (texts said to be ASCII
            are not read, so not checked).
    """
    n = len(doc)
    if n > 1 and bool(np.any(doc[1:] < doc[:-1])):
        raise ValueError("spans must be grouped by document, in ascending order")
    # Offsets of ASCII texts stay as they are; the others are overwritten below.
    start_byte = np.array(start, dtype=np.int64)
    end_byte = np.array(end, dtype=np.int64)
    cuts = np.flatnonzero(np.diff(doc)) + 1 if n else np.empty(0, np.int64)
    firsts = np.r_[0, cuts].astype(np.int64)
    lasts = np.r_[cuts, n].astype(np.int64)
    if ascii is not None and n:
        read = ~ascii[doc[firsts]]
        firsts, lasts = firsts[read], lasts[read]
    if isinstance(texts, Utf8Texts):
        rows = lasts > firsts
        firsts, lasts = firsts[rows], lasts[rows]
        if not len(firsts):
            return start_byte, end_byte
        # One read of the bytes from the first text to convert to the last,
        # converted in compiled code: no string made per text.
        lo_doc, hi_doc = int(doc[firsts[0]]), int(doc[lasts[-1] - 1]) + 1
        utf8, byte_offsets = texts.utf8_range(lo_doc, hi_doc)
        bad = _utf8_rows(
            utf8,
            byte_offsets,
            doc[firsts] - lo_doc,
            firsts,
            lasts,
            np.asarray(start, dtype=np.int64),
            np.asarray(end, dtype=np.int64),
            start_byte,
            end_byte,
        )
        if bad >= 0:
            raise IndexError(f"offsets must lie in 0..{len(texts[int(doc[firsts[bad]])])}")
        return start_byte, end_byte
    for lo, hi in zip(firsts.tolist(), lasts.tolist(), strict=True):
        if lo == hi:
            continue
        both = utf8_offsets(texts[int(doc[lo])], np.concatenate((start[lo:hi], end[lo:hi])))
        start_byte[lo:hi] = both[: hi - lo]
        end_byte[lo:hi] = both[hi - lo :]
    return start_byte, end_byte
