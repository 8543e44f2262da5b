"""Input formats: detection, JSONL and Parquet records, compression, globs, ids.

And the acceptance test: one corpus given as a folder, as JSONL.gz and as a
partitioned Parquet dataset yields the same spans.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from dedup import InputConfig, ScanConfig, scan
from dedup.errors import ConfigError
from dedup.sources import Problem, detect_format, list_sources, read_documents

COMPRESS = {
    "": lambda b: b,
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
}


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("name", "forced", "expected"),
    [
        ("a.txt", "auto", ("text", None)),
        ("README", "auto", ("text", None)),
        ("a.md.gz", "auto", ("text", "gzip")),
        ("shard.jsonl", "auto", ("jsonl", None)),
        ("shard.jsonl.gz", "auto", ("jsonl", "gzip")),
        ("shard.json.zst", "auto", ("jsonl", "zstd")),
        ("shard.NDJSON.bz2", "auto", ("jsonl", "bz2")),
        ("part-0.parquet", "auto", ("parquet", None)),
        ("part.pq", "auto", ("parquet", None)),
        ("x.jsonl.xz", "text", ("text", "xz")),
        ("x.txt", "jsonl", ("jsonl", None)),
        # A dot that starts or ends a name opens no suffix; the last dot does.
        ("..jsonl", "auto", ("jsonl", None)),
        ("..jsonl.gz", "auto", ("jsonl", "gzip")),
        ("...parquet", "auto", ("parquet", None)),
        (".jsonl", "auto", ("text", None)),
        (".gz", "auto", ("text", None)),
        ("a.", "auto", ("text", None)),
        ("a.jsonl.", "auto", ("text", None)),
        ("X.JSONL.GZ", "auto", ("jsonl", "gzip")),
        ("dir.jsonl/part", "auto", ("text", None)),
    ],
)
def test_format_is_detected_from_the_name(
    name: str, forced: str, expected: tuple[str, str | None]
) -> None:
    assert detect_format(name, forced) == expected


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_every_compression_is_read_transparently(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"a.txt{suffix}").write_bytes(COMPRESS[suffix](b"plain text\n"))
    rows = [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]
    (tmp_path / f"s.jsonl{suffix}").write_bytes(COMPRESS[suffix](_jsonl(rows)))
    problems: list[Problem] = []
    docs = list(read_documents([tmp_path], problems=problems))
    assert [(d.id, d.text, d.row) for d in docs] == [
        (f"a.txt{suffix}", "plain text\n", None),
        ("r1", "one", 1),
        ("r2", "two", 2),
    ]
    assert problems == []


def test_jsonl_ids_text_field_and_fallback(tmp_path: Path) -> None:
    lines = [
        {"doc_id": 7, "body": "seven", "url": "u7"},
        {"body": "no id"},
        {"doc_id": "x", "body": "", "url": "ux"},
    ]
    data = _jsonl(lines[:1]) + b"\n  \n" + _jsonl(lines[1:])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.jsonl").write_bytes(data)
    cfg = InputConfig(text_field="body", id_field="doc_id")
    docs = list(read_documents([tmp_path], cfg, carry=True))
    # Blank lines are skipped but counted: rows are line numbers.
    assert [(d.id, d.text, d.row) for d in docs] == [
        ("7", "seven", 1),
        ("sub/s.jsonl:4", "no id", 4),
        ("x", "", 5),
    ]
    assert docs[0].record == lines[0]
    assert next(iter(read_documents([tmp_path], cfg))).record is None  # carried on request only


def test_parquet_dataset_with_partitions(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    for lang, ids in (("en", ["a", "b"]), ("ru", ["c"])):
        part = ds / f"lang={lang}"
        part.mkdir(parents=True)
        table = pa.table({"id": ids, "text": [f"text {i}" for i in ids], "n": [1] * len(ids)})
        pq.write_table(table, part / "part-0.parquet")
    (ds / "_SUCCESS").write_bytes(b"")
    (ds / "_common_metadata").write_bytes(b"not read")
    sources = list_sources([ds])
    assert [(s.id, s.format, s.partition) for s in sources] == [
        ("lang=en/part-0.parquet", "parquet", (("lang", "en"),)),
        ("lang=ru/part-0.parquet", "parquet", (("lang", "ru"),)),
    ]
    docs = list(read_documents([ds], carry=True))
    assert [(d.id, d.row) for d in docs] == [("a", 0), ("b", 1), ("c", 0)]
    assert docs[2].record == {"id": "c", "text": "text c", "n": 1, "lang": "ru"}


def test_parquet_without_id_column_and_binary_text(tmp_path: Path) -> None:
    table = pa.table({"content": pa.array([b"caf\xc3\xa9", b"caf\xe9"], pa.binary())})
    pq.write_table(table, tmp_path / "t.parquet")
    problems: list[Problem] = []
    docs = list(read_documents([tmp_path], InputConfig(text_field="content"), problems=problems))
    assert [(d.id, d.text) for d in docs] == [("t.parquet:0", "café"), ("t.parquet:1", "caf\ufffd")]
    assert [(p.id, p.action, p.row) for p in problems] == [("t.parquet:1", "replaced", 1)]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    for rel in ("a.txt", "b.md", "logs/c.txt", "keep/d.txt"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(rel, encoding="utf-8")
    ids = [s.id for s in list_sources([tmp_path], InputConfig(include=("*.txt",)))]
    assert ids == ["a.txt", "keep/d.txt", "logs/c.txt"]
    cfg = InputConfig(include=("*.txt",), exclude=("logs/*",))
    assert [s.id for s in list_sources([tmp_path], cfg)] == ["a.txt", "keep/d.txt"]
    # A file given directly is always read.
    assert [s.id for s in list_sources([tmp_path / "b.md"], cfg)] == ["b.md"]


def test_input_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="--input-format"):
        InputConfig(input_format="csv")
    with pytest.raises(ConfigError, match="--on-decode-error"):
        InputConfig(on_decode_error="ignore")
    with pytest.raises(ConfigError, match="must differ"):
        InputConfig(text_field="x", id_field="x")
    cfg = InputConfig(include=("*.txt",), text_field="body")
    assert InputConfig.from_json(cfg.to_json()) == cfg


def _seed_texts(seeds_dir: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(seeds_dir.iterdir())]


def _tables(out: Path, name: str) -> pa.Table:
    return pq.read_table(out / f"{name}.parquet").replace_schema_metadata(None)


def test_folder_jsonl_gz_and_parquet_dataset_give_the_same_spans(
    tmp_path: Path, seeds_dir: Path
) -> None:
    """Acceptance: the same corpus in three shapes, the same labels."""
    texts = _seed_texts(seeds_dir)
    shard = tmp_path / "corpus.jsonl.gz"
    rows = [{"id": i, "text": t, "url": f"https://example.org/{i}"} for i, t in texts]
    shard.write_bytes(gzip.compress(_jsonl(rows)))
    dataset = tmp_path / "dataset"
    for part, chunk in (("0", texts[:2]), ("1", texts[2:])):
        (dataset / f"part={part}").mkdir(parents=True)
        table = pa.table({"id": [i for i, _ in chunk], "text": [t for _, t in chunk]})
        pq.write_table(table, dataset / f"part={part}" / "data.parquet")
    outs = {}
    for name, given in (("folder", seeds_dir), ("jsonl", shard), ("parquet", dataset)):
        outs[name] = tmp_path / f"out_{name}"
        summary = scan([given], outs[name], ScanConfig())
        assert summary.n_documents == 5 and summary.problems == []
    for name in ("spans", "passages"):
        folder = _tables(outs["folder"], name)
        assert folder.num_rows > 0
        assert _tables(outs["jsonl"], name).equals(folder), name
        assert _tables(outs["parquet"], name).equals(folder), name
    docs = {k: _tables(v, "documents") for k, v in outs.items()}
    labels = ["id", "n_chars", "boilerplate_chars", "near_dup_cluster", "text_hash"]
    for name in ("jsonl", "parquet"):
        assert docs[name].select(labels).equals(docs["folder"].select(labels))
    assert docs["jsonl"].column("row").to_pylist() == [1, 2, 3, 4, 5]
    assert docs["parquet"].column("row").to_pylist() == [0, 1, 0, 1, 2]
    assert set(docs["jsonl"].column("source").to_pylist()) == {str(shard)}


def test_group_by_a_field_counts_repetition_per_value(tmp_path: Path) -> None:
    """A column of theirs as the group: a paragraph two pages of one site share is boilerplate."""
    footer = (
        "Our newsroom is funded by readers like you and we rely on every member to keep "
        "reporting on the valley, its towns and the people who live there every day."
    )
    rows = [
        {"id": f"p{n}", "site": site, "text": f"{story}\n\n{tail}"}
        for n, (site, story, tail) in enumerate(
            [
                ("valley", "The mill reopened after the flood.", footer),
                ("valley", "A choir sang in the old church.", footer),
                ("hills", "Snow closed the upper road.", "Hills news."),
                ("hills", "The ferry runs again.", "Bye."),
            ]
        )
    ]
    shard = tmp_path / "pages.jsonl"
    shard.write_bytes(_jsonl(rows))
    found = {}
    for spec in ("none", "field:site"):
        out = tmp_path / spec.replace(":", "_")
        scan([shard], out, ScanConfig(group_by=spec))
        spans = _tables(out, "spans")
        found[spec] = {r["id"] for r in spans.to_pylist() if r["label"] == "boilerplate"}
        groups = _tables(out, "documents").column("group").to_pylist()
    # Two documents, prose: a quote without groups, a site's footer with them.
    assert found["none"] == set()
    assert found["field:site"] == {"p0", "p1"}
    assert groups == ["valley", "valley", "hills", "hills"]


def test_group_by_a_field_of_plain_text_files_says_what_it_needs(
    tmp_path: Path, seeds_dir: Path
) -> None:
    with pytest.raises(ConfigError, match="JSONL or Parquet"):
        scan([seeds_dir], tmp_path / "out", ScanConfig(group_by="field:site"))


@pytest.mark.parametrize("index", [False, True])
def test_documents_read_out_of_id_order_label_as_in_order(
    tmp_path: Path, seeds_dir: Path, index: bool
) -> None:
    """Texts are spilled in reading order, shard by shard, then put in id order."""
    texts = _seed_texts(seeds_dir) * 3
    rows = [{"id": f"{k:02d}-{i}", "text": t} for k, (i, t) in enumerate(texts)]
    shuffled, ordered = tmp_path / "shuffled", tmp_path / "ordered"
    for folder, picked in ((shuffled, rows[::-1]), (ordered, rows)):
        folder.mkdir()
        for n in range(0, len(picked), 4):  # several files, each its own shard
            (folder / f"part-{n:02d}.jsonl").write_bytes(_jsonl(picked[n : n + 4]))
    for folder in (shuffled, ordered):
        scan([folder], tmp_path / f"out_{folder.name}", ScanConfig(), shard_bytes=1, index=index)
    for name in ("spans", "passages", "documents"):
        got = _tables(tmp_path / "out_shuffled", name)
        want = _tables(tmp_path / "out_ordered", name)
        if name == "documents":
            got, want = got.drop_columns(["source", "row"]), want.drop_columns(["source", "row"])
        assert got.num_rows > 0 and got.equals(want), name
    if index:
        texts_of = {
            k: pq.read_table(tmp_path / f"out_{k}" / "index" / "texts.parquet")
            for k in ("shuffled", "ordered")
        }
        assert texts_of["shuffled"].equals(texts_of["ordered"])
        assert texts_of["ordered"].column("text").to_pylist() == [r["text"] for r in rows]
