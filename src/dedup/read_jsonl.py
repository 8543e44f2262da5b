"""Documents from a JSON Lines file, one record per line, read as a stream.

Each non-blank line is a JSON object; its text field (`--text-field`) is the
document and its id field (`--id-field`, a string or an integer) the id. A
record without an id (absent, null or "") is named `<file id>:<line>`. Lines are read one at a
time from the (decompressed) stream, so memory holds one line, however long
the file; a line is parsed in linear time, however long the line.

Problems are recorded, never raised, except `DecodeError` under the "fail"
policy: a file that is binary or whose first line is not a JSON object is
skipped whole (it is probably not JSON Lines); a first record without the
text field skips the file too (a misspelt `--text-field` would otherwise
fill errors.parquet with one row per line); after that, each bad line is
skipped on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from dedup.config import InputConfig
from dedup.decoding import Document, Problem, check_text, decode_bytes, looks_binary, open_stream

_SNIFF = 8192


def _kind(value: object) -> str:
    """JSON's name for the type of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _fields(record: dict[str, Any]) -> str:
    names = ", ".join(repr(k) for k in list(record)[:5])
    return names + (", ..." if len(record) > 5 else "") if names else "none"


def read_jsonl(
    path: Path,
    file_id: str,
    compression: str | None,
    cfg: InputConfig,
    problems: list[Problem],
    carry: bool = False,
) -> Iterator[Document]:
    """Documents of one JSONL file, in line order; problems appended to `problems`.

    `carry` keeps each record (every field, in order) on its document.

    Raises:
        DecodeError: undecodable bytes with `cfg.on_decode_error == "fail"`.
    """
    source = str(path)
    try:
        stream = open_stream(path, compression)
    except OSError as exc:
        problems.append(Problem(source, file_id, f"cannot read: {exc.strerror or exc}", "skipped"))
        return
    line = 0
    started = False  # a record of this file was accepted
    with stream:
        try:
            if looks_binary(stream.peek(_SNIFF)[:_SNIFF]):
                reason = "binary file (NUL or control bytes)"
                problems.append(Problem(source, file_id, reason, "skipped"))
                return
            for raw in stream:
                line += 1
                if raw.isspace():
                    continue
                fallback = f"{file_id}:{line}"
                decoded, altered = decode_bytes(raw, cfg.on_decode_error, f"{source} line {line}")
                if decoded is None:
                    reason, action = altered or ("", "skipped")
                    problems.append(Problem(source, fallback, reason, action, line))
                    continue
                record = _parse(decoded, line, cfg, first=not started)
                if isinstance(record, _Bad):
                    if not started:
                        problems.append(Problem(source, file_id, record.file_reason, "skipped"))
                        return
                    problems.append(Problem(source, fallback, record.reason, "skipped", line))
                    continue
                started = True
                doc = _document(record, source, line, fallback, cfg, problems, carry)
                if doc is not None:
                    if altered is not None:
                        problems.append(Problem(source, doc.id, *altered, line))
                    yield doc
        except OSError as exc:
            reason = (
                f"cannot read after line {line}: {exc.strerror or exc}; the lines before were read"
            )
            problems.append(Problem(source, file_id, reason, "skipped"))


class _Bad(NamedTuple):
    """Why a line is no record: `reason` for the line, `file_reason` when it is the first one."""

    reason: str
    file_reason: str


def _parse(decoded: str, line: int, cfg: InputConfig, first: bool) -> dict[str, Any] | _Bad:
    """The JSON object of a line, or why it is none.

    A file whose first record is not an object, or lacks the text field, is
    probably not JSON Lines, or read with a misspelt `--text-field`: the
    first line's `file_reason` says so and skips the whole file.
    """
    try:
        record = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return _Bad(
            f"not valid JSON ({exc.msg})",
            f"not JSON Lines: line {line} is not JSON ({exc.msg}); pass --input-format text "
            "to read the file as text",
        )
    if not isinstance(record, dict):
        kind = _kind(record)
        return _Bad(
            f"{kind}, not an object", f"not JSON Lines: line {line} is {kind}, not an object"
        )
    if first and cfg.text_field not in record:
        return _Bad(
            f"no field {cfg.text_field!r}",
            f"line {line} has no field {cfg.text_field!r} (fields: {_fields(record)}); pass "
            "--text-field",
        )
    return record


def _document(
    record: dict[str, Any],
    source: str,
    line: int,
    fallback: str,
    cfg: InputConfig,
    problems: list[Problem],
    carry: bool,
) -> Document | None:
    """The document of one parsed record, or None (and a problem) when it cannot be one."""
    raw_id = record.get(cfg.id_field)
    if raw_id is None or raw_id == "":
        doc_id = fallback
    elif isinstance(raw_id, str):
        doc_id = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        problems.append(
            Problem(
                source,
                fallback,
                f"field {cfg.id_field!r} is {_kind(raw_id)}, not a string or integer id",
                "skipped",
                line,
            )
        )
        return None
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(Problem(source, fallback, "the id holds a lone surrogate", "skipped", line))
        return None
    value = record.get(cfg.text_field)
    if not isinstance(value, str):
        reason = (
            f"no field {cfg.text_field!r}"
            if cfg.text_field not in record
            else f"field {cfg.text_field!r} is {_kind(value)}, not a string"
        )
        problems.append(Problem(source, doc_id, reason, "skipped", line))
        return None
    text, problem = check_text(value, cfg.on_decode_error, f"{source} line {line}")
    if problem is not None:
        problems.append(Problem(source, doc_id, problem[0], problem[1], line))
    if text is None:
        return None
    return Document(doc_id, text, source, line, record if carry else None)
