"""The whole analysis in ranges of documents, from hashing on: `analyze_in_ranges`.

`pipeline.analyze` hashes every document, then matches and labels all
blocks at once; `label_parts.label_in_ranges` labels them in ranges, but
only after hashing has held every block's columns. Here the ranges are cut
before hashing, by the documents' lines (a line block is a line, so a range
of N lines has at most N line blocks), and each range's blocks go to the
`Parts` store as soon as they are hashed. What is held at once over the
whole corpus is then per content, not per block column: each block's
content key while the distinct contents are found (8 bytes a block), and
the shingle hashes of each content's first block, which block matching and
the index read. The result is `analyze`'s (`tests/test_hashed_ranges.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import ClusteredBlocks, hash_blocks
from dedup.core.fastops import gather
from dedup.core.label_parts import Part, Parts, cuts_at, label_parts
from dedup.core.pipeline import Analysis, Stash, check_distinct, content_clusters, in_memory
from dedup.core.sets import joined_rows
from dedup.core.sorting import unique_first_inverse
from dedup.core.text import Utf8Texts

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


class TextRange(Sequence[str]):
    """Texts `lo` to `hi` - 1 of a sequence, numbered from 0, read only when asked for."""

    def __init__(self, texts: Sequence[str], lo: int, hi: int) -> None:
        self.texts, self.lo, self.hi = texts, lo, hi

    def __len__(self) -> int:
        return self.hi - self.lo

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.texts[self.lo + start : self.lo + stop]
        if not -len(self) <= index < len(self):
            raise IndexError(f"text {index} of {len(self)}")
        return self.texts[self.lo + index % len(self)]

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]


class Utf8TextRange(TextRange):
    """A `TextRange` of texts that give their UTF-8 bytes (`text.Utf8Texts`), as they do."""

    def __init__(self, texts: Sequence[str], utf8: Utf8Texts, lo: int, hi: int) -> None:
        super().__init__(texts, lo, hi)
        self.utf8 = utf8

    def utf8_range(self, lo: int, hi: int) -> tuple[NDArray[np.uint8], I64]:
        if not 0 <= lo <= hi <= len(self):
            raise IndexError(f"texts {lo} to {hi} of {len(self)}")
        return self.utf8.utf8_range(self.lo + lo, self.lo + hi)


def text_range(texts: Sequence[str], lo: int, hi: int) -> TextRange:
    """Texts `lo` to `hi` - 1 of `texts`, giving their bytes where `texts` do."""
    if isinstance(texts, Utf8Texts):
        return Utf8TextRange(texts, texts, lo, hi)
    return TextRange(texts, lo, hi)


def line_ranges(newlines: I64, per_range: int) -> list[int]:
    """Cuts 0 = c0 < c1 < ... = n into ranges of documents of about `per_range` lines.

    A document of k line feeds has at most k + 1 lines. A range ends at the
    first document to start at or past each multiple of `per_range` lines,
    so a document of more lines than that has a range of its own.
    """
    lines = np.asarray(newlines, dtype=np.int64) + 1
    return cuts_at(np.concatenate(([0], np.cumsum(lines))), per_range)


def analyze_in_ranges(
    ids: list[str],
    texts: Sequence[str],
    cfg: ScanConfig,
    workers: int = 1,
    group_values: Sequence[str | None] | None = None,
    keep_document_sets: bool = False,
    doc_len: I64 | None = None,
    newlines: I64 | None = None,
    stash: Stash = in_memory,
    *,
    parts: Parts,
    range_lines: int,
) -> Analysis:
    """`pipeline.analyze` of documents in id order, hashed and labelled in ranges.

    Args:
        ids, texts: the documents, sorted by id (distinct).
        cfg, workers, group_values, keep_document_sets, stash: as `analyze`.
        doc_len, newlines: each text's length in code points and its line
            feeds, when known (texts read from disk are then read once, a
            range at a time, to be hashed); measured here when None.
        parts: an empty store, which the ranges wait in from hashing to the
            end (the result's rows are read from it: `Analysis.rows`).
        range_lines: lines per range, about (`line_ranges`).

    Raises:
        DuplicateIdError: two documents share an id.
        ValueError: the ids are not in order, or lengths are not given for
            every text.
    """
    for a, b in itertools.pairwise(ids):
        if a > b:
            raise ValueError(f"analyze_in_ranges: ids must be sorted ({a!r} before {b!r})")
    check_distinct(ids)
    n_docs = len(ids)
    if len(texts) != n_docs:
        raise ValueError(f"{len(texts)} texts for {n_docs} ids")
    if doc_len is None or newlines is None:
        doc_len = np.array([len(t) for t in texts], dtype=np.int64)
        newlines = np.array([t.count("\n") for t in texts], dtype=np.int64)
    if len(doc_len) != n_docs or len(newlines) != n_docs:
        raise ValueError(f"{len(doc_len)} lengths and {len(newlines)} counts for {n_docs} texts")

    block_at, keys_of = _hash_ranges(
        texts, cfg, workers, doc_len, newlines, parts, line_ranges(newlines, range_lines)
    )
    # The distinct contents, over every range's keys: the one step that
    # holds a value per block of the corpus (keys and their ranks).
    all_keys = np.concatenate(keys_of) if keys_of else np.empty(0, np.int64)
    del keys_of
    keys, first, content = unique_first_inverse(all_keys)
    del all_keys
    found = _first_blocks(parts, block_at, keys, first, content, n_docs)
    del content
    contents = np.arange(len(keys), dtype=np.int64)
    clusters, scores = content_clusters(found.hashes, found.offsets, contents, keys, cfg)
    clustered = stash(found) if keep_document_sets else None
    del found, contents
    result = label_parts(
        ids,
        texts,
        parts,
        clusters,
        scores,
        cfg,
        group_values,
        keys,
        keep_document_sets,
        doc_len,
        stash,
    )
    return replace(result, clustered=clustered) if keep_document_sets else result


def _hash_ranges(
    texts: Sequence[str],
    cfg: ScanConfig,
    workers: int,
    doc_len: I64,
    newlines: I64,
    parts: Parts,
    bounds: Sequence[int],
) -> tuple[list[int], list[I64]]:
    """Each range hashed into `parts`; where each range's blocks start, and their content keys."""
    block_at = [0]
    keys_of = []
    for index, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        blocks = hash_blocks(
            text_range(texts, lo, hi), cfg, workers, (doc_len[lo:hi], newlines[lo:hi])
        )
        columns: dict[str, NDArray[Any]] = {
            "doc": blocks.doc + lo,
            "start": blocks.start,
            "end": blocks.end,
            "words": blocks.words,
            "word_offsets": blocks.word_offsets,
            "first_char": blocks.first_char,
            "last_char": blocks.last_char,
            "hashes": blocks.hashes,
            "offsets": blocks.offsets,
        }
        parts.save(index, Part(lo, hi, columns))
        # A copy: the kernel's arrays are views of room made for the worst case.
        keys_of.append(blocks.key.copy())
        block_at.append(block_at[-1] + len(blocks.doc))
        del blocks, columns
    return block_at, keys_of


def _first_blocks(
    parts: Parts, block_at: Sequence[int], keys: I64, first: I64, content: I64, n_docs: int
) -> ClusteredBlocks:
    """Each range given its blocks' contents; the shingle hashes of each content's first block.

    The ranges' shingle hashes are dropped once read: the labelling reads none.
    """
    order = np.argsort(first, kind="stable")
    by_block = first[order]
    pieces = []
    doc_blocks = np.zeros(n_docs, dtype=np.int64)
    for index in range(len(parts)):
        part = parts.load(index)
        a, b = block_at[index], block_at[index + 1]
        lo, hi = np.searchsorted(by_block, [a, b]).tolist()
        pieces.append(gather(part["hashes"], part["offsets"], by_block[lo:hi] - a))
        doc_blocks[part.lo : part.hi] = np.bincount(
            part["doc"] - part.lo, minlength=part.hi - part.lo
        )
        parts.save(index, part.with_columns(("hashes", "offsets"), content=content[a:b]))
        del part
    if pieces:
        values, offsets = joined_rows(pieces)
    else:
        values, offsets = np.empty(0, np.uint32), np.zeros(1, np.int64)
    # From the order of first blocks into the order of contents.
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order), dtype=np.int64)
    hashes, hash_offsets = gather(values, offsets, where)
    return ClusteredBlocks(keys, first, hashes, hash_offsets, doc_blocks)
