"""The durable log of documents added to a running index (DIR/log/).

`POST /v1/documents` acknowledges a document once its record is in this log
and the log is on disk (`fsync`); folding documents into the tables
(re-analysis) happens later, in the background. After a crash, the records
newer than the index's `applied_seq` are read back and folded in, so
nothing acknowledged is lost.

The log is a folder of segments `<number>.log`, appended to in order. A
record is one line: the CRC-32 of its JSON payload in 8 hex digits, a
space, and the payload `{"seq", "id", "text"}`. A process killed while
writing leaves at most one torn record, at the very end: it was never
acknowledged, and reading stops before it. A bad record anywhere else is
corruption, and reading says where.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dedup.errors import InputError, OutputError

_SUFFIX = ".log"


@dataclass(frozen=True)
class Record:
    """One added document: its sequence number (from 1, increasing), id and text."""

    seq: int
    id: str
    text: str


def encode(record: Record) -> bytes:
    """The log line of a record."""
    payload = json.dumps(
        {"seq": record.seq, "id": record.id, "text": record.text},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _decode(line: bytes) -> Record | None:
    """The record of a complete line, None when its checksum or payload is bad."""
    if len(line) < 10 or line[8:9] != b" " or not line.endswith(b"\n"):
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        data = json.loads(payload)
        return Record(int(data["seq"]), str(data["id"]), str(data["text"]))
    except (ValueError, KeyError, TypeError):
        return None


def segments(folder: Path) -> list[Path]:
    """The log's segments, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit())


def _read_segment(path: Path, last: bool) -> tuple[list[Record], int]:
    """Records of a segment and the length of its valid prefix.

    Raises:
        InputError: a bad record that is not the torn end of the last segment.
    """
    data = path.read_bytes()
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        line = data[pos : end + 1] if end >= 0 else data[pos:]
        record = _decode(line)
        if record is None:
            if last and (end < 0 or end + 1 == len(data)):
                break  # the torn end of a write that was never acknowledged
            raise InputError(
                f"{path}: corrupt log record at byte {pos}; restore the file from a backup "
                "or move it away (the documents in it will be missing)",
                str(path),
            )
        records.append(record)
        pos = end + 1
    return records, pos


def read_log(folder: Path) -> list[Record]:
    """Every complete record of the log, in order (none when there is no log)."""
    found = segments(folder)
    records: list[Record] = []
    for i, path in enumerate(found):
        records.extend(_read_segment(path, i == len(found) - 1)[0])
    return records


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LogWriter:
    """Appends records to the newest segment of a log, durably.

    Not thread-safe: the caller serialises writes (the service's writer
    lock). Opening trims a torn end of the last segment and starts a new
    segment, so a new record never follows a torn one.
    """

    def __init__(self, folder: Path, next_seq: int) -> None:
        self.folder = folder
        self.next_seq = next_seq
        found = segments(folder)
        if found:
            _, valid = _read_segment(found[-1], last=True)
            if valid < found[-1].stat().st_size:
                os.truncate(found[-1], valid)
        self._number = int(found[-1].stem) + 1 if found else 1
        self._file: BinaryIO | None = None

    @property
    def current(self) -> Path:
        """The segment that receives appends."""
        return self.folder / f"{self._number:08d}{_SUFFIX}"

    def _open(self) -> BinaryIO:
        if self._file is None:
            try:
                self.folder.mkdir(exist_ok=True)
                new = not self.current.exists()
                self._file = open(self.current, "ab")  # noqa: SIM115  (kept open between appends)
                if new:
                    _fsync_folder(self.folder)
            except OSError as exc:
                raise OutputError(
                    f"{self.current}: cannot open the log ({exc.strerror or exc}); "
                    "check free space and permissions"
                ) from exc
        return self._file

    def append(self, docs: Sequence[tuple[str, str]]) -> list[Record]:
        """Write (id, text) documents as records and flush them to disk; their records.

        When this returns, the records survive a crash of the process or of
        the machine (as far as the disk honours fsync).

        Raises:
            OutputError: the log cannot be written; nothing is acknowledged
                (a partial write is a torn end, read past on restart).
        """
        handle = self._open()
        records = [Record(self.next_seq + i, doc_id, text) for i, (doc_id, text) in enumerate(docs)]
        try:
            handle.write(b"".join(encode(r) for r in records))
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self.close()
            raise OutputError(
                f"{self.current}: cannot write the log ({exc.strerror or exc}); "
                "the documents were not added"
            ) from exc
        self.next_seq += len(records)
        return records

    def rotate(self) -> int:
        """Close the current segment and start a new one; the last sequence number written."""
        self.close()
        if self.current.exists():
            self._number += 1
        return self.next_seq - 1

    def live(self) -> list[Path]:
        """Segments written after the last `rotate` (to keep across an index swap)."""
        return [self.current] if self.current.exists() else []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
