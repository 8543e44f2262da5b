"""Documents' texts kept in one UTF-8 file instead of as Python strings.

A scan reads every text twice, to hash its blocks and to write its tables,
and between the two reads only a few: the blocks where glued passages are
cut. As Python strings, held all the while, the texts of the 406 MB
benchmark corpus took 609 MB (strings of wide characters take 2 or 4 bytes
per character). Spilled, the scan holds 16 bytes per document (byte offset
and length) and reads back what it needs.

`SpilledTexts` is a `Sequence[str]`, so the core reads it as it reads a
list; the adapter layer reads its bytes directly where it can (hashes,
Arrow arrays of the texts, ASCII documents whose byte offsets are their
character offsets).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, overload

import numpy as np
import pyarrow as pa
import xxhash
from numpy.typing import NDArray

from dedup.errors import OutputError

I64 = NDArray[np.int64]

# Bytes read at once where many texts are read in order (hashing them).
_READ_BYTES = 64 << 20


class SpilledTexts(SequenceABC[str]):
    """Texts in one file, as UTF-8 one after the other (lone surrogates as `surrogatepass`).

    `lengths` holds each text's length in code points, `newlines` its
    line feeds, and `byte_offsets` where each begins in the file (and, last,
    its size); `hashes`, when given, each text's `cleaning.text_hash`, taken
    as it was written (else `text_hashes` reads the file). Reads are `pread`
    calls on one open descriptor, so threads may read at once, until
    `close()`, which must not overlap them. As a context manager it closes
    at the end of the block and, if the block raised, removes the file too
    (nothing resumes from it).
    """

    def __init__(
        self,
        path: Path,
        byte_offsets: I64,
        lengths: I64,
        newlines: I64,
        surrogates: bool = False,
        hashes: I64 | None = None,
    ) -> None:
        if hashes is not None and len(hashes) != len(lengths):
            raise ValueError(f"{len(hashes)} text hashes for {len(lengths)} texts")
        self.path = path
        self.byte_offsets = byte_offsets
        self.lengths = lengths
        self.newlines = newlines
        self.hashes = hashes
        # Whether some text holds a lone surrogate, so that its bytes are not UTF-8.
        self.surrogates = surrogates
        self._fd: int | None = os.open(path, os.O_RDONLY)

    @classmethod
    def write(cls, texts: Iterable[str], path: Path) -> SpilledTexts:
        """Write `texts` to a new file at `path` (replaced if there) and open it.

        Raises:
            OSError: the file cannot be written (a full disk); what was
                written of it is removed.
        """
        with TextsWriter(path) as writer:
            writer.add(texts)
            return writer.finish()

    def reordered(self, order: Sequence[int], path: Path) -> SpilledTexts:
        """These texts in `order` (text `order[i]` becomes text i), in a new file at `path`.

        Bytes are copied as they are, a run of texts already in order at a
        time; nothing is decoded. Raises OSError as `write` does.
        """
        picked = np.asarray(order, dtype=np.int64)
        if len(picked) != len(self) or (
            len(picked) and not np.array_equal(np.sort(picked), np.arange(len(self)))
        ):
            raise ValueError(f"order must hold each of the {len(self)} texts once")
        sizes = np.diff(self.byte_offsets)[picked]
        tmp = path.with_name(f"{path.name}.tmp")
        try:
            with open(tmp, "wb") as handle:
                # Runs of consecutive texts: one read each, of at most `_READ_BYTES`
                # (a longer text alone).
                breaks = np.flatnonzero(np.diff(picked) != 1) + 1
                for run in np.split(np.arange(len(picked)), breaks):
                    first = int(picked[run[0]])
                    begin = self.byte_offsets[first : first + len(run)]
                    finish = self.byte_offsets[first + 1 : first + len(run) + 1]
                    for a, b in _spans(begin, finish):
                        lo, hi = int(begin[a]), int(finish[b - 1])
                        handle.write(self._read(lo, hi - lo).data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        offsets = np.zeros(len(picked) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        hashes = None if self.hashes is None else self.hashes[picked]
        return SpilledTexts(
            path, offsets, self.lengths[picked], self.newlines[picked], self.surrogates, hashes
        )

    def __len__(self) -> int:
        return len(self.lengths)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.utf8(index).decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def utf8(self, index: int) -> bytes:
        """The UTF-8 bytes of text `index` (negative counts from the end)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"text {index} of {n}")
        index %= n
        lo, hi = int(self.byte_offsets[index]), int(self.byte_offsets[index + 1])
        return self._read(lo, hi - lo).tobytes()

    def utf8_range(self, lo: int, hi: int) -> tuple[NDArray[np.uint8], I64]:
        """The UTF-8 bytes of texts `lo` to `hi` - 1, one after the other, and where each starts.

        One read; the offsets (hi - lo + 1) count from 0.
        """
        if not 0 <= lo <= hi <= len(self):
            raise IndexError(f"texts {lo} to {hi} of {len(self)}")
        base, end = int(self.byte_offsets[lo]), int(self.byte_offsets[hi])
        utf8 = self._read(base, end - base)
        return utf8, self.byte_offsets[lo : hi + 1] - base

    def ascii(self) -> NDArray[np.bool_]:
        """Whether each text is ASCII: one byte per code point."""
        out: NDArray[np.bool_] = np.diff(self.byte_offsets) == self.lengths
        return out

    def substrings(self, docs: I64, starts: I64, ends: I64) -> list[str]:
        """`self[d][s:e]` of every (d, s, e) (code points), as `pipeline.substrings`.

        Pieces of ASCII texts are sliced from reads of the file in byte
        order, each read covering pieces close together and at most about
        `_READ_BYTES` (`_spans`); a non-ASCII text is read once for all its
        pieces.

        Raises:
            IndexError: a document outside the texts.
            ValueError: a negative offset (slices from the end are not taken).
        """
        out = [""] * len(docs)
        if not len(docs):
            return out
        if int(docs.min()) < 0 or int(docs.max()) >= len(self):
            raise IndexError(f"documents must lie in 0..{len(self) - 1}")
        if len(starts) and min(int(starts.min()), int(ends.min())) < 0:
            raise ValueError("offsets must not be negative")
        ascii = self.ascii()[docs]
        rows = np.flatnonzero(ascii)
        lengths = self.lengths[docs[rows]]
        lo = np.minimum(starts[rows], lengths)
        hi = np.clip(ends[rows], lo, lengths)
        base = self.byte_offsets[docs[rows]]
        begin, finish = base + lo, base + hi
        # Not mapped: the pages of a mapping count in the process's memory
        # until it is closed, and the passages table reads pieces of most
        # texts (the whole file, 0.36 GB of the 406 MB benchmark corpus, at
        # the scan's peak). Reads in byte order hold one span at a time.
        order = np.argsort(begin, kind="stable")
        begin, finish, rows = begin[order], finish[order], rows[order]
        for first, last in _spans(begin, finish):
            at = int(begin[first])
            chunk = self._read(at, int(finish[first:last].max()) - at).data
            for row, a, b in zip(
                rows[first:last].tolist(),
                (begin[first:last] - at).tolist(),
                (finish[first:last] - at).tolist(),
                strict=True,
            ):
                out[row] = str(chunk[a:b], "ascii")
        rest = np.flatnonzero(~ascii)
        rest = rest[np.argsort(docs[rest], kind="stable")]
        for _, group in itertools.groupby(rest.tolist(), key=lambda row: int(docs[row])):
            rows_of = list(group)
            text = self[int(docs[rows_of[0]])]
            for row in rows_of:
                out[row] = text[int(starts[row]) : int(ends[row])]
        return out

    def text_hashes(self) -> I64:
        """`cleaning.text_hash` of every text: as written, or from the file's bytes."""
        if self.hashes is not None:
            return self.hashes.copy()
        out = np.empty(len(self), dtype=np.int64)
        # Texts lie end to end: `_spans` groups them into reads of about
        # `_READ_BYTES` (a larger text alone).
        begin, finish = self.byte_offsets[:-1], self.byte_offsets[1:]
        for first, last in _spans(begin, finish):
            base = int(begin[first])
            view = self._read(base, int(finish[last - 1]) - base).data
            for i, a, b in zip(
                range(first, last),
                (begin[first:last] - base).tolist(),
                (finish[first:last] - base).tolist(),
                strict=True,
            ):
                out[i] = xxhash.xxh64_intdigest(view[a:b]) - (1 << 63)
        return out

    def read_chunks(self, bounds: Iterable[tuple[int, int]]) -> Iterator[pa.LargeStringArray]:
        """Texts [lo, hi) of each of `bounds` as a `large_string` array, read when asked for.

        Each chunk is a copy read from the file, not a view of it mapped
        into memory: a mapping's pages stay in the process's memory until it
        is closed, so a caller that lets each chunk go before the next holds
        one chunk at a time.

        Raises:
            ValueError: a text holds a lone surrogate (no valid UTF-8 holds one).
        """
        if self.surrogates:
            raise ValueError(f"{self.path}: a text holds a lone surrogate, which UTF-8 cannot")
        for lo, hi in bounds:
            base, end = int(self.byte_offsets[lo]), int(self.byte_offsets[hi])
            offsets = self.byte_offsets[lo : hi + 1] - base
            # Not validated in full (a second pass over every byte): the bytes
            # are what `str.encode` wrote, valid UTF-8 but for the surrogates above.
            yield pa.LargeStringArray.from_buffers(
                hi - lo, pa.py_buffer(offsets.tobytes()), pa.py_buffer(self._read(base, end - base))
            )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SpilledTexts:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: the spilled texts are closed")
        return self._fd

    def _read(self, offset: int, size: int) -> NDArray[np.uint8]:
        """`size` bytes from `offset`, read into a new array.

        An array, not `bytes`: numpy gives arrays of 4 MiB and more
        transparent huge pages, where `bytes` of that size are fresh mappings
        faulted in 4 KB at a time (a read of 64 MB: 16,384 page faults).
        """
        return _pread(self._descriptor(), offset, size, self.path)

    def at(self, lo: int, hi: int) -> TextsAt:
        """Where texts `lo` to `hi` - 1 lie in the file, for a process that reads them itself."""
        if not 0 <= lo <= hi <= len(self):
            raise IndexError(f"texts {lo} to {hi} of {len(self)}")
        return TextsAt(str(self.path), self.byte_offsets[lo : hi + 1].copy())


@dataclass(frozen=True)
class TextsAt:
    """Texts of a `SpilledTexts` file, one after the other: the file and the
    byte offset where each begins, then the end of the last.

    Small enough to hand to another process (a Ray task on a node that
    mounts the file, as the output's folder): it reads the texts itself,
    and they never pass through the one that wrote them.
    """

    path: str
    byte_offsets: I64

    def __len__(self) -> int:
        return len(self.byte_offsets) - 1

    def read(self) -> tuple[NDArray[np.uint8], I64]:
        """The texts' UTF-8 bytes and where each starts (from 0), as `SpilledTexts.utf8_range`.

        Raises:
            OutputError: the file is gone or shorter than its texts.
        """
        base, end = int(self.byte_offsets[0]), int(self.byte_offsets[-1])
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise OutputError(
                f"{self.path}: this scan's spilled texts cannot be read ({exc.strerror}); "
                "the folder beside the output must be readable on every node: run the scan again"
            ) from exc
        try:
            utf8 = _pread(fd, base, end - base, Path(self.path))
        finally:
            os.close(fd)
        return utf8, self.byte_offsets - base


def _pread(fd: int, offset: int, size: int, path: Path) -> NDArray[np.uint8]:
    """`size` bytes of open file `fd` (`path`) from `offset`, into a new array."""
    out = np.empty(size, dtype=np.uint8)
    view = out.data
    done = 0
    while done < size:
        # pread returns at most about 2 GB on Linux: a larger text takes several.
        got = os.preadv(fd, [view[done:]], offset + done)
        if not got:
            raise OutputError(
                f"{path}: this scan's spilled texts end before byte {offset + size}: "
                "the file was changed while the scan ran; run the scan again"
            )
        done += got
    return out


class TextsWriter:
    """Texts appended to a new file, a batch at a time, then opened as `SpilledTexts`.

    A scan adds each shard's texts as it is read, so that no text is held
    as a string past its shard. The file is written aside and renamed by
    `finish` (see `SpilledTexts.write`); leaving a `with` block without
    `finish` removes what was written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # Written aside and renamed: a file of that name may still be open
        # for an earlier scan's texts in this process (chunks not yet read),
        # which keep reading the old file instead of one cut short.
        self._tmp = path.with_name(f"{path.name}.tmp")
        self._handle: BinaryIO | None = open(self._tmp, "wb")  # noqa: SIM115 (closed by finish)
        self._offsets: list[int] = [0]
        self._lengths: list[int] = []
        self._newlines: list[int] = []
        # Hashed here, where each text's bytes are at hand: the documents
        # table would otherwise read the whole file back for them (0.4 s of
        # a 406 MB scan, on one thread).
        self._hashes: list[int] = []
        self._surrogates = False

    def add(self, texts: Iterable[str]) -> None:
        """Append `texts`. Raises OSError when they cannot be written (a full disk)."""
        if self._handle is None:
            raise ValueError(f"{self.path}: texts added after the file was finished")
        for text in texts:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:
                data = text.encode("utf-8", "surrogatepass")
                self._surrogates = True
            self._handle.write(data)
            self._offsets.append(self._offsets[-1] + len(data))
            self._lengths.append(len(text))
            self._newlines.append(data.count(b"\n"))
            self._hashes.append(xxhash.xxh64_intdigest(data) - (1 << 63))

    def finish(self) -> SpilledTexts:
        """The texts added, opened from their file."""
        if self._handle is None:
            raise ValueError(f"{self.path}: finished already")
        self._handle.close()
        self._handle = None
        try:
            os.replace(self._tmp, self.path)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return SpilledTexts(
            self.path,
            np.array(self._offsets, dtype=np.int64),
            np.array(self._lengths, dtype=np.int64),
            np.array(self._newlines, dtype=np.int64),
            self._surrogates,
            np.array(self._hashes, dtype=np.int64),
        )

    def __enter__(self) -> TextsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._tmp.unlink(missing_ok=True)


# Pieces further apart than this are read by separate calls, so that a read
# does not carry the bytes between them.
_GAP_BYTES = 1 << 20


def _spans(begin: I64, finish: I64) -> Iterator[tuple[int, int]]:
    """Runs [first, last) of pieces, sorted by `begin`, to read with one call each.

    A run ends before a piece that begins more than `_GAP_BYTES` after the
    bytes read so far, or that would make the read longer than
    `_READ_BYTES` (a single longer piece is read alone).
    """
    starts, ends = begin.tolist(), finish.tolist()
    first, lo, hi = 0, 0, 0
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if i == first:
            lo, hi = a, b
        elif a > hi + _GAP_BYTES or max(hi, b) - lo > _READ_BYTES:
            yield first, i
            first, lo, hi = i, a, b
        else:
            hi = max(hi, b)
    if starts:
        yield first, len(starts)
