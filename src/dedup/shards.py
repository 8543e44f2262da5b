"""Finished reading shards of a scan, kept on disk so an interrupted scan resumes.

A scan reads its input files in consecutive shards of about `shard_bytes`.
Each finished shard (its documents and the problems met) is saved in a work
folder next to the output, `.<out>.work/`; a rerun over the same inputs with
the same config loads finished shards instead of reading and decoding them
again. Blocks are not saved: the scan hashes every document once, after the
last shard is read (see `runner.scan`). Hashing again costs a resumed scan
about 8 s per GB of text, less than saving the hashes did: they took 2.2
bytes of disk per byte of text, written on every scan.
Every shard is saved as files under temporary names, then marked done by
renaming a marker into place, so a shard killed half-way is simply not done.
The work folder is removed once the output is in place, its manifest first,
so a folder killed half-way through its removal is not reused.

The work folder is only reused when its manifest matches: the schema
version, the config, how inputs are read, and every input file's path, size
and modification time. Anything else starts over.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.arrow import utf8_array
from dedup.config import InputConfig, ScanConfig
from dedup.output import replace_with, temporary_name, write_table
from dedup.schemas import SCHEMA_VERSION
from dedup.sources import Document, Problem, Source

# Input bytes per shard by default: enough that per-shard costs vanish, few
# enough that a resumed scan loses little work.
SHARD_BYTES = 64 << 20

_DOCS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64()),
        pa.field("group_value", pa.string()),
    ]
)


@dataclass(frozen=True)
class ShardData:
    """What reading one shard gave: documents (fields dropped) and problems.

    `group_values` holds each document's `--group-by field:` value (None:
    absent, or the scan does not group by a field).
    """

    docs: list[Document]
    group_values: list[str | None]
    problems: list[Problem]


def file_stats(sources: Sequence[Source]) -> list[tuple[int, int]]:
    """(size, modification time in ns) of every source; (-1, -1) where it cannot be read."""
    stats = []
    for source in sources:
        try:
            info = source.path.stat()
            stats.append((info.st_size, info.st_mtime_ns))
        except OSError:
            stats.append((-1, -1))
    return stats


def plan_shards(stats: Sequence[tuple[int, int]], shard_bytes: int) -> list[range]:
    """Consecutive runs of sources of about `shard_bytes` each (a big file is its own)."""
    shards: list[range] = []
    first = size = 0
    for i, (nbytes, _) in enumerate(stats):
        size += max(nbytes, 0)
        if size >= shard_bytes:
            shards.append(range(first, i + 1))
            first, size = i + 1, 0
    if first < len(stats):
        shards.append(range(first, len(stats)))
    return shards


def manifest(
    cfg: ScanConfig,
    inputs: InputConfig,
    sources: Sequence[Source],
    stats: Sequence[tuple[int, int]],
    shard_bytes: int,
) -> str:
    """The canonical JSON a work folder must match to be reused."""
    return json.dumps(
        {
            "schema": SCHEMA_VERSION,
            "config": json.loads(cfg.to_json()),
            "inputs": json.loads(inputs.to_json()),
            "shard_bytes": shard_bytes,
            "files": [[str(s.path), *stat] for s, stat in zip(sources, stats, strict=True)],
        },
        sort_keys=True,
    )


# The documents' texts in id order, written once all shards are read
# (`dedup.spilled_texts`); rewritten by every run, never resumed from.
TEXTS_FILE = "texts.utf8"
# The same texts in reading order, written shard by shard as they are read.
READ_TEXTS_FILE = "texts-read.utf8"


def work_folder(out: Path) -> Path:
    """Where a scan writing to `out` keeps its finished shards."""
    return out.parent / f".{out.name}.work"


class ShardStore:
    """The finished shards of one scan, in its work folder."""

    def __init__(self, folder: Path, wanted: str) -> None:
        """Open `folder` for a scan whose manifest is `wanted`; a stale folder is emptied."""
        self.folder = folder
        marker = folder / "manifest.json"
        try:
            current = marker.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != wanted:
            remove_work_folder(folder)
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(marker, wanted.encode("utf-8"))

    def _name(self, index: int, suffix: str) -> Path:
        return self.folder / f"shard-{index:05d}.{suffix}"

    def done(self, index: int) -> bool:
        """Whether shard `index` was saved whole (its marker and every file it names)."""
        names = ("done", "docs.parquet", "problems.json")
        return all(self._name(index, name).exists() for name in names)

    def save(self, index: int, data: ShardData) -> None:
        """Save shard `index`; it counts as done only once everything is on disk."""
        docs = pa.table(
            {
                "id": [d.id for d in data.docs],
                "text": utf8_array([d.text for d in data.docs]),
                "source": [d.source for d in data.docs],
                "row": [d.row for d in data.docs],
                "group_value": data.group_values,
            },
            schema=_DOCS,
        )
        write_table(docs, self._name(index, "docs.parquet"))
        problems = json.dumps([asdict(p) for p in data.problems]).encode("utf-8")
        _write_atomic(self._name(index, "problems.json"), problems)
        _write_atomic(self._name(index, "done"), b"")

    def load(self, index: int) -> ShardData:
        """A finished shard."""
        table = pq.read_table(self._name(index, "docs.parquet"))
        columns = {name: table.column(name).to_pylist() for name in table.column_names}
        docs = [
            Document(doc_id, text, source, row)
            for doc_id, text, source, row in zip(
                columns["id"], columns["text"], columns["source"], columns["row"], strict=True
            )
        ]
        raw = json.loads(self._name(index, "problems.json").read_text(encoding="utf-8"))
        return ShardData(
            docs,
            columns["group_value"],
            [Problem(**p) for p in raw],
        )

    def remove(self) -> None:
        remove_work_folder(self.folder)


def remove_work_folder(folder: Path) -> None:
    """Delete a work folder so that no run can take a half-deleted one for a good one.

    The manifest goes first: a folder without one is never reused, so a
    scan killed while the rest is deleted (a shard's "done" marker still
    there, its documents gone) leaves a folder the next run empties instead
    of loading from it.
    """
    # Not a folder, or unwritable: rmtree below says nothing either.
    with contextlib.suppress(OSError):
        (folder / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = temporary_name(path)
    tmp.write_bytes(data)
    replace_with(tmp, path)
