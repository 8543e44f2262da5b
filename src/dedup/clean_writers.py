"""The files `dedup clean` writes, one row per document, in input order.

- `clean.jsonl` (`--format jsonl`): each input record with its text field
  replaced by the cleaned text and every other field carried as it was; a
  record without an id field gets dedup's id under `--id-field`; a text
  file becomes `{"<id field>": id, "<text field>": text}`.
- `clean.parquet` (`--format parquet`): `<id field>` (dedup's document id,
  a string) and `<text field>` (the cleaned text), then the carried fields.
  The schema is declared before the first row, from the inputs' own
  declarations: the other columns of Parquet inputs with the type of the
  first file that has them (and `key=value` partition folders as strings);
  JSON has no declared types, so the other fields of JSONL records travel
  as one JSON text column, `fields` (a JSONL field named like a column
  that a Parquet input declares goes to that column).
- `attributes.jsonl` (`--format dolma`): Dolma attribute rows
  `{"id": id, "attributes": {"dedup__boilerplate": [[start, end, score], ...],
  "dedup__near_duplicate": [[0, n_chars, 1.0]] or []}}`, code-point offsets;
  a near-duplicate is marked when the document is not its cluster's
  representative.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from dedup.config import InputConfig
from dedup.errors import ConfigError, InputError
from dedup.schemas import META_TABLE, META_VERSION, SCHEMA_VERSION
from dedup.sources import Document, Source

CLEAN_FORMATS = ("parquet", "jsonl", "dolma")
CLEAN_FILES = {"parquet": "clean.parquet", "jsonl": "clean.jsonl", "dolma": "attributes.jsonl"}
DOLMA_BOILERPLATE = "dedup__boilerplate"
DOLMA_NEAR_DUPLICATE = "dedup__near_duplicate"
JSON_FIELDS = "fields"
# Rows and text characters buffered before a Parquet row group is written.
_FLUSH_ROWS = 1024
_FLUSH_CHARS = 64 << 20


def _json_value(value: object) -> object:
    """JSON for the Parquet values that have no JSON type."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal | dt.timedelta):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _json_line(row: object) -> bytes:
    try:
        text = json.dumps(row, ensure_ascii=False, default=_json_value)
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # A carried string with a lone surrogate: JSON escapes keep it, UTF-8 cannot.
        return (json.dumps(row, default=_json_value) + "\n").encode("ascii")


def clean_schema(inputs: InputConfig, sources: Sequence[Source]) -> pa.Schema:
    """The schema of `clean.parquet`, from the inputs' declared schemas (see the module doc).

    Raises:
        ConfigError: a carried column is named like the JSON `fields` column.
    """
    carried: dict[str, pa.DataType] = {}
    own = {inputs.id_field, inputs.text_field}
    for source in sources:
        if source.format != "parquet" or source.compression is not None:
            continue
        try:
            declared = pq.read_schema(source.path)
        except (OSError, pa.ArrowException):
            continue  # the reader records it as a problem
        for item in declared:
            if item.name not in own:
                carried.setdefault(item.name, item.type)
        for key, _ in source.partition:
            if key not in own:
                carried.setdefault(key, pa.string())
    fields = [
        pa.field(inputs.id_field, pa.string(), nullable=False),
        pa.field(inputs.text_field, pa.string(), nullable=False),
        *(pa.field(name, type_) for name, type_ in carried.items()),
    ]
    if any(s.format == "jsonl" for s in sources):
        if JSON_FIELDS in carried or JSON_FIELDS in own:
            raise ConfigError(
                f"a Parquet column or --id-field/--text-field is named {JSON_FIELDS!r}, which "
                "clean.parquet uses for the fields of JSONL records; use --format jsonl"
            )
        fields.append(pa.field(JSON_FIELDS, pa.string()))
    return pa.schema(fields).with_metadata(
        {META_VERSION: SCHEMA_VERSION.encode(), META_TABLE: b"clean"}
    )


class CleanWriter:
    """Writes one row per document; `close` flushes the file to disk."""

    def __init__(self, path: Path, inputs: InputConfig, schema: pa.Schema | None):
        self._path = path
        self._inputs = inputs
        self._schema = schema
        self._rows: list[dict[str, Any]] = []
        self._chars = 0
        self._last = ""
        self._parquet: pq.ParquetWriter | None = None
        self._handle: IO[bytes] | None = None
        if schema is not None:
            self._parquet = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._handle = open(path, "wb")  # noqa: SIM115  # closed by close()

    def _record(self, doc: Document, text: str) -> dict[str, Any]:
        id_field, text_field = self._inputs.id_field, self._inputs.text_field
        if doc.record is None:
            return {id_field: doc.id, text_field: text}
        record = dict(doc.record)
        record[text_field] = text
        record.setdefault(id_field, doc.id)
        return record

    def document(self, doc: Document, text: str) -> None:
        """Write `doc` with its cleaned `text` and its carried fields."""
        record = self._record(doc, text)
        if self._handle is not None:
            self._handle.write(_json_line(record))
            return
        declared = set(self._schema.names) if self._schema is not None else set()
        row: dict[str, Any] = {}
        other: dict[str, Any] = {}
        for key, value in record.items():
            (row if key in declared else other)[key] = value
        if other:
            row[JSON_FIELDS] = json.dumps(other, default=_json_value)
        row[self._inputs.id_field] = doc.id
        row[self._inputs.text_field] = text
        self._rows.append(row)
        self._chars += len(text)
        self._last = doc.source
        if len(self._rows) >= _FLUSH_ROWS or self._chars >= _FLUSH_CHARS:
            self._flush()

    def attributes(
        self,
        doc: Document,
        starts: NDArray[np.int64],
        ends: NDArray[np.int64],
        scores: NDArray[np.float64],
        near_duplicate: bool,
    ) -> None:
        """Write the Dolma attribute row of `doc`."""
        spans = [
            [s, e, float(c)]
            for s, e, c in zip(starts.tolist(), ends.tolist(), scores.tolist(), strict=True)
        ]
        marked = [[0, len(doc.text), 1.0]] if near_duplicate else []
        row = {"id": doc.id, "attributes": {DOLMA_BOILERPLATE: spans, DOLMA_NEAR_DUPLICATE: marked}}
        if self._handle is None:
            raise ValueError("attributes are written to JSONL")
        self._handle.write(_json_line(row))

    def _flush(self) -> None:
        if not self._rows or self._parquet is None:
            return
        try:
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InputError(
                f"{self._last}: a carried field does not fit the type that the first Parquet "
                f"file declared ({exc}); unify the inputs' schemas or use --format jsonl",
                self._last,
            ) from exc
        self._parquet.write_table(table)
        self._rows, self._chars = [], 0

    def discard(self) -> None:
        """Close the file without writing what is buffered (it is about to be removed)."""
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()

    def close(self) -> None:
        """Write what is buffered and flush the file to disk."""
        if self._parquet is not None:
            self._flush()
            self._parquet.close()
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            return
        with open(self._path, "rb+") as handle:
            os.fsync(handle.fileno())


@contextmanager
def open_writer(
    fmt: str, path: Path, inputs: InputConfig, sources: Sequence[Source]
) -> Iterator[CleanWriter]:
    """A writer for `fmt`; the file is complete and on disk when the block ends without error."""
    schema = clean_schema(inputs, sources) if fmt == "parquet" else None
    writer = CleanWriter(path, inputs, schema)
    try:
        yield writer
    except BaseException:
        writer.discard()
        raise
    writer.close()
