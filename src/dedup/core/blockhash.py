"""Blocks of a batch of documents with their keys, shingle hashes and word hashes.

`hash_blocks` is what the pipeline calls: the compiled kernel for line
blocks, the Python reference (`python_blocks`) for paragraphs. Both give the
same arrays for the same input; `tests/test_core_kernel.py` proves it for
lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.fastops import gather
from dedup.core.lsh import GOLDEN, fmix64
from dedup.core.shingles import content_key, shingle_hash, shingle_strings
from dedup.core.sorting import distinct, unique_first_inverse
from dedup.core.text import split_blocks, tokens

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]


@dataclass(frozen=True)
class BlockHashes:
    """Every block of a batch of documents, sorted by (doc, start).

    Attributes:
        doc: int64[B], index into the batch of the block's document.
        start, end: int64[B], half-open code-point offsets into that document.
        key: int64[B], `shingles.content_key` of the block's words.
        hashes: uint32, every block's shingle hashes concatenated, each block's
            in `shingles.shingle_strings` order (not sorted, may repeat);
            block i's are hashes[offsets[i]:offsets[i + 1]].
        offsets: int64[B + 1].
        words: uint32, xxh32 of every normalised word (`text.tokens`) of every
            block, in order; block i's are words[word_offsets[i]:word_offsets[i + 1]].
        word_offsets: int64[B + 1].
        first_char, last_char: uint32[B], the code points of each block's first
            and last character (used to see hard-wrapped prose).
    """

    doc: I64
    start: I64
    end: I64
    key: I64
    hashes: U32
    offsets: I64
    words: U32
    word_offsets: I64
    first_char: U32
    last_char: U32


@dataclass(frozen=True)
class ClusteredBlocks:
    """What the index reads of the blocks an analysis clustered.

    They are `hash_blocks` of its texts, before glued passages were cut
    out. Per distinct content (ascending `key`): `first`, the first block
    that holds it, and that block's shingle hashes as CSR rows (`hashes`,
    `offsets`); per document, `doc_blocks`, its number of blocks. Blocks of
    one content have the same hashes (their key is their normalised text's),
    so the index's sets need no other rows: on the 406 MB benchmark corpus
    these are 3.2 M rows of 9.1 M, held from the block matching to the index.
    """

    key: I64
    first: I64
    hashes: U32
    offsets: I64
    doc_blocks: I64

    @classmethod
    def of(
        cls, blocks: BlockHashes, n_docs: int, keys: I64 | None = None, first: I64 | None = None
    ) -> ClusteredBlocks:
        """Copied from `blocks` of `n_docs` documents (the blocks can go then).

        `keys` and `first` are `unique_first_inverse(blocks.key)`'s first
        two results, when known already.
        """
        if keys is None or first is None:
            keys, first, _ = unique_first_inverse(blocks.key)
        hashes, offsets = gather(blocks.hashes, blocks.offsets, first)
        doc_blocks = np.bincount(blocks.doc, minlength=n_docs).astype(np.int64)
        return cls(keys, first, hashes, offsets, doc_blocks)


def rows_csr(rows: list[list[int]]) -> tuple[U32, I64]:
    """uint32 CSR (values, offsets) of lists of hashes."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.fromiter((h for r in rows for h in r), dtype=np.uint32, count=int(offsets[-1]))
    return values, offsets


def python_blocks(texts: Sequence[str], cfg: ScanConfig) -> BlockHashes:
    """The reference: split, normalise and hash block by block in Python."""
    doc: list[int] = []
    first_char: list[int] = []
    last_char: list[int] = []
    start: list[int] = []
    end: list[int] = []
    key: list[int] = []
    shingles: list[list[int]] = []
    words: list[list[int]] = []
    for d, text in enumerate(texts):
        starts, ends = split_blocks(text, cfg.block_mode)
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            block_words = tokens(text[a:b], cfg.normalize)
            doc.append(d)
            first_char.append(ord(text[a]))
            last_char.append(ord(text[b - 1]))
            start.append(a)
            end.append(b)
            key.append(content_key(block_words))
            shingles.append(
                [shingle_hash(s.encode("utf-8")) for s in shingle_strings(block_words, cfg.ngram)]
            )
            words.append([shingle_hash(w.encode("utf-8")) for w in block_words])
    hashes, offsets = rows_csr(shingles)
    word_values, word_offsets = rows_csr(words)
    as_i64 = np.array
    return BlockHashes(
        as_i64(doc, dtype=np.int64),
        as_i64(start, dtype=np.int64),
        as_i64(end, dtype=np.int64),
        as_i64(key, dtype=np.int64),
        hashes,
        offsets,
        word_values,
        word_offsets,
        np.array(first_char, dtype=np.uint32),
        np.array(last_char, dtype=np.uint32),
    )


def hash_blocks(
    texts: Sequence[str],
    cfg: ScanConfig,
    workers: int = 1,
    text_counts: tuple[Sequence[int] | I64, Sequence[int] | I64] | None = None,
) -> BlockHashes:
    """Blocks of `texts`: compiled for line blocks, Python for paragraphs.

    With `workers` > 1 the compiled kernel scans that many batches of
    documents at a time on threads: the result is the same as with one.
    `text_counts` are each text's length in code points and line feeds, when
    known (see `kernel.line_blocks`).
    """
    if cfg.block_mode != "line":
        return python_blocks(texts, cfg)
    # Imported here: compiling the kernel is only worth it when it runs.
    from dedup.core.kernel import line_blocks

    return line_blocks(texts, cfg, workers, text_counts)


def shard_bounds(lengths: Sequence[int], shards: int) -> list[int]:
    """Cut points 0 = c0 < c1 < ... = len(lengths) into about equally long shards."""
    n = len(lengths)
    if shards <= 1 or n < 2:
        return [0, n]
    total = np.cumsum(np.asarray(lengths, dtype=np.int64))
    targets = total[-1] * np.arange(1, shards) / shards
    inner = np.searchsorted(total, targets, side="left") + 1
    return sorted({0, n, *[int(c) for c in inner if 0 < c < n]})


def select_docs(blocks: BlockHashes, order: Sequence[int], n_docs: int) -> BlockHashes:
    """The blocks of documents `order[0], order[1], ...`, renumbered 0, 1, ...

    `n_docs` is the number of documents in `blocks`. A caller may have
    hashed documents in input order; the analysis wants them sorted by id.
    """
    from dedup.core.fastops import gather

    picked = np.asarray(order, dtype=np.int64)
    per_doc = np.searchsorted(blocks.doc, np.arange(n_docs + 1))
    counts = (per_doc[1:] - per_doc[:-1])[picked]
    rows = np.repeat(per_doc[:-1][picked] - np.cumsum(counts) + counts, counts) + np.arange(
        int(counts.sum())
    )
    hashes, offsets = gather(blocks.hashes, blocks.offsets, rows)
    words, word_offsets = gather(blocks.words, blocks.word_offsets, rows)
    return BlockHashes(
        doc=np.repeat(np.arange(len(picked), dtype=np.int64), counts),
        start=blocks.start[rows],
        end=blocks.end[rows],
        key=blocks.key[rows],
        hashes=hashes,
        offsets=offsets,
        words=words,
        word_offsets=word_offsets,
        first_char=blocks.first_char[rows],
        last_char=blocks.last_char[rows],
    )


def word_shingles(words: U32, n: int) -> U32:
    """Sorted distinct hashes of the n-grams of a word-hash sequence.

    Used to compare whole documents across line breaks. A sequence of at
    most `n` words is one shingle; an empty one has none. Each n-gram's hash
    mixes its words position by position, so order matters.
    """
    m = len(words)
    if m == 0:
        return np.empty(0, dtype=np.uint32)
    width = min(n, m)
    count = m - width + 1
    mixed = fmix64(words.astype(np.uint64) + GOLDEN)
    acc = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        acc = fmix64(acc ^ mixed[j : j + count]) + GOLDEN
    return distinct((acc >> np.uint64(32)).astype(np.uint32))
