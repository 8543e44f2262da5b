"""dedup clean: the cleaned corpus joined back to its input, carried fields, Dolma export.

The acceptance test joins clean's output back against the input texts and
the spans: no boilerplate passage is left, and every unique character is
kept, in order.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dedup import InputError, ScanConfig, clean, scan
from dedup.cli import app
from dedup.errors import ConfigError, OutputError

COPY = "zzz_copy_of_002.txt"
SEED_002 = "002_a3aad72eae653e04.txt"


def rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}: a user sees a traceback")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def corpus(tmp_path: Path, seeds_copy: Path) -> tuple[Path, Path]:
    """Seeds plus an exact copy of 002 (a near-duplicate), and their scan."""
    shutil.copyfile(seeds_copy / SEED_002, seeds_copy / COPY)
    out = tmp_path / "scan"
    scan([seeds_copy], out, ScanConfig())
    return seeds_copy, out


def _unique_text(spans: list[dict[str, object]], doc_id: str, text: str) -> str:
    return "".join(
        text[int(s["start"]) : int(s["end"])]  # type: ignore[call-overload]
        for s in spans
        if s["id"] == doc_id and s["label"] == "unique"
    )


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_cleaned_text_joined_back_keeps_every_unique_character_and_no_boilerplate(
    tmp_path: Path, corpus: tuple[Path, Path], fmt: str
) -> None:
    """Acceptance: the join a pipeline does, against the input and spans.parquet."""
    docs, out = corpus
    summary = clean(out, tmp_path / "clean", fmt)
    path = tmp_path / "clean" / f"clean.{fmt}"
    if fmt == "parquet":
        cleaned = {r["id"]: r["text"] for r in rows(path)}
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        cleaned = {r["id"]: r["text"] for r in map(json.loads, lines)}
    texts = {p.name: p.read_text(encoding="utf-8") for p in docs.iterdir()}
    assert list(cleaned) == sorted(texts)  # input order: files in id order
    assert summary.n_written == len(texts) == 6
    spans = rows(out / "spans.parquet")
    passages = [str(p["text"]) for p in rows(out / "passages.parquet")]
    assert len(passages) >= 3
    cut = 0
    for doc_id, text in texts.items():
        kept = str(cleaned[doc_id])
        assert kept == _unique_text(spans, doc_id, text)
        assert not [p for p in passages if p in kept], doc_id
        cut += len(text) - len(kept)
    assert summary.chars_cut == cut > 0
    assert summary.chars_in == sum(map(len, texts.values()))


def test_representatives_only_drops_the_near_duplicate(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    _, out = corpus
    summary = clean(out, tmp_path / "clean", "parquet", representatives_only=True)
    ids = [r["id"] for r in rows(tmp_path / "clean" / "clean.parquet")]
    assert COPY not in ids and SEED_002 in ids and len(ids) == 5
    assert (summary.n_documents, summary.n_written, summary.n_near_duplicates_dropped) == (6, 5, 1)


def test_dolma_attributes_one_row_per_document_in_input_order(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    _, out = corpus
    clean(out, tmp_path / "dolma", "dolma")
    lines = (tmp_path / "dolma" / "attributes.jsonl").read_text(encoding="utf-8").splitlines()
    attrs = [json.loads(line) for line in lines]
    documents = rows(out / "documents.parquet")
    assert [a["id"] for a in attrs] == [d["id"] for d in documents]
    spans = rows(out / "spans.parquet")
    for row, doc in zip(attrs, documents, strict=True):
        assert set(row) == {"id", "attributes"}
        expected = [
            [s["start"], s["end"], s["score"]]
            for s in spans
            if s["id"] == row["id"] and s["label"] == "boilerplate"
        ]
        assert row["attributes"]["dedup__boilerplate"] == expected
        marked = row["attributes"]["dedup__near_duplicate"]
        assert marked == ([] if doc["is_representative"] else [[0, doc["n_chars"], 1.0]])
    assert sum(bool(a["attributes"]["dedup__near_duplicate"]) for a in attrs) == 1


def _shard(tmp_path: Path, seeds_dir: Path) -> tuple[Path, list[dict[str, object]]]:
    """The seeds as one JSONL.gz shard, in reverse order, with fields to carry."""
    records: list[dict[str, object]] = [
        {"url": f"https://example.org/{p.stem}", "id": p.name, "meta": {"n": i}, "text": ""}
        for i, p in enumerate(sorted(seeds_dir.iterdir(), reverse=True))
    ]
    for record in records:
        record["text"] = (seeds_dir / str(record["id"])).read_text(encoding="utf-8")
    records.append({"text": "no id here", "lang": "en"})
    shard = tmp_path / "in" / "shard.jsonl.gz"
    shard.parent.mkdir()
    shard.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return shard, records


def test_jsonl_records_keep_their_fields_and_order(tmp_path: Path, seeds_dir: Path) -> None:
    shard, records = _shard(tmp_path, seeds_dir)
    scan([shard], tmp_path / "scan", ScanConfig())
    clean(tmp_path / "scan", tmp_path / "clean", "jsonl")
    lines = (tmp_path / "clean" / "clean.jsonl").read_text(encoding="utf-8").splitlines()
    out = [json.loads(line) for line in lines]
    assert len(out) == len(records)
    for got, original in zip(out, records, strict=True):
        assert list(got)[: len(original)] == list(original)  # keys in their order
        assert {k: v for k, v in got.items() if k != "text"} == {
            **{k: v for k, v in original.items() if k != "text"},
            "id": original.get("id", "shard.jsonl.gz:6"),  # dedup's id added when absent
        }
    assert "Dear readers" not in out[0]["text"] and out[-1]["text"] == "no id here"
    clean(tmp_path / "scan", tmp_path / "clean_pq", "parquet")
    table = pq.read_table(tmp_path / "clean_pq" / "clean.parquet")
    assert table.schema.names == ["id", "text", "fields"]
    fields = [json.loads(f) for f in table.column("fields").to_pylist()]
    assert fields[0] == {"url": records[0]["url"], "meta": {"n": 0}}
    assert fields[-1] == {"lang": "en"}


def test_parquet_columns_are_carried_with_their_types(tmp_path: Path, seeds_dir: Path) -> None:
    names = sorted(p.name for p in seeds_dir.iterdir())
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    for part, chunk in (("a", names[:3]), ("b", names[3:])):
        folder = tmp_path / "ds" / f"crawl={part}"
        folder.mkdir(parents=True)
        table = pa.table(
            {
                "text": [(seeds_dir / n).read_text(encoding="utf-8") for n in chunk],
                "id": chunk,
                "fetched": pa.array([when] * len(chunk), pa.timestamp("us", tz="UTC")),
                "tags": pa.array([["news", n[:3]] for n in chunk], pa.list_(pa.string())),
                "size": pa.array(range(len(chunk)), pa.int32()),
            }
        )
        pq.write_table(table, folder / "part-0.parquet")
    scan([tmp_path / "ds"], tmp_path / "scan", ScanConfig())
    clean(tmp_path / "scan", tmp_path / "clean", "parquet")
    table = pq.read_table(tmp_path / "clean" / "clean.parquet")
    assert table.schema.remove_metadata() == pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("fetched", pa.timestamp("us", tz="UTC")),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("size", pa.int32()),
            pa.field("crawl", pa.string()),
        ]
    )
    assert table.column("id").to_pylist() == names
    assert table.column("crawl").to_pylist() == ["a"] * 3 + ["b"] * 2
    assert table.column("fetched").to_pylist()[0] == when
    clean(tmp_path / "scan", tmp_path / "clean_jsonl", "jsonl")
    first = json.loads((tmp_path / "clean_jsonl" / "clean.jsonl").read_text().splitlines()[0])
    assert first["fetched"] == "2024-05-01T12:00:00+00:00" and first["crawl"] == "a"


def test_inputs_given_again_after_a_move(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    docs, out = corpus
    moved = tmp_path / "moved"
    docs.rename(moved)
    with pytest.raises(InputError, match="no such file"):
        clean(out, tmp_path / "clean")
    assert clean(out, tmp_path / "clean", paths=[moved]).n_written == 6


def _edit(docs: Path) -> str:
    path = docs / SEED_002
    path.write_text(path.read_text(encoding="utf-8").replace("Syria", "Syrie"), encoding="utf-8")
    return "is not the one scanned"


def _add(docs: Path) -> str:
    (docs / "new.txt").write_text("a new document\n", encoding="utf-8")
    return "is not in the scan"


def _remove(docs: Path) -> str:
    (docs / COPY).unlink()
    return "1 scanned documents were not found in the inputs"


@pytest.mark.parametrize("change", [_edit, _add, _remove], ids=["edited", "added", "removed"])
def test_changed_inputs_are_refused_and_nothing_written(
    tmp_path: Path, corpus: tuple[Path, Path], change: object
) -> None:
    docs, out = corpus
    message = change(docs)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        clean(out, tmp_path / "clean")
    assert not (tmp_path / "clean").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_clean_refuses_bad_calls(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    docs, out = corpus
    with pytest.raises(ConfigError, match="--format"):
        clean(out, tmp_path / "c", "csv")
    with pytest.raises(ConfigError, match="--representatives-only"):
        clean(out, tmp_path / "c", "dolma", representatives_only=True)
    with pytest.raises(InputError, match="not a dedup scan folder"):
        clean(docs, tmp_path / "c")
    clean(out, tmp_path / "c")
    with pytest.raises(OutputError, match="--force"):
        clean(out, tmp_path / "c")
    clean(out, tmp_path / "c", force=True)
    with pytest.raises(OutputError, match="would contain the input"):
        clean(out, out, force=True)  # the scan folder is never replaced
    assert (out / "spans.parquet").exists()
    with pytest.raises(OutputError, match="dedup did not write"):
        clean(out, tmp_path / "c", "jsonl", force=True)  # holds clean.parquet, not clean.jsonl


def test_clean_command(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    _, out = corpus
    target = tmp_path / "clean"
    code, stdout, stderr = run(["clean", str(out), "--out", str(target), "--format", "jsonl"])
    assert code == 0 and stderr == ""
    assert stdout.splitlines()[:2] == [
        f"wrote {target}/clean.jsonl",
        "documents:        6 read, 6 written",
    ]
    assert "boilerplate cut:" in stdout
    code, _, stderr = run(["clean", str(out), "--out", str(tmp_path / "x"), "--format", "csv"])
    assert code == 1 and stderr.startswith("dedup: error: --format") and stderr.count("\n") == 1
    code, _, stderr = run(["clean", str(out)])
    assert code == 2 and "--out" in stderr


def test_clean_after_a_scan_that_skipped_inputs_exits_3(tmp_path: Path, seeds_copy: Path) -> None:
    (seeds_copy / "blob.bin").write_bytes(b"\x00\x01binary")
    scan([seeds_copy], tmp_path / "scan", ScanConfig())
    code, stdout, stderr = run(["clean", str(tmp_path / "scan"), "-o", str(tmp_path / "c")])
    assert code == 3
    assert "documents:        5 read, 5 written" in stdout
    assert "1 skipped" in stderr
