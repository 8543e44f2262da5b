"""The Parquet output: explicit schemas, metadata, readers, determinism, atomic writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import dedup.output
from dedup import SCHEMA_VERSION, DedupError, NormalizeConfig, OutputError, ScanConfig, arrow, scan
from dedup.arrow import take_strings
from dedup.arrow_index import checked_spans_table
from dedup.schemas import META_CONFIG, META_INPUTS, META_TABLE, META_VERSION, TABLES

NAMES = ("spans", "documents", "passages", "errors")
# The tables, and the index that `dedup add`, `check` and `serve` use.
FILES = sorted([*(f"{name}.parquet" for name in NAMES), "index"])
APPEAL = "We are facing unprecedented challenges."
DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _leftovers(folder: Path) -> list[str]:
    """Hidden staging or moved-aside folders and files that a write left behind."""
    return [n for n in _listing(folder) if ".tmp-" in n or ".old-" in n]


def _bytes(out: Path) -> dict[str, bytes]:
    """Every file below `out` (the index's too), by its path relative to `out`."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", NAMES)
def test_table_has_the_declared_schema(seeds_out: Path, name: str) -> None:
    written = pq.read_schema(seeds_out / f"{name}.parquet")
    declared = TABLES[name]
    assert written.names == declared.names
    for got, want in zip(written, declared, strict=True):
        assert got.type == want.type, got.name
        assert got.nullable == want.nullable, got.name
        assert got.metadata == want.metadata, got.name
    assert written.metadata[META_VERSION] == SCHEMA_VERSION.encode()
    assert written.metadata[META_TABLE] == name.encode()


def test_only_string_columns_are_dictionary_encoded(seeds_out: Path) -> None:
    meta = pq.ParquetFile(seeds_out / "spans.parquet").metadata
    encoded = {}
    for i in range(meta.num_columns):
        chunk = meta.row_group(0).column(i)
        encoded[chunk.path_in_schema] = chunk.dictionary_page_offset is not None
    assert encoded["id"] and encoded["label"]
    assert not encoded["start"] and not encoded["passage_id"] and not encoded["score"]


def test_metadata_records_the_config(tmp_path: Path, seeds_dir: Path) -> None:
    cfg = ScanConfig(
        block_mode="paragraph",
        ngram=3,
        num_perm=64,
        seed=7,
        passage_threshold=0.6,
        doc_threshold=0.9,
        min_docs=3,
        normalize=NormalizeConfig(casefold=False, mask_digits=False),
    )
    scan([seeds_dir], tmp_path / "out", cfg)
    for name in NAMES:
        meta = pq.read_schema(tmp_path / "out" / f"{name}.parquet").metadata
        assert ScanConfig.from_json(meta[META_CONFIG].decode()) == cfg
        assert meta[META_CONFIG].decode() == cfg.to_json()


@pytest.mark.parametrize("name", NAMES)
def test_pyarrow_dataset_reads_the_table(seeds_out: Path, name: str) -> None:
    path = seeds_out / f"{name}.parquet"
    dataset = ds.dataset(path, format="parquet")
    assert dataset.schema.remove_metadata().equals(TABLES[name])
    assert dataset.to_table().equals(pq.read_table(path))
    assert dataset.count_rows() == pq.read_metadata(seeds_out / f"{name}.parquet").num_rows
    assert dataset.count_rows() > 0 or name == "errors"  # seeds have no bad input


@pytest.mark.parametrize("name", NAMES)
def test_duckdb_reads_the_table(seeds_out: Path, name: str) -> None:
    path = seeds_out / f"{name}.parquet"
    con = duckdb.connect()
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    assert [(row[0], row[1]) for row in described] == [
        (f.name, DUCKDB_TYPES[f.type]) for f in TABLES[name]
    ]
    (count,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
    assert count == pq.read_metadata(path).num_rows
    assert count > 0 or name == "errors"  # seeds have no bad input


def _texts(folder: Path) -> pa.Table:
    ids = sorted(p.name for p in folder.iterdir())
    texts = [(folder / i).read_text(encoding="utf-8") for i in ids]
    return pa.table({"id": ids, "text": texts})


def test_duckdb_join_cuts_boilerplate(seeds_dir: Path, seeds_out: Path) -> None:
    """What a pipeline does: join spans to the texts and keep the unique spans.

    DuckDB's substr counts code points from 1, as the code-point offsets assume.
    """
    docs = _texts(seeds_dir)
    spans = str(seeds_out / "spans.parquet")
    con = duckdb.connect()
    con.register("docs", docs)
    kept = dict(
        con.execute(
            """
            SELECT d.id, string_agg(substr(d.text, s.start + 1, s."end" - s.start), ''
                                    ORDER BY s.start)
            FROM docs AS d JOIN read_parquet(?) AS s ON s.id = d.id
            WHERE s.label = 'unique'
            GROUP BY d.id
            """,
            [spans],
        ).fetchall()
    )
    assert sorted(kept) == docs.column("id").to_pylist()
    rows = pq.read_table(spans).to_pylist()
    for doc_id, text in zip(*(docs.column(c).to_pylist() for c in ("id", "text")), strict=True):
        assert APPEAL not in kept[doc_id]
        assert "Dear readers" not in kept[doc_id]
        unique = "".join(
            text[r["start"] : r["end"]]
            for r in rows
            if r["id"] == doc_id and r["label"] == "unique"
        )
        assert kept[doc_id] == unique


def test_byte_offsets_cut_the_same_spans(seeds_dir: Path, seeds_out: Path) -> None:
    """start_byte/end_byte slice the UTF-8 bytes to the same text as start/end."""
    for row in pq.read_table(seeds_out / "spans.parquet").to_pylist():
        text = (seeds_dir / row["id"]).read_text(encoding="utf-8")
        raw = text.encode("utf-8")
        assert raw[row["start_byte"] : row["end_byte"]].decode() == text[row["start"] : row["end"]]


def _without_inputs(table: pa.Table) -> pa.Table:
    meta = dict(table.schema.metadata)
    meta.pop(META_INPUTS)
    return table.replace_schema_metadata(meta)


def test_output_is_byte_identical_across_runs(tmp_path: Path, seeds_copy: Path) -> None:
    cfg = ScanConfig()
    scan([seeds_copy], tmp_path / "a", cfg)
    scan([seeds_copy], tmp_path / "b", cfg)
    # Files given one by one, in either order: same bytes.
    files = sorted(seeds_copy.iterdir())
    scan(files, tmp_path / "c", cfg)
    scan(files[::-1], tmp_path / "d", cfg)
    first = _bytes(tmp_path / "a")
    assert sorted({name.split("/")[0] for name in first}) == FILES
    assert _bytes(tmp_path / "b") == first
    assert _bytes(tmp_path / "d") == _bytes(tmp_path / "c")
    # The folder and its files give the same tables; only the recorded
    # input paths (dedup.inputs) differ.
    for name in (f"{table}.parquet" for table in NAMES):
        folder, one_by_one = (pq.read_table(tmp_path / x / name) for x in "ac")
        assert _without_inputs(one_by_one).equals(_without_inputs(folder), check_metadata=True)
        assert one_by_one.schema.metadata[META_INPUTS] != folder.schema.metadata[META_INPUTS]


def _fail_after(monkeypatch: pytest.MonkeyPatch, calls: int, filename: str | None) -> None:
    """Make `dedup.output.write_table` run `calls` times, then fail as a full disk does."""
    real = dedup.output.write_table
    seen: list[Path] = []

    def flaky(table: pa.Table, path: Path) -> None:
        if len(seen) >= calls:
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(b"PAR1")
            raise OSError(
                errno.ENOSPC,
                os.strerror(errno.ENOSPC),
                None if filename is None else str(partial),
            )
        seen.append(path)
        real(table, path)

    monkeypatch.setattr(dedup.output, "write_table", flaky)


@pytest.mark.parametrize("filename", [None, "temp"], ids=["no file name", "temp file named"])
def test_full_disk_leaves_previous_output_intact(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch, filename: str | None
) -> None:
    """The error names the output the user chose, also when the OS names a temporary file."""
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    before = _bytes(out)
    _fail_after(monkeypatch, 1, filename)
    with pytest.raises(OutputError) as caught:
        scan([seeds_copy], out, ScanConfig(min_docs=3), force=True)
    message = str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC
    assert str(out) in message
    assert "space" in message.lower()
    assert "\n" not in message
    assert _bytes(out) == before
    assert _leftovers(tmp_path) == []


def test_full_disk_writes_no_output(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "new" / "out"
    _fail_after(monkeypatch, 2, None)
    with pytest.raises(OutputError, match=re.escape(str(out))):
        scan([seeds_copy], out, ScanConfig())
    assert not out.exists()
    assert _leftovers(out.parent) == []


def test_failed_swap_restores_previous_output(
    tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the new folder cannot be moved in, the old one must not stay moved aside."""
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    before = _bytes(out)
    real_rename = os.rename

    def rename(src: str | Path, dst: str | Path) -> None:
        if ".tmp-" in Path(src).name and Path(dst) == out:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        real_rename(src, dst)

    monkeypatch.setattr(dedup.output.os, "rename", rename)
    with pytest.raises(OutputError):
        scan([seeds_copy], out, ScanConfig(min_docs=3), force=True)
    monkeypatch.undo()
    assert out.is_dir()
    assert _bytes(out) == before
    assert _leftovers(tmp_path) == []


def test_existing_output_needs_force(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    before = _bytes(out)
    with pytest.raises(OutputError, match=r"--force"):
        scan([seeds_copy], out, ScanConfig(min_docs=3))
    assert _bytes(out) == before


def test_force_replaces_existing_output(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    new = ScanConfig(min_docs=3)
    scan([seeds_copy], out, new, force=True)
    assert _listing(out) == FILES
    meta = pq.read_schema(out / "spans.parquet").metadata
    assert ScanConfig.from_json(meta[META_CONFIG].decode()) == new
    assert _leftovers(tmp_path) == []


def test_force_refuses_a_folder_dedup_did_not_write(tmp_path: Path, seeds_copy: Path) -> None:
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    (out / "notes.txt").write_text("a user's file", encoding="utf-8")
    before = _bytes(out)
    with pytest.raises(OutputError, match=r"notes\.txt.*remove them yourself"):
        scan([seeds_copy], out, ScanConfig(min_docs=3), force=True)
    assert _bytes(out) == before


def test_output_inside_the_scanned_folder_is_not_read(tmp_path: Path, seeds_copy: Path) -> None:
    out = seeds_copy / "out"
    first = scan([seeds_copy], out, ScanConfig())
    second = scan([seeds_copy], out, ScanConfig(), force=True)
    assert first.n_documents == second.n_documents == 5
    assert pq.read_table(out / "documents.parquet").num_rows == 5


@pytest.mark.parametrize("level", [0, 1])
def test_force_never_deletes_the_inputs(tmp_path: Path, seeds_dir: Path, level: int) -> None:
    """`--out` naming an input folder (level 0) or one holding it (1) must keep the inputs."""
    docs = tmp_path / "data" / "docs"
    docs.mkdir(parents=True)
    inputs = {}
    for path in seeds_dir.iterdir():
        inputs[path.name] = path.read_bytes()
        (docs / path.name).write_bytes(inputs[path.name])
    out = docs.parents[level - 1] if level else docs
    with contextlib.suppress(DedupError):
        scan([docs], out, ScanConfig(), force=True)
    assert {name: (docs / name).read_bytes() for name in inputs if (docs / name).exists()} == inputs


def test_one_file_reached_through_two_paths_is_one_document(
    tmp_path: Path, seeds_copy: Path
) -> None:
    first = sorted(seeds_copy.iterdir())[0]
    summary = scan([seeds_copy, first], tmp_path / "out", ScanConfig())
    assert summary.n_documents == 5


def test_a_large_table_is_a_folder_of_bounded_parts_that_every_reader_takes(
    tmp_path: Path, seeds_dir: Path, seeds_out: Path
) -> None:
    from dedup import clean
    from dedup.evaluate import evaluate_scan
    from dedup.report_runner import build_report

    out = tmp_path / "out"
    scan([seeds_dir], out, ScanConfig(), rows_per_file=7)
    parts = sorted((out / "spans.parquet").iterdir())
    assert len(parts) > 1
    assert all(pq.ParquetFile(p).metadata.num_rows <= 7 for p in parts)
    for name in ("spans", "documents", "passages", "errors"):
        whole = pq.read_table(seeds_out / f"{name}.parquet")
        assert pq.read_table(out / f"{name}.parquet").equals(whole, check_metadata=True), name
    rows = duckdb.sql(f"select count(*) from '{out}/spans.parquet/*.parquet'").fetchall()
    assert rows == [(pq.read_table(seeds_out / "spans.parquet").num_rows,)]
    assert len(build_report(out, []).documents) == 5
    assert clean(out, tmp_path / "clean").n_written == 5
    assert evaluate_scan(out, seeds_dir).chars is None


def test_take_strings_splits_results_past_arrow_string_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Repeated ids over 2 GiB become several chunks of the same strings, in order."""
    values = pa.array(["a", "bbb", "cc", ""], pa.string())
    rows = np.array([0, 1, 1, 2, 3, 1, 0, 2], dtype=np.int64)
    whole = take_strings(values, rows)
    assert isinstance(whole, pa.Array)
    monkeypatch.setattr(arrow, "_STRING_BYTES", 5)
    split = take_strings(values, rows)
    assert isinstance(split, pa.ChunkedArray)
    assert all(sum(len(s) for s in c.to_pylist()) <= 5 for c in split.chunks)
    assert split.to_pylist() == whole.to_pylist() == [values[i].as_py() for i in rows.tolist()]


def test_take_strings_gives_a_string_longer_than_the_limit_a_chunk_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(arrow, "_STRING_BYTES", 2)
    got = take_strings(pa.array(["a", "bbb"], pa.string()), np.array([0, 1, 0], dtype=np.int64))
    assert got.to_pylist() == ["a", "bbb", "a"]


def test_checked_spans_table_wants_one_text_per_document() -> None:
    with pytest.raises(ValueError, match="2 texts for the spans of 1 documents"):
        checked_spans_table(["a"], ["xy", "z"], [[(0, 2, "unique", None, None, None)]], "{}")
    table = checked_spans_table(["a"], ["x\u00e9"], [[(0, 2, "unique", None, None, None)]], "{}")
    assert table.column("end_byte").to_pylist() == [3]


@pytest.mark.parametrize("large", [False, True])
def test_utf8_array_round_trips_in_chunks_and_leaves_no_utf8_copy(
    monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    # Built at run time: a literal could have had its UTF-8 form made already.
    texts = ["".join(["é€ 😀 x", str(i)] * 50) for i in range(5)] + ["", "ascii only"]
    sizes = [sys.getsizeof(t) for t in texts]
    monkeypatch.setattr(arrow, "_TEXT_CHUNK", 700)  # a few texts a chunk
    column = arrow.utf8_array(texts, large=large)
    assert column.type == (pa.large_string() if large else pa.string())
    assert column.num_chunks > 1
    assert column.to_pylist() == texts
    # pa.array(texts) leaves CPython's UTF-8 copy in each non-ASCII str.
    assert [sys.getsizeof(t) for t in texts] == sizes
    assert arrow.utf8_array([]).to_pylist() == []


def _streamed(rows: list[str], per_batch: int, log: list[str]) -> dedup.output.StreamedTable:
    schema = pa.schema([pa.field("text", pa.large_string())]).with_metadata({b"k": b"v"})

    def batches() -> Iterator[pa.RecordBatch]:
        for lo in range(0, len(rows), per_batch):
            log.append(f"made {lo}")
            yield pa.record_batch(
                [pa.array(rows[lo : lo + per_batch], pa.large_string())], ["text"]
            )

    return dedup.output.StreamedTable(schema, len(rows), batches)


def test_a_streamed_table_is_one_file_of_a_row_group_per_batch(tmp_path: Path) -> None:
    rows = [f"text {i}" for i in range(10)]
    log: list[str] = []
    table = _streamed(rows, 4, log)
    dedup.output.write_output(tmp_path / "out", {"t": table}, force=False, rows_per_file=3)
    written = pq.ParquetFile(tmp_path / "out" / "t.parquet")  # one file, whatever rows_per_file
    assert written.metadata.num_row_groups == 3
    assert written.read().column("text").to_pylist() == rows
    assert written.schema_arrow.metadata == {b"k": b"v"}
    assert log == ["made 0", "made 4", "made 8"]
    again = pa.Table.from_batches(list(table.batches()))  # batches anew on each call
    assert again.column("text").to_pylist() == rows
    renamed = table.replace_schema_metadata({b"k": b"w"})
    assert renamed.schema.metadata == {b"k": b"w"} and renamed.num_rows == 10


def test_a_streamed_table_short_of_its_rows_writes_nothing(tmp_path: Path) -> None:
    short = replace(_streamed(["a", "b"], 1, []), num_rows=3)
    with pytest.raises(ValueError, match="2 rows written where the table has 3"):
        dedup.output.write_output(tmp_path / "out", {"t": short}, force=False)
    assert list(tmp_path.iterdir()) == []


def test_the_index_texts_of_a_scan_are_read_back_a_chunk_at_a_time(
    tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrow, "_TEXT_CHUNK", 3000)  # the seeds: 2 to 3 texts a chunk
    out = tmp_path / "out"
    scan([seeds_dir], out, ScanConfig())
    texts = pq.ParquetFile(out / "index" / "texts.parquet")
    assert texts.metadata.num_row_groups > 1
    table = texts.read()
    by_id = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    assert by_id == {p.name: p.read_text(encoding="utf-8") for p in seeds_dir.iterdir()}


def test_an_output_written_in_groups_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "out"
    one = pa.table({"a": [1, 2, 3]})
    with dedup.output.output_writer(out, force=False, rows_per_file=2) as write:
        write({"spans": one})
        assert not out.exists()  # nothing in place before the block ends
        write({"index/texts": _streamed(["x", "y"], 1, [])})
        with pytest.raises(ValueError, match="written already"):
            write({"spans": one})
    assert pq.read_table(out / "spans.parquet").equals(one)  # a folder of parts of 2 rows
    assert len(list((out / "spans.parquet").iterdir())) == 2
    assert pq.read_table(out / "index" / "texts.parquet").column("text").to_pylist() == ["x", "y"]

    with (
        pytest.raises(RuntimeError, match="stopped"),
        dedup.output.output_writer(out, force=True) as again,
    ):
        again({"spans": pa.table({"a": [9]})})
        raise RuntimeError("stopped")
    assert pq.read_table(out / "spans.parquet").equals(one)  # the previous output stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _sliced(table: pa.Table, asked: list[tuple[int, int]]) -> dedup.output.SlicedTable:
    def rows(lo: int, hi: int) -> pa.Table:
        asked.append((lo, hi))
        return table.slice(lo, hi - lo).replace_schema_metadata(None)

    return dedup.output.SlicedTable(table.schema, table.num_rows, rows)


@pytest.mark.parametrize("rows_per_file", [2500, 10_000])
def test_a_sliced_table_is_written_as_the_same_bytes_as_the_whole_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_per_file: int
) -> None:
    monkeypatch.setattr(dedup.output, "ROW_GROUP_ROWS", 1000)
    n = 3500
    table = pa.table(
        {
            "id": pa.array([f"doc-{i // 7}" for i in range(n)], pa.string()),
            "start": pa.array(np.arange(n, dtype=np.int64) * 3),
            "score": pa.array(np.linspace(0, 1, n), mask=np.arange(n) % 5 == 0),
        }
    ).replace_schema_metadata({b"k": b"v"})
    asked: list[tuple[int, int]] = []
    dedup.output.write_output(tmp_path / "whole", {"t": table}, False, rows_per_file=rows_per_file)
    dedup.output.write_output(
        tmp_path / "sliced", {"t": _sliced(table, asked)}, False, rows_per_file=rows_per_file
    )
    whole, sliced = tmp_path / "whole" / "t.parquet", tmp_path / "sliced" / "t.parquet"
    files = dedup.output.table_parts(whole)
    assert len(files) == (2 if rows_per_file < n else 1)
    assert [p.relative_to(whole) for p in files] == [
        p.relative_to(sliced) for p in dedup.output.table_parts(sliced)
    ]
    for a, b in zip(files, dedup.output.table_parts(sliced), strict=True):
        assert a.read_bytes() == b.read_bytes()
    first = pq.ParquetFile(files[0]).metadata
    groups = [first.row_group(i).num_rows for i in range(first.num_row_groups)]
    assert groups == ([1000, 1000, 500] if rows_per_file < n else [1000, 1000, 1000, 500])
    # Each row group made once, in its file's order (files may be written side by side).
    if rows_per_file < n:
        expected = [(0, 1000), (1000, 2000), (2000, 2500), (2500, 3500)]
    else:
        expected = [(0, 1000), (1000, 2000), (2000, 3000), (3000, 3500)]
    assert sorted(asked) == expected


def test_a_sliced_table_made_of_too_few_rows_writes_nothing(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, 3]})
    short = dedup.output.SlicedTable(table.schema, 3, lambda lo, hi: table.slice(lo, 1))
    with pytest.raises(ValueError, match="1 rows made where 3 were asked for"):
        dedup.output.write_output(tmp_path / "out", {"t": short}, force=False)
    assert list(tmp_path.iterdir()) == []
    empty = dedup.output.SlicedTable(table.schema, 0, lambda lo, hi: table.slice(0, 0))
    dedup.output.write_output(tmp_path / "empty", {"t": empty}, force=False)
    assert pq.read_table(tmp_path / "empty" / "t.parquet").num_rows == 0


def test_tables_of_many_list_values_get_smaller_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup.output, "GROUP_LIST_VALUES", 100)
    lists = pa.array([[1, 2, 3, 4]] * 90 + [None] * 10, pa.list_(pa.int32()))
    table = pa.table({"n": pa.array(range(100), pa.int64()), "sets": lists})
    # 360 values, at most about 100 a group: 100 * 100 // 360 rows each.
    assert dedup.output.row_group_rows(table) == 27
    assert dedup.output.row_group_rows(table.slice(0, 20)) == dedup.output.ROW_GROUP_ROWS
    assert dedup.output.row_group_rows(table.drop_columns(["sets"])) == (
        dedup.output.ROW_GROUP_ROWS
    )
    path = tmp_path / "t.parquet"
    dedup.output.write_table(table, path)
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [27, 27, 27, 19]
    assert pq.read_table(path).equals(table)
