"""Compiled xxHash (XXH32 and XXH64, seed 0) over slices of uint8 buffers.

Equal to the `xxhash` package for every input (`tests/test_core_kernel.py`);
the kernels in `dedup.core.kernel` call `_xxh32`/`_xxh64` on the normalised
bytes they write, without a Python call per shingle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba  # type: ignore[import-untyped, unused-ignore]
import numpy as np
from numpy.typing import NDArray

U8 = NDArray[np.uint8]

_F = TypeVar("_F", bound=Callable[..., Any])


def _compiled(fn: _F) -> _F:
    """`numba.njit`, cached on disk, releasing the GIL; keeps `fn`'s type for mypy."""
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


def _compiled_inline(fn: _F) -> _F:
    """`_compiled`, inlined into each compiled caller (whose cache then holds it)."""
    return cast(_F, numba.njit(cache=True, nogil=True, inline="always")(fn))


def _compiled_parallel(fn: _F) -> _F:
    return cast(_F, numba.njit(cache=True, nogil=True, parallel=True)(fn))


_M32 = np.uint64(0xFFFFFFFF)
_P32_1 = np.uint64(0x9E3779B1)
_P32_2 = np.uint64(0x85EBCA77)
_P32_3 = np.uint64(0xC2B2AE3D)
_P32_4 = np.uint64(0x27D4EB2F)
_P32_5 = np.uint64(0x165667B1)
_P64_1 = np.uint64(0x9E3779B185EBCA87)
_P64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P64_3 = np.uint64(0x165667B19E3779F9)
_P64_4 = np.uint64(0x85EBCA77C2B2AE63)
_P64_5 = np.uint64(0x27D4EB2F165667C5)
_TOP64 = np.uint64(0x8000000000000000)


# --- xxHash (seed 0) over buf[start:end] -------------------------------------
# 32-bit lanes are held in uint64 and masked after every add and multiply.


@_compiled
def _rotl32(x: np.uint64, r: int) -> np.uint64:
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


@_compiled
def _rotl64(x: np.uint64, r: int) -> np.uint64:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@_compiled
def _read32(buf: U8, p: int) -> np.uint64:
    # Unsigned indices: numba wraps negative signed ones, and those checks
    # keep LLVM from merging the four byte loads into one (xxh32 of 30-byte
    # slices 1.5 times faster).
    q = np.uint64(p)
    return (
        np.uint64(buf[q])
        | (np.uint64(buf[q + np.uint64(1)]) << np.uint64(8))
        | (np.uint64(buf[q + np.uint64(2)]) << np.uint64(16))
        | (np.uint64(buf[q + np.uint64(3)]) << np.uint64(24))
    )


@_compiled
def _round32(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc = (acc + lane * _P32_2) & _M32
    return (_rotl32(acc, 13) * _P32_1) & _M32


@_compiled_inline
def _xxh32(buf: U8, start: int, end: int) -> np.uint64:
    p = start
    if end - start >= 16:
        v1 = (_P32_1 + _P32_2) & _M32
        v2 = _P32_2
        v3 = np.uint64(0)
        v4 = (np.uint64(0x100000000) - _P32_1) & _M32
        while p + 16 <= end:
            v1 = _round32(v1, _read32(buf, p))
            v2 = _round32(v2, _read32(buf, p + 4))
            v3 = _round32(v3, _read32(buf, p + 8))
            v4 = _round32(v4, _read32(buf, p + 12))
            p += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & _M32
    else:
        h = _P32_5
    h = (h + np.uint64(end - start)) & _M32
    while p + 4 <= end:
        h = (h + _read32(buf, p) * _P32_3) & _M32
        h = (_rotl32(h, 17) * _P32_4) & _M32
        p += 4
    while p < end:
        h = (h + np.uint64(buf[np.uint64(p)]) * _P32_5) & _M32
        h = (_rotl32(h, 11) * _P32_1) & _M32
        p += 1
    h ^= h >> np.uint64(15)
    h = (h * _P32_2) & _M32
    h ^= h >> np.uint64(13)
    h = (h * _P32_3) & _M32
    h ^= h >> np.uint64(16)
    return h


@_compiled
def _round64(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc = acc + lane * _P64_2
    return _rotl64(acc, 31) * _P64_1


@_compiled
def _merge64(acc: np.uint64, v: np.uint64) -> np.uint64:
    acc ^= _round64(np.uint64(0), v)
    return acc * _P64_1 + _P64_4


@_compiled_inline
def _xxh64(buf: U8, start: int, end: int) -> np.uint64:
    p = start
    if end - start >= 32:
        v1 = _P64_1 + _P64_2
        v2 = _P64_2
        v3 = np.uint64(0)
        v4 = np.uint64(0) - _P64_1
        while p + 32 <= end:
            v1 = _round64(v1, _read32(buf, p) | (_read32(buf, p + 4) << np.uint64(32)))
            v2 = _round64(v2, _read32(buf, p + 8) | (_read32(buf, p + 12) << np.uint64(32)))
            v3 = _round64(v3, _read32(buf, p + 16) | (_read32(buf, p + 20) << np.uint64(32)))
            v4 = _round64(v4, _read32(buf, p + 24) | (_read32(buf, p + 28) << np.uint64(32)))
            p += 32
        h = _rotl64(v1, 1) + _rotl64(v2, 7) + _rotl64(v3, 12) + _rotl64(v4, 18)
        h = _merge64(_merge64(_merge64(_merge64(h, v1), v2), v3), v4)
    else:
        h = _P64_5
    h += np.uint64(end - start)
    while p + 8 <= end:
        lane = _read32(buf, p) | (_read32(buf, p + 4) << np.uint64(32))
        h ^= _round64(np.uint64(0), lane)
        h = _rotl64(h, 27) * _P64_1 + _P64_4
        p += 8
    if p + 4 <= end:
        h ^= _read32(buf, p) * _P64_1
        h = _rotl64(h, 23) * _P64_2 + _P64_3
        p += 4
    while p < end:
        h ^= np.uint64(buf[np.uint64(p)]) * _P64_5
        h = _rotl64(h, 11) * _P64_1
        p += 1
    h ^= h >> np.uint64(33)
    h *= _P64_2
    h ^= h >> np.uint64(29)
    h *= _P64_3
    h ^= h >> np.uint64(32)
    return h


def xxh32(data: U8) -> int:
    """`xxhash.xxh32_intdigest(data.tobytes())` (seed 0), compiled."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    return int(_xxh32(buf, 0, len(buf)))


def xxh64(data: U8) -> int:
    """`xxhash.xxh64_intdigest(data.tobytes())` (seed 0), compiled."""
    buf = np.ascontiguousarray(data, dtype=np.uint8)
    return int(_xxh64(buf, 0, len(buf)))
