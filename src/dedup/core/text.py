"""Blocks and normalised tokens of a document.

Offsets are half-open code-point offsets into the original text:
`text[start:end]` is the block. Normalisation only decides which blocks hash
alike; it never moves an offset.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from dedup.config import NormalizeConfig
from dedup.core.sorting import distinct

# From the first to the last non-space character of one line. `[^\n]` may
# cross other white space (\r, \u2028), which stays inside the block.
_LINE = re.compile(r"\S(?:[^\n]*\S)?")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]|_")

Offsets = NDArray[np.int64]


@runtime_checkable
class Utf8Texts(Protocol):
    """Texts that give the UTF-8 bytes of a run of them without making strings.

    The hot path decodes such bytes in compiled code, on its threads, instead
    of decoding each text to a `str` and encoding it again, which holds the
    GIL (`runner`'s texts read from disk: `spilled_texts.SpilledTexts`).
    """

    def __len__(self) -> int: ...

    def utf8_range(self, lo: int, hi: int) -> tuple[NDArray[np.uint8], Offsets]:
        """The UTF-8 bytes of texts `lo` to `hi` - 1 one after the other, and
        where each starts (hi - lo + 1 offsets, from 0). Lone surrogates are
        encoded as Python's "surrogatepass" does."""
        ...


def split_lines(text: str) -> tuple[Offsets, Offsets]:
    """Every line with a non-space character is a block, trimmed of white space.

    Returns (starts, ends) as int64 arrays of equal length, in text order.
    White space between blocks belongs to no block.
    """
    starts: list[int] = []
    ends: list[int] = []
    for match in _LINE.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def split_paragraphs(text: str) -> tuple[Offsets, Offsets]:
    """Blank-line-separated paragraphs, each trimmed of surrounding white space.

    A line that holds only white space separates paragraphs.
    """
    starts, ends = split_lines(text)
    if len(starts) < 2:
        return starts, ends
    # A gap between two lines that holds a second newline spans a blank line.
    breaks = np.fromiter(
        (text.count("\n", e, s) >= 2 for e, s in zip(ends[:-1], starts[1:], strict=True)),
        dtype=bool,
        count=len(starts) - 1,
    )
    first = np.concatenate(([True], breaks))
    last = np.concatenate((breaks, [True]))
    return starts[first], ends[last]


def split_blocks(text: str, mode: str) -> tuple[Offsets, Offsets]:
    """Split `text` into blocks: mode "line" or "paragraph"."""
    if mode == "line":
        return split_lines(text)
    if mode == "paragraph":
        return split_paragraphs(text)
    raise ValueError(f"unknown block mode {mode!r}")


# A line ending in one of these ends its sentence or introduces what follows.
_CLOSERS = frozenset(".!?:;\"')]\u00bb\u201d\u2019")
_MIN_WRAPPED_WORDS = 5


def _lower_or_digit(code_points: NDArray[np.uint32]) -> NDArray[np.bool_]:
    """chr(c).islower() or chr(c).isdigit(), element-wise."""
    seen = distinct(code_points)
    flags = np.fromiter(
        (chr(c).islower() or chr(c).isdigit() for c in seen.tolist()),
        dtype=bool,
        count=len(seen),
    )
    return flags[np.searchsorted(seen, code_points)]


_CLOSER_CODES = np.array(sorted(ord(c) for c in _CLOSERS), dtype=np.uint32)


def wrapped_words(
    doc: Offsets,
    words: Offsets,
    first_char: NDArray[np.uint32],
    last_char: NDArray[np.uint32],
) -> Offsets:
    """Words of the hard-wrapped paragraph each line block belongs to.

    Args:
        doc: int64[B] document of each block; blocks sorted by (doc, start).
        words: int64[B] normalised words of each block.
        first_char, last_char: uint32[B] code points of each block's first
            and last character.

    A line continues into the next line of its document when it has at least
    5 words, does not end a sentence (. ! ? : ; or a closing quote or
    bracket), and the next line starts with a lowercase letter or a digit:
    the shape of prose wrapped at a fixed width. Every line of such a
    paragraph gets the paragraph's total, so a quoted paragraph is long prose
    however it was wrapped. Lines of scripts without case never continue.
    """
    n = len(doc)
    if n == 0:
        return words.copy()
    continues = np.zeros(n, dtype=bool)
    continues[:-1] = (
        (words[:-1] >= _MIN_WRAPPED_WORDS)
        & ~np.isin(last_char[:-1], _CLOSER_CODES)
        & (doc[:-1] == doc[1:])
        & _lower_or_digit(first_char[1:])
    )
    # Units are runs of continuing lines plus the line that ends them.
    unit = np.cumsum(np.concatenate(([True], ~continues[:-1]))) - 1
    totals = np.bincount(unit, weights=words).astype(np.int64)
    result: Offsets = totals[unit]
    return result


def normalize(text: str, cfg: NormalizeConfig) -> str:
    """The text that hashing sees: NFKC, case-folded, digits and punctuation masked."""
    if cfg.unicode_nfkc:
        text = unicodedata.normalize("NFKC", text)
    if cfg.casefold:
        text = text.casefold()
    if cfg.mask_digits:
        # Runs of digits become one 0, so "page 9" and "page 10" hash alike.
        text = _DIGITS.sub("0", text)
    if cfg.strip_punctuation:
        text = _PUNCT.sub(" ", text)
    return text


def tokens(block: str, cfg: NormalizeConfig) -> list[str]:
    """Normalised words of a block; never empty for a block with a non-space character.

    A block made only of punctuation ("}", "* * *") would normalise to nothing,
    and one made only of numbers ("02-751-1500", "2018.04.05") to zeros that
    every other such block shares; both keep their case-folded raw words
    instead, so they repeat only where they really do.
    """
    words = normalize(block, cfg).split()
    if words and not (cfg.mask_digits and all(w == "0" for w in words)):
        return words
    return block.casefold().split()
