"""`dedup add` and `dedup check` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from dedup import ScanConfig, scan
from dedup.cli import app
from dedup.schemas import NEAR_DUPLICATES, SPANS

BANNER = "Support The Moscow Times!"


def _new_docs(tmp_path: Path) -> Path:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "one.txt").write_text(f"{BANNER}\nA page of its own, née ünique.\n", "utf-8")
    return folder


def test_add_prints_the_summary(tmp_path: Path, seeds_dir: Path) -> None:
    scan([seeds_dir], tmp_path / "idx", ScanConfig())
    result = CliRunner().invoke(app, ["add", str(tmp_path / "idx"), str(_new_docs(tmp_path))])
    assert result.exit_code == 0, result.stderr
    assert "documents:        6" in result.stdout
    ids = pq.read_table(tmp_path / "idx" / "documents.parquet").column("id").to_pylist()
    assert "one.txt" in ids


def test_add_to_a_folder_that_is_no_index(tmp_path: Path, seeds_dir: Path) -> None:
    result = CliRunner().invoke(app, ["add", str(tmp_path / "nothing"), str(seeds_dir)])
    assert result.exit_code == 1
    assert result.stderr.startswith("dedup: error: ")
    assert "not an index" in result.stderr


def test_check_prints_spans_and_writes_parquet(tmp_path: Path, seeds_dir: Path) -> None:
    scan([seeds_dir], tmp_path / "idx", ScanConfig())
    new = _new_docs(tmp_path)
    runner = CliRunner()
    text = runner.invoke(app, ["check", str(tmp_path / "idx"), str(new)])
    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("one.txt: ")
    assert "boilerplate  passage" in text.stdout

    lines = runner.invoke(app, ["check", str(tmp_path / "idx"), str(new), "--jsonl"])
    row = json.loads(lines.stdout)
    assert row["id"] == "one.txt"
    assert row["spans"][0] | {"score": 1.0} == {
        "start": 0,
        "end": len(BANNER),
        "label": "boilerplate",
        "passage_id": row["spans"][0]["passage_id"],
        "doc_count": 4,
        "score": 1.0,
    }

    out = tmp_path / "checked"
    written = runner.invoke(app, ["check", str(tmp_path / "idx"), str(new), "--out", str(out)])
    assert written.exit_code == 0, written.stderr
    spans = pq.read_table(out / "spans.parquet")
    assert spans.schema.remove_metadata().equals(SPANS)
    assert pq.read_schema(out / "near_duplicates.parquet").remove_metadata().equals(NEAR_DUPLICATES)
    raw = (new / "one.txt").read_bytes()
    for r in spans.to_pylist():
        decoded = raw.decode("utf-8")
        assert raw[r["start_byte"] : r["end_byte"]].decode() == decoded[r["start"] : r["end"]]
    again = runner.invoke(app, ["check", str(tmp_path / "idx"), str(new), "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.stderr
