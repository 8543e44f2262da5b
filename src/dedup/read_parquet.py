"""Documents from a Parquet file, read in record batches.

The text column (`--text-field`) is a string column, or a binary one whose
bytes are decoded under the decode policy; the id column (`--id-field`) is
a string or integer column; a file without one, or a null or empty id,
names its rows `<file id>:<row>` (rows counted from 0). Only those two columns are read
unless the other fields are carried (for `dedup clean`); the `key=value`
folders of a partitioned dataset are carried as string fields then.

A file that cannot be opened, or lacks a usable text column, is skipped and
recorded; a file that fails part way keeps the rows read before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.config import InputConfig
from dedup.decoding import Document, Problem, check_text, decode_bytes

# Rows per batch: a batch of long texts must still fit in memory comfortably.
_BATCH_ROWS = 1024


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t)) or str(t) == "string_view"


def _is_bytes(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t)) or str(t) == "binary_view"


def _columns_problem(schema: pa.Schema, cfg: InputConfig) -> str | None:
    """Why the file's columns cannot give documents, or None."""
    if cfg.text_field not in schema.names:
        shown = ", ".join(repr(n) for n in schema.names[:5])
        return f"no column {cfg.text_field!r} (columns: {shown or 'none'}); pass --text-field"
    text_type = schema.field(cfg.text_field).type
    if not (_is_text(text_type) or _is_bytes(text_type)):
        return f"column {cfg.text_field!r} is {text_type}, not text; pass --text-field"
    if cfg.id_field in schema.names:
        id_type = schema.field(cfg.id_field).type
        if not (_is_text(id_type) or pa.types.is_integer(id_type)):
            return f"column {cfg.id_field!r} is {id_type}, not a string or integer id"
    return None


def parquet_schema(path: Path) -> pa.Schema:
    """The Arrow schema declared in a Parquet file's footer.

    Raises:
        OSError, pa.ArrowException: the file is not readable Parquet.
    """
    return pq.read_schema(path)


def read_parquet(
    path: Path,
    file_id: str,
    cfg: InputConfig,
    problems: list[Problem],
    carry: bool = False,
    partition: Mapping[str, str] | None = None,
) -> Iterator[Document]:
    """Documents of one Parquet file, in row order; problems appended to `problems`.

    `carry` keeps each row (every column, then the `partition` fields) on its
    document.

    Raises:
        DecodeError: undecodable bytes with `cfg.on_decode_error == "fail"`.
    """
    source = str(path)
    try:
        handle = pq.ParquetFile(path)
        wrong = _columns_problem(handle.schema_arrow, cfg)
    except (OSError, pa.ArrowException) as exc:
        problems.append(Problem(source, file_id, f"not a readable Parquet file: {exc}", "skipped"))
        return
    if wrong is not None:
        problems.append(Problem(source, file_id, wrong, "skipped"))
        return
    has_id = cfg.id_field in handle.schema_arrow.names
    wanted = [cfg.text_field, cfg.id_field] if has_id else [cfg.text_field]
    row = 0
    try:
        with handle:
            batches = handle.iter_batches(_BATCH_ROWS, columns=None if carry else wanted)
            for batch in batches:
                texts = batch.column(cfg.text_field).to_pylist()
                ids = batch.column(cfg.id_field).to_pylist() if has_id else [None] * len(texts)
                records = batch.to_pylist() if carry else None
                for i, (value, raw_id) in enumerate(zip(texts, ids, strict=True)):
                    doc_id = f"{file_id}:{row}" if raw_id in (None, "") else str(raw_id)
                    record = None
                    if records is not None:
                        record = records[i] | {
                            k: v for k, v in (partition or {}).items() if k not in records[i]
                        }
                    doc = _document(value, doc_id, source, row, cfg, problems, record)
                    row += 1
                    if doc is not None:
                        yield doc
    except (OSError, pa.ArrowException) as exc:
        problems.append(
            Problem(
                source,
                file_id,
                f"cannot read after row {row}: {exc}; the rows before were read",
                "skipped",
            )
        )


def _document(
    value: str | bytes | None,
    doc_id: str,
    source: str,
    row: int,
    cfg: InputConfig,
    problems: list[Problem],
    record: dict[str, object] | None,
) -> Document | None:
    """The document of one row, or None (and a problem) when its text is null or unusable."""
    where = f"{source} row {row}"
    if value is None:
        problems.append(Problem(source, doc_id, f"{cfg.text_field!r} is null", "skipped", row))
        return None
    if isinstance(value, bytes):
        text, problem = decode_bytes(value, cfg.on_decode_error, where)
    else:
        text, problem = check_text(value, cfg.on_decode_error, where)
    if problem is not None:
        problems.append(Problem(source, doc_id, problem[0], problem[1], row))
    if text is None:
        return None
    return Document(doc_id, text, source, row, record)
