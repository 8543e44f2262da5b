"""The code points whose normalisation the compiled kernel can do by itself.

`fold_table` is derived from the running Python's `unicodedata` and `re`, the
same tables the Python path uses, and cached on disk next to numba's cache.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

U32 = NDArray[np.uint32]
_WORD = re.compile(r"\w")
_DIGIT = re.compile(r"\d")


# Bump when `build_fold_table` changes, so an old cache file is not used.
_TABLE_VERSION = 1


def _fold_cache_path() -> Path:
    # Next to numba's own cache; the table depends on the Unicode database
    # and on `re`'s idea of \\w, so both versions name the file.
    version = (
        f"v{_TABLE_VERSION}-{unicodedata.unidata_version}"
        f"-py{sys.version_info[0]}{sys.version_info[1]}"
    )
    return Path(__file__).parent / "__pycache__" / f"dedup-fold-{version}.npz"


@functools.lru_cache(maxsize=1)
def fold_table() -> tuple[U32, NDArray[np.bool_]]:
    """`build_fold_table()`, read from a cache file when one was written before.

    Building it walks every code point in Python (about a second); the cache
    makes a scan's start-up cheap. An unwritable cache folder only costs the
    rebuild.
    """
    path = _fold_cache_path()
    try:
        with np.load(path) as cached:
            fold, word = cached["fold"], cached["word"]
        # The kernel indexes these without bounds checks: trust only the right shape.
        if fold.shape != (0x10000,) or word.shape != (0x10000,):
            raise ValueError(f"{path}: unexpected table shape")
    except (OSError, KeyError, ValueError):
        fold, word = build_fold_table()
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        try:
            path.parent.mkdir(exist_ok=True)
            np.savez(tmp, fold=fold, word=word)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
    fold.setflags(write=False)
    word.setflags(write=False)
    return fold, word


def build_fold_table() -> tuple[U32, NDArray[np.bool_]]:
    """The non-ASCII code points that `line_blocks` normalises in compiled code.

    Returns (fold, word), both of length 0x10000 and read-only. fold[c] is
    `chr(c).casefold()` for each c such that, in any block made of ASCII and
    such code points, NFKC changes nothing: c has canonical combining class 0,
    NFKC(c) == c and c is never the second half of a canonical composition
    (so NFKC's quick check says yes), and case folding gives one code point,
    not ASCII, of c's own `\\w` class; neither c nor its folding is white
    space or a `\\d` digit. fold[c] is 0 for every other c: such blocks go
    to Python. word[c] says whether `re` counts c as `\\w`. Derived from the
    running Python's `unicodedata`, the same tables the Python path uses.
    """
    # Second halves of canonical compositions: from decompositions of two code
    # points, plus the Hangul vowel and trailing-consonant jamo (algorithmic).
    second = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}
    for c in range(0x110000):
        parts = unicodedata.decomposition(chr(c)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second.add(int(parts[1], 16))
    fold = np.zeros(0x10000, dtype=np.uint32)
    word = np.zeros(0x10000, dtype=np.bool_)
    for c in range(0x80, 0x10000):
        char = chr(c)
        if 0xD800 <= c <= 0xDFFF or c in second or unicodedata.combining(char):
            continue
        folded = char.casefold()
        if (
            unicodedata.normalize("NFKC", char) != char
            or len(folded) != 1
            or folded.isascii()
            or char.isspace()
            or folded.isspace()
            or _DIGIT.match(char)
            or _DIGIT.match(folded)
            or bool(_WORD.match(char)) != bool(_WORD.match(folded))
        ):
            continue
        fold[c] = ord(folded)
        word[c] = bool(_WORD.match(char))
    return fold, word
