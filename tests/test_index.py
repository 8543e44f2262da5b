"""The index: `add` equals one scan, `check` agrees with `add` where it must, the log."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup import DuplicateIdError, InputError, OutputError, ScanConfig, scan
from dedup.index import add, open_index, writer_lock
from dedup.synth import Corpus, SynthConfig, generate
from dedup.wal import LogWriter, read_log

TABLES = ["spans", "documents", "passages", "errors"]
INDEX = ["index/texts", "index/contents", "index/holders", "index/docs"]


def _write(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, text in docs.items():
        (folder / doc_id).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def synth() -> Corpus:
    """A small generated corpus: 6 sites of 7 pages and near-copies, no typos or glued lines.

    Variants and glued sentences are left out so that `check` and `add` must agree.
    """
    return generate(
        SynthConfig(
            seed=5,
            sites=6,
            pages_per_site=7,
            near_duplicates=6,
            typo_rate=0.0,
            glued_rate=0.0,
            menu_item_added_rate=0.0,
        )
    )


@pytest.fixture(scope="module")
def corpus(synth: Corpus) -> dict[str, str]:
    return dict(zip(synth.ids, synth.texts, strict=True))


def _split(corpus: dict[str, str], every: int = 5) -> tuple[dict[str, str], dict[str, str]]:
    ids = sorted(corpus)
    later = {i for n, i in enumerate(ids) if n % every == 2}
    first = {i: t for i, t in corpus.items() if i not in later}
    return first, {i: corpus[i] for i in sorted(later)}


@pytest.mark.parametrize("group_by", ["none", "prefix"])
def test_add_gives_the_tables_of_one_scan(
    tmp_path: Path, corpus: dict[str, str], group_by: str
) -> None:
    """Adding B to an index of A writes the same tables, byte for byte, as scanning A and B."""
    first, later = _split(corpus)
    a, b = _write(tmp_path / "a", first), _write(tmp_path / "b", later)
    (b / "broken.txt").write_bytes(b"caf\xe9 au lait\n")  # recorded in errors.parquet
    cfg = ScanConfig(group_by=group_by)
    scan([a, b], tmp_path / "one", cfg)
    scan([a], tmp_path / "grown", cfg)
    summary = add(tmp_path / "grown", [b])
    assert summary.n_documents == len(corpus) + 1
    assert summary.n_replaced == 1
    for name in TABLES + INDEX:
        one = (tmp_path / "one" / f"{name}.parquet").read_bytes()
        grown = (tmp_path / "grown" / f"{name}.parquet").read_bytes()
        assert grown == one, name


def test_adding_in_two_steps_equals_one_scan(tmp_path: Path, corpus: dict[str, str]) -> None:
    first, later = _split(corpus, every=3)
    ids = sorted(later)
    a = _write(tmp_path / "a", first)
    b1 = _write(tmp_path / "b1", {i: later[i] for i in ids[::2]})
    b2 = _write(tmp_path / "b2", {i: later[i] for i in ids[1::2]})
    scan([a, b1, b2], tmp_path / "one", ScanConfig())
    scan([a], tmp_path / "grown", ScanConfig())
    add(tmp_path / "grown", [b1])
    add(tmp_path / "grown", [b2])
    for name in TABLES + INDEX:
        path = f"{name}.parquet"
        assert pq.read_table(tmp_path / "grown" / path).equals(
            pq.read_table(tmp_path / "one" / path), check_metadata=True
        ), name


def test_add_relabels_an_old_document_when_a_line_crosses_min_docs(tmp_path: Path) -> None:
    banner = "Subscribe to the Evening Post for free"
    docs = _write(tmp_path / "a", {"old.txt": f"{banner}\nan article about rivers and lakes\n"})
    _write(tmp_path / "a", {"other.txt": "a different page about mountains\n"})
    scan([docs], tmp_path / "idx", ScanConfig())
    before = pq.read_table(tmp_path / "idx" / "spans.parquet").to_pylist()
    assert {r["label"] for r in before} == {"unique"}
    new = _write(tmp_path / "b", {"new.txt": f"{banner}\nnews about the harbour today\n"})
    add(tmp_path / "idx", [new])
    spans = pq.read_table(tmp_path / "idx" / "spans.parquet").to_pylist()
    old = [r for r in spans if r["id"] == "old.txt" and r["label"] == "boilerplate"]
    assert [(r["start"], r["end"], r["doc_count"]) for r in old] == [(0, len(banner), 2)]


def test_add_refuses_an_indexed_id(tmp_path: Path, seeds_dir: Path, seeds_copy: Path) -> None:
    scan([seeds_dir], tmp_path / "idx", ScanConfig())
    before = (tmp_path / "idx" / "spans.parquet").read_bytes()
    with pytest.raises(DuplicateIdError, match="already in the index"):
        add(tmp_path / "idx", [seeds_copy])
    assert (tmp_path / "idx" / "spans.parquet").read_bytes() == before


def test_add_needs_an_index(tmp_path: Path, seeds_dir: Path) -> None:
    scan([seeds_dir], tmp_path / "plain", ScanConfig(), index=False)
    assert not (tmp_path / "plain" / "index").exists()
    with pytest.raises(InputError, match="not an index"):
        add(tmp_path / "plain", [seeds_dir])


def test_one_writer_at_a_time(tmp_path: Path, seeds_dir: Path) -> None:
    scan([seeds_dir], tmp_path / "idx", ScanConfig())
    with writer_lock(tmp_path / "idx"), pytest.raises(OutputError, match="another dedup process"):
        add(tmp_path / "idx", [seeds_dir])


def _spans_of(folder: Path, doc_id: str) -> list[tuple[object, ...]]:
    rows = pq.read_table(folder / "spans.parquet").to_pylist()
    return [
        (r["start"], r["end"], r["label"], r["passage_id"], r["doc_count"], r["score"])
        for r in rows
        if r["id"] == doc_id
    ]


@pytest.mark.parametrize("group_by", ["none", "prefix"])
def test_check_agrees_with_add(
    tmp_path: Path, synth: Corpus, corpus: dict[str, str], group_by: str
) -> None:
    """New pages of known sites and a near-copy: check gives the spans that add writes.

    Agreement is required where no variant line, glued sentence or new
    multi-block passage is involved (README, "How check relates to add").
    """
    first, later = _split(corpus, every=9)
    original, near = synth.near_duplicates[0]
    later[near] = corpus[near]
    first.pop(near, None)
    first[original] = corpus[original]
    later.pop(original, None)
    a = _write(tmp_path / "a", first)
    cfg = ScanConfig(group_by=group_by)
    scan([a], tmp_path / "idx", cfg)
    view = open_index(tmp_path / "idx")
    found_near = False
    for doc_id, text in sorted(later.items()):
        labels = view.check(text, doc_id)
        got = [(s.start, s.end, s.label, s.passage_id, s.doc_count, s.score) for s in labels.spans]
        grown = tmp_path / f"grown-{doc_id}"
        scan([a], grown, cfg)
        add(grown, [_write(tmp_path / f"new-{doc_id}", {doc_id: text})])
        want = _spans_of(grown, doc_id)
        assert [g[:5] for g in got] == [w[:5] for w in want], doc_id
        for g, w in zip(got, want, strict=True):
            assert g[5] == pytest.approx(w[5]), doc_id
        assert any(s.label == "boilerplate" for s in labels.spans), doc_id
        documents = {r["id"]: r for r in pq.read_table(grown / "documents.parquet").to_pylist()}
        cluster = documents[doc_id]["near_dup_cluster"]
        clustered = {
            i for i, r in documents.items() if cluster and r["near_dup_cluster"] == cluster
        }
        assert {i for i, _ in labels.near_duplicates} == clustered - {doc_id}, doc_id
        found_near |= bool(labels.near_duplicates)
    assert found_near, "the near-copy should find its original"


def test_check_changes_nothing(tmp_path: Path, seeds_dir: Path) -> None:
    scan([seeds_dir], tmp_path / "idx", ScanConfig())
    before = {p: p.read_bytes() for p in (tmp_path / "idx").rglob("*") if p.is_file()}
    view = open_index(tmp_path / "idx")
    text = next(seeds_dir.iterdir()).read_text(encoding="utf-8")
    labels = view.check(text + "\nA line of its own.\n", "new.txt")
    assert labels.spans[0].start == 0 and labels.spans[-1].end == len(text) + 20
    assert {s.label for s in labels.spans} == {"unique", "boilerplate"}
    assert view.check("", "empty.txt").spans == []
    assert [s.label for s in view.check("  \n ", "blank.txt").spans] == ["unique"]
    after = {p: p.read_bytes() for p in (tmp_path / "idx").rglob("*") if p.is_file()}
    assert after == before


def test_log_reads_past_a_torn_end(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    writer = LogWriter(folder, 1)
    writer.append([("a.txt", "first"), ("b.txt", "second\nline — ü")])
    writer.close()
    segment = writer.current
    with open(segment, "ab") as handle:
        handle.write(b'0badc0de {"seq":3,"id":"c.txt","te')  # killed while writing
    records = read_log(folder)
    assert [(r.seq, r.id, r.text) for r in records] == [
        (1, "a.txt", "first"),
        (2, "b.txt", "second\nline — ü"),
    ]
    again = LogWriter(folder, 3)  # trims the torn end, starts a new segment
    again.append([("c.txt", "third")])
    again.close()
    assert [r.id for r in read_log(folder)] == ["a.txt", "b.txt", "c.txt"]


def test_log_corruption_inside_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    writer = LogWriter(folder, 1)
    writer.append([("a.txt", "first"), ("b.txt", "second")])
    writer.close()
    data = bytearray(writer.current.read_bytes())
    data[12] ^= 0x20  # inside the first record
    writer.current.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt log record at byte 0"):
        read_log(folder)


def test_an_index_without_boilerplate_or_blocks_opens(tmp_path: Path) -> None:
    docs = _write(tmp_path / "a", {"a.txt": "one line here\n", "b.txt": "another line there\n"})
    scan([docs], tmp_path / "idx", ScanConfig())
    view = open_index(tmp_path / "idx")
    labels = view.check("one line here\nand more\n", "c.txt")
    assert [s.label for s in labels.spans] == ["boilerplate", "unique"]
    assert labels.spans[0].doc_count == 2
    assert view.passage(123) is None and view.row("a.txt") == 0 and view.row("z.txt") is None
    empty = _write(tmp_path / "e", {"e.txt": "", "f.txt": "  \n"})
    scan([empty], tmp_path / "empty", ScanConfig())
    assert [s.label for s in open_index(tmp_path / "empty").check("x y z\n").spans] == ["unique"]
