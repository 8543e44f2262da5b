"""Arbitrary bytes as file contents, under every file name a reader dispatches on.

Whatever the bytes: the scan ends without a traceback (exit 0, or 3 when
something was skipped, or 1 with one line when two records share an id);
every text file that is not binary is labelled, its bytes decoded as the
policy says; every file is either in the tables or in errors.parquet; and
the spans of every document tile it.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedup.cli import app
from dedup.sources import looks_binary

SUFFIXES = (".txt", ".md", ".jsonl", ".json", ".parquet", ".txt.gz", ".jsonl.gz")
SUFFIXES += (".txt.bz2", ".jsonl.xz", ".jsonl.zst", ".txt.zst")
COMPRESS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
}

records = st.dictionaries(
    st.sampled_from(["id", "text", "url"]),
    st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
)
payloads = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(records, max_size=4).map(lambda rs: "\n".join(map(json.dumps, rs)).encode()),
    st.tuples(st.text(max_size=100), st.binary(max_size=8)).map(
        lambda p: p[0].encode("utf-8", "surrogatepass") + p[1]
    ),
)
files = st.lists(
    st.tuples(st.sampled_from(SUFFIXES), payloads, st.booleans()), min_size=1, max_size=4
)


def _write(folder: Path, i: int, suffix: str, payload: bytes, compress: bool) -> tuple[Path, bytes]:
    """Write a file; `compress` makes a valid archive of a compressed suffix, else raw bytes."""
    path = folder / f"f{i}{suffix}"
    codec = COMPRESS.get(path.suffix)
    path.write_bytes(codec(payload) if codec and compress else payload)
    return path, payload


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files)
def test_arbitrary_bytes_never_crash_and_nothing_is_lost(
    case: list[tuple[str, bytes, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "docs", Path(tmp) / "out"
        folder.mkdir()
        written = [_write(folder, i, *entry) for i, entry in enumerate(case)]
        result = CliRunner().invoke(app, ["scan", str(folder), "--out", str(out)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"uncaught {result.exception!r}")
        if result.exit_code == 1 and "both have the id" in result.stderr:
            assert result.stderr.count("\n") == 1 and not out.exists()
            return
        assert result.exit_code in (0, 3), result.stderr
        documents = pq.read_table(out / "documents.parquet").to_pylist()
        errors = pq.read_table(out / "errors.parquet").to_pylist()
        by_id = {d["id"]: d for d in documents}
        sources = {d["source"] for d in documents}
        skipped = {e["path"] for e in errors if e["action"] == "skipped" and e["row"] is None}
        for path, payload in written:
            name = path.name
            if path.suffix in (".txt", ".md") and not looks_binary(payload):
                text = payload.decode("utf-8", errors="replace")
                assert by_id[name]["n_chars"] == len(text), name
            blank_jsonl = ".json" in name and not payload.strip()
            assert (
                str(path) in sources | skipped or blank_jsonl or _all_records_bad(errors, path)
            ), (name, payload)
        ends: dict[str, int] = {}
        for span in pq.read_table(out / "spans.parquet").to_pylist():
            assert span["start"] == ends.get(span["id"], 0)
            ends[span["id"]] = span["end"]
        assert all(ends.get(d["id"], 0) == d["n_chars"] for d in documents)


def _all_records_bad(errors: list[dict[str, object]], path: Path) -> bool:
    """A JSONL file whose every record was skipped, each with its own row."""
    return any(e["path"] == str(path) and e["row"] is not None for e in errors)
