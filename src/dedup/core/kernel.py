"""Compiled hot path: line blocks, content keys, shingle hashes, MinHash signatures.

`line_blocks` gives, for a batch of documents, exactly what the Python path
gives block by block (`text.split_lines`, `text.tokens`, `shingles.content_key`,
`shingles.shingle_strings` hashed with xxh32), without calling Python per
block or per shingle. Documents are scanned as code points, so offsets are
code-point offsets directly. Blocks are normalised and hashed in compiled code
when every code point in them is ASCII, white space, or one whose
normalisation depends on nothing but itself (`fold_table`: most letters and
punctuation of the Basic Multilingual Plane). For ASCII, NFKC is the
identity, case folding is `lower()` and `\\w` is `[A-Za-z0-9_]`. Any other
block (combining marks, compatibility characters such as "ﬁ" or "①", digits
beyond 0-9, code points above U+FFFF) goes to the Python functions
themselves, so both paths agree. `signatures_kernel` is `minhash.signatures`
compiled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dedup.config import ScanConfig
from dedup.core.blockhash import BlockHashes, rows_csr
from dedup.core.shingles import content_key, shingle_hash, shingle_strings
from dedup.core.text import Utf8Texts, tokens
from dedup.core.unicode_fold import fold_table
from dedup.core.xxh import _TOP64, _compiled, _compiled_inline, _xxh32, _xxh64
from dedup.errors import ConfigError

U8 = NDArray[np.uint8]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]
# `_scan_lines`' output arrays: seven per block, then two CSR pairs (values, offsets).
_Out = tuple[I64, I64, I64, U64, NDArray[np.bool_], U32, U32, U32, I64, U32, I64]

# --- blocks and shingles ------------------------------------------------------


@_compiled
def _is_space(c: int) -> bool:
    """`chr(c).isspace()`, which is also what `re`'s `\\s` and `str.split()` use."""
    if c <= 0x20:
        return c == 0x20 or 0x09 <= c <= 0x0D or 0x1C <= c <= 0x1F
    if c < 0x85:
        return False
    return (
        c == 0x85
        or c == 0xA0
        or c == 0x1680
        or 0x2000 <= c <= 0x200A
        or c == 0x2028
        or c == 0x2029
        or c == 0x202F
        or c == 0x205F
        or c == 0x3000
    )


def is_space(code_points: U32) -> NDArray[np.bool_]:
    """The kernel's white-space test, element-wise (a test compares it with Python)."""
    cps = np.ascontiguousarray(code_points, dtype=np.uint32)
    return _is_space_array(cps)


@_compiled
def _is_space_array(cps: U32) -> NDArray[np.bool_]:
    out = np.empty(len(cps), dtype=np.bool_)
    for i in range(len(cps)):
        out[i] = _is_space(int(cps[i]))
    return out


@_compiled
def _put_utf8(buf: U8, length: int, c: int) -> int:
    """Write code point c (below 0x10000) to buf[length:] as UTF-8; the new length."""
    if c < 0x80:
        buf[length] = c
        return length + 1
    if c < 0x800:
        buf[length] = 0xC0 | (c >> 6)
        buf[length + 1] = 0x80 | (c & 0x3F)
        return length + 2
    buf[length] = 0xE0 | (c >> 12)
    buf[length + 1] = 0x80 | ((c >> 6) & 0x3F)
    buf[length + 2] = 0x80 | (c & 0x3F)
    return length + 3


# `_ascii_table` codes for what is not written as a byte.
_SPACE, _SEPARATOR, _DIGIT = -1, -2, -3


@functools.cache
def _ascii_table(casefold: bool, mask_digits: bool, strip_punct: bool) -> NDArray[np.int16]:
    """What `text.tokens` makes of each ASCII code point under these settings.

    The byte it becomes (folded to lower case when `casefold`), or `_SPACE`
    (white space), `_SEPARATOR` (a non-space that splits words, as
    `[^\\w\\s]|_` does when punctuation is stripped) or `_DIGIT` (0-9 when
    digits are masked: a run of them becomes one "0").
    """
    table = np.empty(128, dtype=np.int16)
    for c in range(128):
        ch = chr(c)
        if ch.isspace():
            table[c] = _SPACE
        elif ch.isdigit():
            table[c] = _DIGIT if mask_digits else c
        elif ch.isalpha():
            table[c] = ord(ch.lower()) if casefold else c
        else:
            table[c] = _SEPARATOR if strip_punct else c
    table.flags.writeable = False
    return table


@_compiled_inline
def _tokenize(
    cp: U32,
    start: int,
    end: int,
    casefold: bool,
    strip_punct: bool,
    ascii_table: NDArray[np.int16],
    fold: U32,
    word: NDArray[np.bool_],
    buf: U8,
    word_start: I64,
    word_end: I64,
) -> tuple[int, int, int, int]:
    """Bounds and normalised words of cp[start:end], which holds no "\n".

    Writes the words, UTF-8, joined by one space to buf (word i is
    buf[word_start[i]:word_end[i]]); buf must hold 3 * (end - start) bytes,
    word_start and word_end end - start items. Returns (first, last, length,
    n_words): the positions of the first and last non-space code points (-1
    when there are none), the joined length in bytes and the word count.
    length is -1 when a non-space code point is neither ASCII nor in `fold`
    (see `fold_table`): then only Python can normalise the words. ASCII goes
    by `ascii_table` (made with the same casefold and strip_punct).

    Inlined into its caller, and indexed with unsigned integers where it
    reads and writes most: numba checks signed indices for wrap-around,
    a cost in a loop that runs once per code point.
    """
    first = -1
    last = -1
    length = 0
    n_words = 0
    in_word = False
    prev_digit = False
    compiled = True
    for p in range(start, end):
        c = int(cp[np.uint64(p)])
        if c < 128:
            k = int(ascii_table[np.uint64(c)])
            if k != _SPACE:
                if first < 0:
                    first = p
                last = p
                if not compiled:
                    continue
            if k in (_SPACE, _SEPARATOR):  # white space or a separator ends a word
                prev_digit = False
                if in_word:
                    word_end[n_words] = length
                    n_words += 1
                    in_word = False
                continue
            if k == _DIGIT:
                if prev_digit:
                    continue  # a run of digits becomes one "0"
                prev_digit = True
                k = 48
            else:
                prev_digit = False
            if not in_word:
                if n_words > 0:
                    buf[np.uint64(length)] = 32
                    length += 1
                word_start[n_words] = length
                in_word = True
            buf[np.uint64(length)] = k
            length += 1
            continue
        space = _is_space(c)
        if not space:
            if first < 0:
                first = p
            last = p
            if c >= len(fold) or fold[c] == 0:
                compiled = False
        if not compiled:
            continue
        # Every white space, ASCII or not, separates words: NFKC maps each to
        # white space and neither case folding nor `[^\w\s]` touches it.
        prev_digit = False
        if not space:
            space = strip_punct and not word[c]
            if casefold:
                c = int(fold[c])
        if space:
            if in_word:
                word_end[n_words] = length
                n_words += 1
                in_word = False
            continue
        if not in_word:
            if n_words > 0:
                buf[length] = 32
                length += 1
            word_start[n_words] = length
            in_word = True
        length = _put_utf8(buf, length, c)
    if in_word:
        word_end[n_words] = length
        n_words += 1
    if not compiled:
        return first, last, -1, 0
    return first, last, length, n_words


@_compiled
def _only_zeros(buf: U8, word_start: I64, n_words: int, length: int) -> bool:
    """Whether every word of the joined buf[:length] is "0"."""
    if length != 2 * n_words - 1:
        return False
    for i in range(n_words):  # noqa: SIM110 (a plain loop compiles to the simplest code)
        if buf[word_start[i]] != 48:
            return False
    return True


@_compiled
def _scan_lines(
    cp: U32,
    doc_offsets: I64,
    first_doc: int,
    ngram: int,
    casefold: bool,
    mask_digits: bool,
    strip_punct: bool,
    ascii_table: NDArray[np.int16],
    raw_table: NDArray[np.int16],
    fold: U32,
    word: NDArray[np.bool_],
    out: _Out,
    counts: I64,
) -> None:
    """Blocks, keys, shingle and word hashes of the documents of cp, appended to `out`.

    cp holds documents first_doc, first_doc + 1, ... (document i is
    cp[doc_offsets[i]:doc_offsets[i + 1]]). `out` is (doc, start, end, key,
    in_python, first_char, last_char, values, offsets, words, word_offsets),
    with room for every block, shingle and word; counts holds how many
    blocks, shingle hashes and word hashes it holds already, and is updated.
    `start`/`end` are relative to the document, `key` is the unsigned xxh64
    with its top bit flipped; `words` holds the xxh32 of every normalised
    word, block after block; a block with `in_python` set has key 0 and no
    hashes yet.
    """
    doc, start, end, key, in_python, first_char, last_char = out[:7]
    values, offsets, words, word_offsets = out[7:]
    n_blocks, n_values, n_word_values = counts[0], counts[1], counts[2]
    buf = np.empty(768, dtype=np.uint8)
    word_start = np.empty(256, dtype=np.int64)
    word_end = np.empty(256, dtype=np.int64)
    for d in range(len(doc_offsets) - 1):
        base = doc_offsets[d]
        stop = doc_offsets[d + 1]
        p = base
        while p < stop:
            q = p  # the line is cp[p:q]
            while q < stop and cp[q] != 10:
                q += 1
            if q - p > len(word_start):
                buf = np.empty(6 * (q - p), dtype=np.uint8)
                word_start = np.empty(2 * (q - p), dtype=np.int64)
                word_end = np.empty(2 * (q - p), dtype=np.int64)
            first, last, length, n_words = _tokenize(
                cp, p, q, casefold, strip_punct, ascii_table, fold, word, buf, word_start, word_end
            )
            p = q + 1
            if first < 0:
                continue
            b = n_blocks
            n_blocks += 1
            doc[b] = first_doc + d
            start[b] = first - base
            end[b] = last + 1 - base
            first_char[b] = cp[first]
            last_char[b] = cp[last]
            if length < 0:
                in_python[b] = True
                key[b] = 0
                offsets[n_blocks] = n_values
                word_offsets[n_blocks] = n_word_values
                continue
            in_python[b] = False
            if n_words == 0 or (mask_digits and _only_zeros(buf, word_start, n_words, length)):
                # Only punctuation, or only numbers: keep the case-folded raw
                # words, as `text.tokens` does.
                _, _, length, n_words = _tokenize(
                    cp,
                    first,
                    last + 1,
                    True,
                    False,
                    raw_table,
                    fold,
                    word,
                    buf,
                    word_start,
                    word_end,
                )
            key[b] = _xxh64(buf, 0, length) ^ _TOP64
            if n_words <= ngram:
                values[n_values] = np.uint32(_xxh32(buf, 0, length))
                n_values += 1
            else:
                for i in range(n_words - ngram + 1):
                    h = _xxh32(buf, word_start[i], word_end[i + ngram - 1])
                    values[n_values] = np.uint32(h)
                    n_values += 1
            offsets[n_blocks] = n_values
            for i in range(n_words):
                words[n_word_values] = np.uint32(_xxh32(buf, word_start[i], word_end[i]))
                n_word_values += 1
            word_offsets[n_blocks] = n_word_values
    counts[0], counts[1], counts[2] = n_blocks, n_values, n_word_values


@_compiled
def _fill_rows(
    values: U32, used: int, offsets: I64, rows: I64, row_values: U32, row_offsets: I64
) -> None:
    """Fill the empty CSR rows `rows` (ascending) in place: row rows[j] gets
    row_values[row_offsets[j]:row_offsets[j + 1]].

    values[:used] holds the rows now and must have room for the new values
    after them. Values move right, last row first, each by what the rows
    filled before it add; offsets then grow by the same amounts.
    """
    if len(rows) == 0:
        return
    shift = row_offsets[len(rows)]
    hi = used
    for j in range(len(rows) - 1, -1, -1):
        lo = offsets[rows[j] + 1]
        for x in range(hi - 1, lo - 1, -1):
            values[x + shift] = values[x]
        shift -= row_offsets[j + 1] - row_offsets[j]
        at = lo + shift
        for x in range(row_offsets[j], row_offsets[j + 1]):
            values[at + x - row_offsets[j]] = row_values[x]
        hi = lo
    added = 0
    j = 0
    for i in range(rows[0] + 1, len(offsets)):
        while j < len(rows) and rows[j] < i:
            added += row_offsets[j + 1] - row_offsets[j]
            j += 1
        offsets[i] += added


def _insert_rows(
    values: U32, used: int, offsets: I64, rows: I64, row_values: U32, row_offsets: I64
) -> tuple[U32, int]:
    """`_fill_rows`, in a larger copy of `values` when it has no room; (values, used)."""
    total = used + len(row_values)
    if total > len(values):
        grown = np.empty(total, dtype=values.dtype)
        grown[:used] = values[:used]
        values = grown
    # In place: a copy of every shingle and word hash (hundreds of megabytes
    # for a corpus) to insert a few thousand rows took a tenth of hashing.
    _fill_rows(values, used, offsets, rows, row_values, row_offsets)
    return values, total


def code_points(texts: Sequence[str], out: U32 | None = None) -> tuple[U32, I64]:
    """Every code point of `texts`, concatenated, and where each text starts (int64[n + 1]).

    Written to the start of `out` when it is given and long enough (the
    result is then a view of it). Text by text rather than one joined
    string: a single character above U+FFFF would make the joined string
    (and its encoding) four bytes per character for the whole batch. ASCII
    texts, most of a corpus, are copied from their one-byte encoding; UTF-32
    has one unit per code point, lone surrogates included.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    doc_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=doc_offsets[1:])
    total = int(doc_offsets[-1])
    cp = out[:total] if out is not None and len(out) >= total else np.empty(total, np.uint32)
    for text, lo, hi in zip(
        texts, doc_offsets[:-1].tolist(), doc_offsets[1:].tolist(), strict=True
    ):
        if text.isascii():
            cp[lo:hi] = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        else:
            cp[lo:hi] = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cp, doc_offsets


@_compiled
def _decode_utf8(utf8: U8, byte_offsets: I64, char_offsets: I64, out: U32) -> int:
    """Code points of each text's UTF-8 bytes into `out` at `char_offsets`; -1,
    or the first text whose bytes do not give its length in code points.

    Three-byte forms of surrogates decode like any other ("surrogatepass"),
    as the texts' writer encodes lone surrogates. Bytes are not otherwise
    checked: they come from a file this tool wrote from strings.
    """
    for t in range(len(byte_offsets) - 1):
        i, end = byte_offsets[t], byte_offsets[t + 1]
        j, stop = char_offsets[t], char_offsets[t + 1]
        if end - i == stop - j:
            # As many bytes as code points: ASCII (most texts), widened in a
            # loop the compiler vectorises.
            for k in range(stop - j):
                out[j + k] = utf8[i + k]
            if end > i and np.max(utf8[i:end]) >= 0x80:
                return t
            continue
        while i < end and j < stop:
            b = np.uint32(utf8[i])
            if b < 0x80:
                c = b
                i += 1
            elif b < 0xE0:
                if i + 1 >= end:
                    return t
                c = ((b & 0x1F) << 6) | (np.uint32(utf8[i + 1]) & 0x3F)
                i += 2
            elif b < 0xF0:
                if i + 2 >= end:
                    return t
                c = ((b & 0x0F) << 12) | ((np.uint32(utf8[i + 1]) & 0x3F) << 6)
                c |= np.uint32(utf8[i + 2]) & 0x3F
                i += 3
            else:
                if i + 3 >= end:
                    return t
                c = ((b & 0x07) << 18) | ((np.uint32(utf8[i + 1]) & 0x3F) << 12)
                c |= ((np.uint32(utf8[i + 2]) & 0x3F) << 6) | (np.uint32(utf8[i + 3]) & 0x3F)
                i += 4
            out[j] = c
            j += 1
        if i != end or j != stop:
            return t
    return -1


def utf8_code_points(
    utf8: U8, byte_offsets: I64, lengths: I64, out: U32 | None = None
) -> tuple[U32, I64]:
    """`code_points` of texts given as UTF-8 bytes (`text.Utf8Texts.utf8_range`)
    and each one's length in code points, decoded in compiled code.

    Raises:
        ValueError: a text's bytes do not hold its length in code points.
    """
    doc_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=doc_offsets[1:])
    total = int(doc_offsets[-1])
    cp = out[:total] if out is not None and len(out) >= total else np.empty(total, np.uint32)
    bad = _decode_utf8(utf8, byte_offsets, doc_offsets, cp)
    if bad >= 0:
        raise ValueError(f"text {bad} of the batch: its bytes are not {lengths[bad]} code points")
    return cp, doc_offsets


# Code points converted and scanned at a time. The buffer is reused from
# batch to batch: converting a whole shard at once (4 bytes per character)
# made fresh memory, and zeroing fresh pages was a tenth of a scan's time.
_BATCH_CHARS = 1 << 22
# Arrays from this size on are mapped by the allocator on their own, page by
# page as they are written (glibc's largest mmap threshold); the results of
# `line_blocks` are views of them, sized for the worst case.
_LAZY_BYTES = 32 << 20


def batches(lengths: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Consecutive (lo, hi) runs of documents of at most `limit` characters in all.

    A document longer than `limit` is a batch of its own.
    """
    runs: list[tuple[int, int]] = []
    lo, size = 0, 0
    for i, n in enumerate(lengths):
        if size and size + n > limit:
            runs.append((lo, i))
            lo, size = i, 0
        size += n
    if lo < len(lengths):
        runs.append((lo, len(lengths)))
    return runs


# Each text's length in code points and its line feeds ("\n").
TextCounts = tuple[Sequence[int] | I64, Sequence[int] | I64]

# The kernel's result is the pipeline's block structure.
KernelBlocks = BlockHashes


def _room(chars: int, max_blocks: int) -> _Out:
    """Output arrays of `_scan_lines` with room for `chars` characters in `max_blocks` lines.

    Room for every block (one per line at most), shingle and word (one per
    two characters of a line at most, plus one per block). A large np.empty
    is mapped lazily: only what is written becomes resident.
    """
    max_values = (chars + max_blocks) // 2 + max_blocks
    doc, start, end = (np.empty(max_blocks, np.int64) for _ in range(3))
    key = np.empty(max_blocks, np.uint64)
    in_python = np.empty(max_blocks, np.bool_)
    first, last = (np.empty(max_blocks, np.uint32) for _ in range(2))
    values, words = (np.empty(max_values, np.uint32) for _ in range(2))
    offsets, word_offsets = (np.zeros(max_blocks + 1, np.int64) for _ in range(2))
    return (doc, start, end, key, in_python, first, last, values, offsets, words, word_offsets)


def _scan_in_rounds(
    runs: list[tuple[int, int]],
    lengths: list[int],
    newlines: list[int],
    threads: int,
    scan: Callable[[int, int, U32, _Out, I64], None],
    out: _Out,
    counts: I64,
) -> None:
    """`scan` of every batch, up to `threads` batches at a time, appended to `out` in order.

    Each thread scans into arrays of its own, sized for the largest batch
    and reused from round to round; then the batches are copied into `out`
    at their places, side by side too. (Cutting the documents into one range
    per thread and joining the results copied every array into fresh memory
    once more, on one thread: 1.5 s of hashing 406 MB on this machine.) A
    batch longer than `_BATCH_CHARS` (one long document) is scanned straight
    into `out` on its own, so that it is never held twice.
    """
    sizes = [(sum(lengths[lo:hi]), sum(newlines[lo:hi]) + hi - lo) for lo, hi in runs]
    small = [size for size in sizes if size[0] <= _BATCH_CHARS] or [(0, 0)]
    widest = max(chars for chars, _ in small)
    rooms = [_room(widest, max(blocks for _, blocks in small)) for _ in range(threads)]
    buffers = [np.empty(widest, dtype=np.uint32) for _ in range(threads)]
    tallies = [np.zeros(3, dtype=np.int64) for _ in range(threads)]

    def job(slot: int, run: tuple[int, int]) -> None:
        tallies[slot][:] = 0
        scan(run[0], run[1], buffers[slot], rooms[slot], tallies[slot])

    def round_of(group: list[tuple[int, int]]) -> None:
        for done in [pool.submit(job, i, run) for i, run in enumerate(group)]:
            done.result()
        # Each batch's place follows the batches before it.
        places = []
        for slot in range(len(group)):
            places.append(counts.copy())
            counts[:] += tallies[slot]
        copies = [
            pool.submit(_append, rooms[slot], tallies[slot], out, places[slot])
            for slot in range(len(group))
        ]
        for done in copies:
            done.result()

    with ThreadPoolExecutor(threads) as pool:
        group: list[tuple[int, int]] = []
        for run, (chars, _) in zip(runs, sizes, strict=True):
            if chars > _BATCH_CHARS:
                if group:
                    round_of(group)
                    group = []
                scan(run[0], run[1], buffers[0], out, counts)
                continue
            group.append(run)
            if len(group) == threads:
                round_of(group)
                group = []
        if group:
            round_of(group)


def _append(part: _Out, tally: I64, out: _Out, at: I64) -> None:
    """The blocks `part` holds (`tally`: blocks, shingles, words) copied into `out`
    from `at` (blocks, shingles, words) on."""
    n_blocks, n_values, n_words = tally.tolist()
    b, v, w = at.tolist()
    per_block: list[NDArray[Any]] = list(part[:7])
    for i, source in enumerate(per_block):  # doc .. last_char: one value per block
        out[i][b : b + n_blocks] = source[:n_blocks]
    out[7][v : v + n_values] = part[7][:n_values]
    out[9][w : w + n_words] = part[9][:n_words]
    np.add(part[8][1 : n_blocks + 1], v, out=out[8][b + 1 : b + n_blocks + 1])
    np.add(part[10][1 : n_blocks + 1], w, out=out[10][b + 1 : b + n_blocks + 1])


def line_blocks(
    texts: Sequence[str],
    cfg: ScanConfig,
    threads: int = 1,
    text_counts: TextCounts | None = None,
) -> BlockHashes:
    """Blocks, content keys and shingle hashes of `texts`, as the Python path gives them.

    Equal, array for array, to `text.split_lines` on each document then, per
    block, `text.tokens(block, cfg.normalize)`, `shingles.content_key` and
    xxh32 of each of `shingles.shingle_strings(words, cfg.ngram)`. With
    `threads` > 1 batches of documents are scanned side by side (the scan
    releases the GIL); the arrays are the same. `text_counts`, each text's
    length in code points and its line feeds, when known, spare a pass over
    the texts: texts read from disk are then read once, a batch at a time.

    Raises:
        ConfigError: `cfg.block_mode` is not "line".
        UnicodeEncodeError: a block to hash holds a lone surrogate (as the
            Python path does).
    """
    if cfg.block_mode != "line":
        raise ConfigError(f"line_blocks needs --block-mode line, got {cfg.block_mode!r}")
    norm = cfg.normalize
    fold, word = fold_table()
    if text_counts is None:
        lengths, newlines = [len(t) for t in texts], [t.count("\n") for t in texts]
    else:
        lengths, newlines = [int(n) for n in text_counts[0]], [int(n) for n in text_counts[1]]
        if len(lengths) != len(texts) or len(newlines) != len(texts):
            raise ValueError(f"counts of {len(lengths)} and {len(newlines)} texts for {len(texts)}")
    out = _room(sum(lengths), sum(newlines) + len(texts))
    counts = np.zeros(3, dtype=np.int64)
    ascii_table = _ascii_table(norm.casefold, norm.mask_digits, norm.strip_punctuation)
    raw_table = _ascii_table(True, False, False)
    runs = batches(lengths, _BATCH_CHARS)
    # Texts that give their bytes are decoded in the kernel's threads, without
    # the GIL: as strings, decoding and encoding them again took a third of
    # hashing and kept a second thread from gaining.
    utf8_of = texts.utf8_range if text_counts is not None and isinstance(texts, Utf8Texts) else None
    length_of = np.asarray(lengths, dtype=np.int64)

    def scan(lo: int, hi: int, buffer: U32, into: _Out, at: I64) -> None:
        if utf8_of is not None:
            cp, doc_offsets = utf8_code_points(*utf8_of(lo, hi), length_of[lo:hi], buffer)
        else:
            cp, doc_offsets = code_points(texts[lo:hi], buffer)
        _scan_lines(
            cp,
            doc_offsets,
            lo,
            cfg.ngram,
            norm.casefold,
            norm.mask_digits,
            norm.strip_punctuation,
            ascii_table,
            raw_table,
            fold,
            word,
            into,
            at,
        )

    if threads <= 1 or len(runs) < 2:
        buffer = np.empty(min(sum(lengths), _BATCH_CHARS), dtype=np.uint32)
        for lo, hi in runs:
            scan(lo, hi, buffer, out, counts)
    else:
        _scan_in_rounds(runs, lengths, newlines, threads, scan, out, counts)
    doc, start, end, key, in_python, first, last, values, offsets, words, word_offsets = out
    room = values.nbytes
    n_blocks, n_values, n_words = counts.tolist()
    doc, start, end, key = doc[:n_blocks], start[:n_blocks], end[:n_blocks], key[:n_blocks]
    in_python, first, last = in_python[:n_blocks], first[:n_blocks], last[:n_blocks]
    offsets, word_offsets = offsets[: n_blocks + 1], word_offsets[: n_blocks + 1]
    signed = key.view(np.int64)
    rows = np.flatnonzero(in_python).astype(np.int64)
    if len(rows):
        row_hashes: list[list[int]] = []
        row_words: list[list[int]] = []
        text_of, text = -1, ""
        for r in rows.tolist():
            d, a, b = int(doc[r]), int(start[r]), int(end[r])
            if d != text_of:
                # Rows are in document order; a text read from disk is read once.
                text_of, text = d, texts[d]
            block_words = tokens(text[a:b], norm)
            signed[r] = content_key(block_words)
            row_hashes.append(
                [shingle_hash(s.encode("utf-8")) for s in shingle_strings(block_words, cfg.ngram)]
            )
            row_words.append([shingle_hash(w.encode("utf-8")) for w in block_words])
        values, n_values = _insert_rows(values, n_values, offsets, rows, *rows_csr(row_hashes))
        words, n_words = _insert_rows(words, n_words, word_offsets, rows, *rows_csr(row_words))
    arrays: list[NDArray[Any]] = [doc, start, end, signed, values[:n_values], offsets]
    arrays += [words[:n_words], word_offsets, first, last]
    if room < _LAZY_BYTES:
        # Small arrays come from the heap, whose pages may be resident
        # already, and a view would pin all of them: copy, it is cheap.
        arrays = [array.copy() for array in arrays]
    doc, start, end, signed, values, offsets, words, word_offsets, first, last = arrays
    return BlockHashes(doc, start, end, signed, values, offsets, words, word_offsets, first, last)
