"""Writing an output folder so that it is complete or absent, never half written.

Tables are written into a hidden temporary folder next to the target, each
file flushed to disk, and the folder is renamed into place in one step. A
previous output replaced with `force` is moved aside first and removed only
after the new one is in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dedup.errors import OutputError
from dedup.schemas import TABLES

# What a dedup output folder may hold; --force replaces nothing else.
TABLE_FILES = frozenset(f"{name}.parquet" for name in TABLES)
# The index's folders (dedup.index: its arrays, a server's log) and the
# near-duplicates that `dedup check --out` writes beside its spans.
OTHER_NAMES = frozenset({"index", "log", "near_duplicates.parquet"})
DEDUP_NAMES = TABLE_FILES | OTHER_NAMES
# Rows per Parquet file: a larger table is written as a folder of parts
# (`spans.parquet/part-00000.parquet`, ...) that every Parquet reader takes
# as one dataset, so no single file grows with the corpus.
ROWS_PER_FILE = 1 << 22


@dataclass(frozen=True)
class StreamedTable:
    """A table made batch by batch as it is written, each batch let go once written.

    For a column too large to hold at once: the index's texts, read back
    from the scan's spilled file a chunk at a time (as one table they would
    all be in memory while written: 0.54 GB for the 406 MB benchmark
    corpus, the scan's peak). `batches` gives the batches anew on each
    call; their schema is `schema` but for its metadata. Each batch becomes
    one row group.
    """

    schema: pa.Schema
    num_rows: int
    batches: Callable[[], Iterator[pa.RecordBatch]]

    def replace_schema_metadata(self, metadata: Mapping[bytes, bytes]) -> StreamedTable:
        """The same table with this schema metadata (as `pa.Table`'s method)."""
        return replace(self, schema=self.schema.with_metadata(metadata))


# Rows per row group of every table (pyarrow's default, stated so that a
# table written whole and one written slice by slice, `SlicedTable`, agree).
ROW_GROUP_ROWS = 1 << 20
# List values per row group, about, in tables of list columns (the index's
# shingle sets): the writer holds a row group's values with their levels
# until it is flushed, 0.3 GB more for the docs table of a 406 MB corpus
# written as one group.
GROUP_LIST_VALUES = 1 << 22


def pieces_of(num_rows: int, size: int) -> list[tuple[int, int]]:
    """Rows (first, end) of consecutive pieces of `size` rows, the last fewer: how
    a table is cut into parts and row groups. One empty piece when there are no rows."""
    return [(lo, min(lo + size, num_rows)) for lo in range(0, num_rows, size)] or [(0, 0)]


def row_group_rows(table: pa.Table) -> int:
    """Rows per row group of `table`: `ROW_GROUP_ROWS`, fewer when its lists hold many values.

    Every group but the last has as many rows, so that a table's bytes
    depend only on its rows.
    """
    values = sum(
        int(pc.sum(pc.list_value_length(table.column(i))).as_py() or 0)
        for i, field in enumerate(table.schema)
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
    )
    if values <= GROUP_LIST_VALUES:
        return ROW_GROUP_ROWS
    return max(1, min(ROW_GROUP_ROWS, int(table.num_rows) * GROUP_LIST_VALUES // values))


@dataclass(frozen=True)
class SlicedTable:
    """A table made a row group at a time as it is written: the same bytes as the whole.

    For a table too large to hold at once beside what made it (the spans
    of a large corpus): `rows(lo, hi)` gives rows `lo` to `hi` - 1 as a
    table of `schema` but for its metadata. It is written row group by row
    group, each made and let go in turn, and a file of it holds the bytes
    that the whole table written at once would (`pq.write_table` cuts a
    table into the same row groups of `ROW_GROUP_ROWS`). Like a table, it
    is cut into parts of `rows_per_file` rows by `write_output`.
    """

    schema: pa.Schema
    num_rows: int
    rows: Callable[[int, int], pa.Table]
    offset: int = 0

    def replace_schema_metadata(self, metadata: Mapping[bytes, bytes]) -> SlicedTable:
        """The same table with this schema metadata (as `pa.Table`'s method)."""
        return replace(self, schema=self.schema.with_metadata(metadata))

    def slice(self, offset: int, length: int) -> SlicedTable:
        """Rows `offset` to `offset + length` - 1 (fewer at the end), as `pa.Table.slice`."""
        start = min(offset, self.num_rows)
        return replace(
            self, num_rows=min(length, self.num_rows - start), offset=self.offset + start
        )

    def read(self, lo: int, hi: int) -> pa.Table:
        """Rows `lo` to `hi` - 1 of this table, with its schema."""
        table = self.rows(self.offset + lo, self.offset + hi)
        if table.num_rows != hi - lo:
            raise ValueError(f"{table.num_rows} rows made where {hi - lo} were asked for")
        return table.replace_schema_metadata(self.schema.metadata)


# What `write_output` writes: a table in memory, or one made as it is written.
Writable: TypeAlias = pa.Table | StreamedTable | SlicedTable


def table_parts(path: Path) -> list[Path]:
    """The Parquet files of a table: the file itself, or the parts of its folder in order."""
    if path.is_dir():
        return sorted(path.glob("part-*.parquet"))
    return [path]


def check_target(
    out: Path,
    force: bool,
    inputs: Sequence[str | Path] = (),
    allowed: Collection[str] = DEDUP_NAMES,
) -> None:
    """Fail early when `out` cannot be (re)placed.

    `allowed` names the files that such an output folder holds.

    Raises:
        OutputError: `out` is a file, exists without `force`, holds files that
            dedup did not write (not in `allowed`), or contains one of
            `inputs` (replacing it would delete them).
    """
    target = out.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise OutputError(
                f"{out}: the output folder would contain the input {given}; "
                "choose an --out outside the scanned paths"
            )
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    if not force:
        raise OutputError(f"{out}: output folder exists; pass --force to replace it")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in allowed)
    if foreign:
        raise OutputError(
            f"{out}: holds files dedup did not write ({', '.join(foreign[:3])}); "
            "remove them yourself or choose another --out"
        )


def fsync_folder(path: Path) -> None:
    """Make a folder's entries (a rename into it) durable, where the file system allows."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temporary_name(path: Path) -> Path:
    """A hidden name beside `path` to write it under before `replace_with`."""
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")


def replace_with(tmp: Path, path: Path) -> None:
    """Flush `tmp` to disk and rename it to `path`; `tmp` never outlives the call."""
    try:
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary encoding: strings (ids and labels repeat).

    Numbers here are hash keys, offsets and counts that rarely repeat: the
    writer tried a dictionary for each, gave up once its page was full and
    wrote the column plainly after it. Without those tries the spans of a
    406 MB corpus are written in 0.67 s instead of 0.76 s and take 50 MB
    instead of 58.5 MB.
    """
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def _parquet_options(schema: pa.Schema) -> dict[str, object]:
    """How every file of the output is encoded: zstd, dictionaries for strings only."""
    return {"compression": "zstd", "use_dictionary": dictionary_columns(schema)}


def write_table(table: Writable, path: Path, group_rows: int | None = None) -> None:
    """Write one Parquet file atomically: a temporary name, fsync, then rename.

    A `SlicedTable` is written in row groups of `group_rows` rows (default
    `ROW_GROUP_ROWS`): a process writing for another passes that one's.
    """
    tmp = temporary_name(path)
    try:
        if isinstance(table, StreamedTable):
            _write_batches(table, tmp)
        elif isinstance(table, SlicedTable):
            _write_slices(table, tmp, group_rows or ROW_GROUP_ROWS)
        else:
            pq.write_table(
                table, tmp, row_group_size=row_group_rows(table), **_parquet_options(table.schema)
            )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    replace_with(tmp, path)


def _write_batches(table: StreamedTable, path: Path) -> None:
    """`table` into one Parquet file at `path`, a row group per batch."""
    rows = 0
    with pq.ParquetWriter(path, table.schema, **_parquet_options(table.schema)) as writer:
        for batch in table.batches():
            writer.write_batch(batch)
            rows += batch.num_rows
    if rows != table.num_rows:
        raise ValueError(f"{path}: {rows} rows written where the table has {table.num_rows}")


def _write_slices(table: SlicedTable, path: Path, group_rows: int) -> None:
    """`table` into one Parquet file at `path`, a row group of `group_rows` rows at a time."""
    if table.num_rows <= group_rows:
        # What `pq.write_table` does with a table of one row group, or none.
        whole = table.read(0, table.num_rows)
        pq.write_table(whole, path, row_group_size=group_rows, **_parquet_options(table.schema))
        return
    with pq.ParquetWriter(path, table.schema, **_parquet_options(table.schema)) as writer:
        for lo, hi in pieces_of(table.num_rows, group_rows):
            writer.write_table(table.read(lo, hi), row_group_size=group_rows)


def swap_into_place(staging: Path, out: Path, old: Path) -> None:
    """Put `staging` in place of `out`; on failure the previous `out` comes back."""
    if not out.exists():
        os.rename(staging, out)
        return
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged(out: Path, force: bool, allowed: Collection[str] = DEDUP_NAMES) -> Iterator[Path]:
    """A hidden staging folder to write into; swapped into place as `out` when the block ends.

    If the block raises, the staging folder is removed and `out` is left as
    it was. Files written into the staging folder should be flushed to disk
    (see `write_table`).

    Raises:
        OutputError: `out` cannot be replaced (see `check_target`), or
            writing failed (the message carries the system's reason; the
            previous output, if any, is left untouched).
    """
    check_target(out, force, allowed=allowed)
    parent = out.parent
    token = uuid.uuid4().hex[:12]
    staging = parent / f".{out.name}.tmp-{token}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        yield staging
        fsync_folder(staging)
        swap_into_place(staging, out, parent / f".{out.name}.old-{token}")
        fsync_folder(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(
            f"{out}: cannot write output ({exc.strerror or exc}); the previous output, "
            "if any, is unchanged: check free space and permissions, or choose another --out"
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_output(
    out: Path,
    tables: Mapping[str, Writable],
    force: bool,
    prepare: Callable[[Path], None] | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    workers: int = 1,
) -> None:
    """Write `tables` as `out/<name>.parquet`, replacing `out` as a whole.

    A name may hold one folder (`index/texts`). A table of more than
    `rows_per_file` rows becomes a folder `out/<name>.parquet/` of parts
    `part-00000.parquet`, ... of at most that many rows each, every part with
    the table's schema and metadata; a `StreamedTable` is always one file.
    `prepare`, when given, is called with the staging folder once the tables
    are in it, to add what else must be in place at the swap (a server's
    live log). Files are written on up to `workers` threads; the output is
    the same with any number.

    Raises:
        OutputError: `out` exists without `force`, or writing failed (the
            message carries the system's reason; the previous output, if any,
            is left untouched).
    """
    with output_writer(out, force, rows_per_file, workers) as write:
        write(tables)
        if prepare is not None:
            prepare(write.staging)


class TableWriter:
    """Writes tables into a staging folder, a group at a time (see `output_writer`)."""

    def __init__(self, staging: Path, rows_per_file: int, workers: int) -> None:
        self.staging = staging
        self.rows_per_file = rows_per_file
        self.workers = workers
        self.folders: set[Path] = {staging}

    def __call__(self, tables: Mapping[str, Writable]) -> None:
        """Write `tables` (as `write_output` does); names must not repeat across calls."""
        files: list[tuple[Writable, Path]] = []
        for name, table in tables.items():
            if isinstance(table, StreamedTable):
                ((_, _, path),) = self.place(name, table.num_rows, one_file=True)
                files.append((table, path))
                continue
            placed = self.place(name, table.num_rows)
            if len(placed) == 1:
                files.append((table, placed[0][2]))
                continue
            files.extend((table.slice(start, stop - start), path) for start, stop, path in placed)
        _write_files(files, self.workers)

    def place(
        self, name: str, num_rows: int, one_file: bool = False
    ) -> list[tuple[int, int, Path]]:
        """Where table `name` of `num_rows` rows goes: (first row, end row, file) of each file.

        One file `<name>.parquet`, or, above `rows_per_file` rows (unless
        `one_file`), parts of that many rows in a folder of that name, made
        here. Whoever writes the files (`write_table`, the same bytes
        wherever it runs) writes them before the block of `output_writer`
        ends; a Ray scan's workers write the spans' parts.
        """
        path = self.staging / f"{name}.parquet"
        if path.exists():
            raise ValueError(f"{name}: written already")
        if path.parent != self.staging and not path.parent.is_dir():
            path.parent.mkdir()
        self.folders.add(path.parent)
        if one_file or num_rows <= self.rows_per_file:
            return [(0, num_rows, path)]
        path.mkdir()
        self.folders.add(path)
        return [
            (start, stop, path / f"part-{part:05d}.parquet")
            for part, (start, stop) in enumerate(pieces_of(num_rows, self.rows_per_file))
        ]


@contextlib.contextmanager
def output_writer(
    out: Path, force: bool, rows_per_file: int = ROWS_PER_FILE, workers: int = 1
) -> Iterator[TableWriter]:
    """`write_output` in steps: each call of the writer writes a group of tables.

    The output appears, whole, when the block ends, as with `write_output`;
    if the block raises, nothing is left and the previous output stays. A
    caller that makes its tables a group at a time lets each group go once
    written (a scan writes its own tables before it makes the index's).

    Raises:
        OutputError: as `write_output`.
    """
    with staged(out, force) as staging:
        writer = TableWriter(staging, rows_per_file, workers)
        yield writer
        for folder in sorted(writer.folders, key=lambda f: len(f.parts), reverse=True):
            fsync_folder(folder)


def _write_files(files: Sequence[tuple[Writable, Path]], workers: int) -> None:
    """`write_table` of every (table, path), on up to `workers` threads.

    pyarrow encodes and compresses without the GIL, so files are written
    side by side; each file's bytes do not depend on it. The first error is
    raised once no write is running, and writes not yet started are dropped.
    """
    if workers <= 1 or len(files) <= 1:
        for table, path in files:
            write_table(table, path)
        return
    pool = ThreadPoolExecutor(max_workers=min(workers, len(files)))
    try:
        for future in [pool.submit(write_table, table, path) for table, path in files]:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
