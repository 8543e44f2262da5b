"""Which embedded store opens an index fastest: Parquet, SQLite or DuckDB.

    python benchmarks/index_store.py benchmarks/data/service/index-100000 --write

`check` needs the index's arrays in memory (contents, holders, document
shingle sets: `IndexParts`), read whole at open. This copies DIR/index/ into
SQLite (stdlib; hash lists as BLOBs of uint32) and DuckDB (when installed;
hash lists as LIST columns), and times reading each back into the numpy
arrays that `build_lookup` takes, with the size on disk. The texts are left
out: only `add` reads them, once per compaction.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.arrow_index import parts_from_tables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import replace_section

TABLES = ("contents", "holders", "docs")
LISTS = {"contents": ("shingles",), "docs": ("own", "whole")}


def _parquet(folder: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(folder / "index" / f"{name}.parquet") for name in TABLES}


def _to_sqlite(tables: dict[str, pa.Table], path: Path) -> None:
    con = sqlite3.connect(path)
    for name, table in tables.items():
        columns = table.column_names
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"CREATE TABLE {name} ({quoted})")
        data = []
        for column in columns:
            if column in LISTS.get(name, ()):
                data.append(
                    [
                        np.asarray(v, dtype=np.int32).tobytes()
                        for v in table.column(column).to_pylist()
                    ]
                )
            else:
                data.append(table.column(column).to_pylist())
        marks = ", ".join("?" * len(columns))
        con.executemany(f"INSERT INTO {name} VALUES ({marks})", zip(*data, strict=True))
    con.commit()
    con.close()


def _from_sqlite(path: Path, schema: dict[str, pa.Schema]) -> dict[str, pa.Table]:
    con = sqlite3.connect(path)
    out = {}
    for name in TABLES:
        rows = con.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema[name]]
        arrays = {}
        for field, values in zip(schema[name], columns, strict=True):
            if field.name in LISTS.get(name, ()):
                lengths = np.array([len(v) // 4 for v in values], dtype=np.int32)
                offsets = np.zeros(len(values) + 1, dtype=np.int32)
                np.cumsum(lengths, out=offsets[1:])
                flat = np.frombuffer(b"".join(values), dtype=np.int32)
                arrays[field.name] = pa.ListArray.from_arrays(offsets, flat, type=field.type)
            else:
                arrays[field.name] = pa.array(values, field.type)
        out[name] = pa.table(arrays)
    con.close()
    return out


def _arrow(result: object) -> pa.Table:
    """A DuckDB result as an Arrow table (the method's name changed across versions)."""
    method = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table  # type: ignore[attr-defined]
    table: pa.Table = method()
    return table


def _timed(read, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tables = read()
        parts_from_tables(*(tables[name] for name in TABLES))
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    tables = _parquet(args.index)
    schema = {name: t.schema for name, t in tables.items()}
    rows = [
        (
            "Parquet (zstd), pyarrow",
            _timed(lambda: _parquet(args.index)),
            sum((args.index / "index" / f"{n}.parquet").stat().st_size for n in TABLES),
        )
    ]
    with tempfile.TemporaryDirectory(dir=args.index.parent) as tmp:
        db = Path(tmp) / "index.sqlite"
        _to_sqlite(tables, db)
        rows.append(
            ("SQLite, stdlib", _timed(lambda: _from_sqlite(db, schema), 1), db.stat().st_size)
        )
        try:
            import duckdb
        except ImportError:
            duckdb = None
        if duckdb is not None:
            path = Path(tmp) / "index.duckdb"
            con = duckdb.connect(str(path))
            for name, table in tables.items():
                con.register("source", table)
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM source")
                con.unregister("source")
            con.close()

            def read_duckdb() -> dict[str, pa.Table]:
                c = duckdb.connect(str(path), read_only=True)
                try:
                    return {n: _arrow(c.sql(f"SELECT * FROM {n} ORDER BY rowid")) for n in TABLES}
                finally:
                    c.close()

            rows.append((f"DuckDB {duckdb.__version__}", _timed(read_duckdb), path.stat().st_size))
    n_docs = tables["docs"].num_rows
    lines = [
        f"Reading the lookup's arrays of an index of {n_docs:,} documents "
        "(contents, holders, document shingle sets; texts left out), best of 3:",
        "",
        "| store | open s | MB on disk |",
        "|---|---|---|",
        *(f"| {name} | {seconds:.2f} | {size / 1e6:.0f} |" for name, seconds, size in rows),
        "",
        f"Produced by `python benchmarks/index_store.py {args.index} --write`.",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write:
        replace_section("index_store", "Index store", body)


if __name__ == "__main__":
    main()
