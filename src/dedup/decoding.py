"""What every reader shares: documents and problems, the decode policy, decompression.

A `Document` is one text with its id and where it came from; a `Problem` is
an input (a file or one record of it) that was skipped or altered. The
decode policy applies alike to a whole text file and to one text field of a
JSONL or Parquet record: a binary text (a NUL byte, or mostly control
characters) is skipped; bytes that are not UTF-8 are replaced with U+FFFD
and recorded ("replace"), or the input is skipped and recorded ("skip"), or
reading stops with `DecodeError` ("fail").

Compressed files (`.gz`, `.bz2`, `.xz`, `.zst`) are decompressed as a
stream, so a JSONL shard is never held in memory whole.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dedup.errors import DecodeError

# How much of a file or text is sniffed for binary content.
_SNIFF = 8192
# Bytes that are neither printable nor ordinary text layout: deleting every
# other byte leaves just these, so counting them is one C call.
_KEEP_CONTROLS = bytes(b for b in range(32) if b not in b"\t\n\r\f\v\x1b")
_DROP_OTHERS = bytes(b for b in range(256) if b not in _KEEP_CONTROLS)
# Read buffer of decompressed streams: lines are cut from it in C.
_BUFFER = 1 << 20
COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
# JSON may carry lone surrogates ("\ud800"), which no UTF-8 file can hold.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    """An input that was skipped or altered, and why.

    `row` is the line (JSONL, from 1) or row (Parquet, from 0) of a record,
    None for a whole file.
    """

    path: str
    id: str
    reason: str
    action: str  # "skipped" or "replaced"
    row: int | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One input document: its id, its text and where it came from.

    `source` is the file it was read from; `row` the line (JSONL, from 1) or
    row (Parquet, from 0) of a record, None for a whole text file; `record`
    the record's other fields, in their order (only when the reader was
    asked to carry them).
    """

    id: str
    text: str
    source: str
    row: int | None = None
    record: Mapping[str, Any] | None = None


def looks_binary(data: bytes) -> bool:
    """A NUL byte, or more than 30% control characters, in the first 8 KiB."""
    head = data[:_SNIFF]
    if b"\x00" in head:
        return True
    controls = len(head.translate(None, _DROP_OTHERS))
    return bool(head) and controls > 0.3 * len(head)


def decode_bytes(data: bytes, policy: str, where: str) -> tuple[str | None, tuple[str, str] | None]:
    """(text, problem) of a file's or field's bytes under the decode `policy`.

    `text` is None when the input is skipped; `problem` is (reason, action)
    when it was skipped or altered. `where` names the input in messages.

    Raises:
        DecodeError: the bytes are not UTF-8 and `policy` is "fail".
    """
    if looks_binary(data):
        return None, ("binary (NUL or control bytes)", "skipped")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        if policy == "fail":
            raise DecodeError(
                f"{where}: not valid UTF-8 at byte {exc.start}; convert it to UTF-8, "
                "leave it out, or pass --on-decode-error replace or skip",
                where,
            ) from exc
        reason = f"not valid UTF-8 from byte {exc.start}"
        if policy == "skip":
            return None, (reason, "skipped")
        return data.decode("utf-8", errors="replace"), (
            reason + "; invalid bytes became U+FFFD",
            "replaced",
        )


def check_text(text: str, policy: str, where: str) -> tuple[str | None, tuple[str, str] | None]:
    """(text, problem) of a text field that is already a string (JSON, Parquet).

    The same rules as `decode_bytes`: binary text is skipped, and lone
    surrogates (JSON escapes that are no character) count as undecodable.
    """
    if looks_binary(text[:_SNIFF].encode("utf-8", "surrogatepass")):
        return None, ("binary text (NUL or control characters)", "skipped")
    bad = _SURROGATE.search(text)
    if bad is None:
        return text, None
    if policy == "fail":
        raise DecodeError(
            f"{where}: lone surrogate \\u{ord(bad.group()):04x} at character {bad.start()}; "
            "fix the text, or pass --on-decode-error replace or skip",
            where,
        )
    reason = f"lone surrogate at character {bad.start()}"
    if policy == "skip":
        return None, (reason, "skipped")
    return _SURROGATE.sub("\ufffd", text), (reason + "; replaced with U+FFFD", "replaced")


def split_suffix(name: str) -> tuple[str, str]:
    """(stem, suffix) of a file name's last component, by one rule on every Python.

    The suffix runs from the last dot, unless that dot starts or ends the
    name: `pathlib` did so up to Python 3.13 (3.14 changed it for such names).
    """
    base = os.path.basename(name)
    dot = base.rfind(".")
    if 0 < dot < len(base) - 1:
        return base[:dot], base[dot:]
    return base, ""


def compression_of(name: str) -> str | None:
    """The compression named by a file name's last suffix, or None."""
    return COMPRESSIONS.get(split_suffix(name)[1].lower())


class _ReadsInto(Protocol):
    def readinto1(self, buffer: Any, /) -> int: ...

    def close(self) -> None: ...


class _Checked(io.RawIOBase):
    """A decompressor whose corrupt-data errors all surface as OSError.

    gzip, bz2, lzma and zstandard each raise their own exceptions (EOFError
    for a truncated stream, zlib.error, LZMAError, ZstdError); the readers
    handle one kind.
    """

    def __init__(self, inner: _ReadsInto, errors: tuple[type[Exception], ...], kind: str):
        self._inner = inner
        self._errors = errors
        self._kind = kind

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # readinto1 returns what one decompression step gives: a truncated
        # stream then fails after the lines before the cut were read, not
        # while filling a whole buffer with them.
        try:
            return self._inner.readinto1(buffer)
        except self._errors as exc:
            raise OSError(f"corrupt or truncated {self._kind} data ({exc})") from exc

    def close(self) -> None:
        self._inner.close()
        super().close()


class _ZstdFrames:
    """The frames of a zstd file, decompressed one after another.

    zstandard's own stream reader ends quietly at a truncated frame, which
    would lose the rest of a shard without a word; this one raises EOFError.
    """

    def __init__(self, path: Path) -> None:
        import zstandard  # imported on use: only .zst inputs need it

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._obj = self._new()
        self._file = io.FileIO(path, "rb")
        self._pending = b""
        self._offset = 0
        self._in_frame = False
        self._done = False

    def readinto1(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._offset == len(self._pending) and not self._done:
            self._fill()
        n = min(len(view), len(self._pending) - self._offset)
        view[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n

    def _fill(self) -> None:
        data = self._file.read(_BUFFER)
        if not data:
            if self._in_frame:
                raise EOFError("the file ends inside a zstd frame")
            self._done = True
            return
        out: list[bytes] = []
        while data:
            self._in_frame = True
            out.append(self._obj.decompress(data))
            if not self._obj.eof:
                break
            data = self._obj.unused_data
            self._obj = self._new()
            self._in_frame = False
        self._pending, self._offset = b"".join(out), 0

    def close(self) -> None:
        self._file.close()


def open_stream(path: Path, compression: str | None) -> io.BufferedReader:
    """A buffered binary stream of the file's (decompressed) bytes; the caller closes it.

    Raises:
        OSError: the file cannot be opened; reading later raises OSError for
            corrupt or truncated compressed data.
    """
    errors: tuple[type[Exception], ...] = (EOFError, zlib.error, lzma.LZMAError)
    inner: _ReadsInto
    if compression is None:
        return io.BufferedReader(io.FileIO(path, "rb"), _BUFFER)
    if compression == "gzip":
        inner = gzip.GzipFile(path, "rb")
        errors = (*errors, gzip.BadGzipFile)
    elif compression == "bz2":
        inner = bz2.BZ2File(path, "rb")
    elif compression == "xz":
        inner = lzma.LZMAFile(path, "rb")  # noqa: SIM115  # closed with the stream
    elif compression == "zstd":
        import zstandard

        inner = _ZstdFrames(path)
        errors = (*errors, zstandard.ZstdError)
    else:
        raise ValueError(f"unknown compression {compression!r}")
    return io.BufferedReader(_Checked(inner, errors, compression), _BUFFER)


def read_all(path: Path, compression: str | None) -> bytes:
    """Every (decompressed) byte of a file.

    Raises:
        OSError: unreadable, or corrupt compressed data.
    """
    if compression is None:
        return path.read_bytes()
    with open_stream(path, compression) as stream:
        return stream.read()
