"""Texts spilled to one UTF-8 file, and the scan reading them back only where needed."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import BlockWatch
from dedup import arrow, runner, spilled_texts
from dedup.config import ScanConfig
from dedup.core import pipeline
from dedup.core.cleaning import text_hash
from dedup.core.offsets import utf8_spans
from dedup.core.pipeline import analyze, substrings
from dedup.errors import OutputError
from dedup.runner import scan
from dedup.shards import TEXTS_FILE, work_folder
from dedup.spilled_texts import SpilledTexts, TextsWriter
from dedup.synth import SynthConfig, generate

TEXTS = ["", "plain ascii", "é€ 😀 wide", "a\nb\n", "x" * 1000, "ü" * 333, "", "end"]


@pytest.fixture
def spilled(tmp_path: Path) -> Iterator[SpilledTexts]:
    with SpilledTexts.write(TEXTS, tmp_path / "texts.utf8") as texts:
        yield texts


def test_reads_back_every_text(spilled: SpilledTexts) -> None:
    assert len(spilled) == len(TEXTS)
    assert list(spilled) == TEXTS
    assert [spilled[i] for i in range(len(TEXTS))] == TEXTS
    assert spilled[-1] == "end" and spilled[-len(TEXTS)] == ""
    assert spilled[1:4] == TEXTS[1:4] and spilled[::-2] == TEXTS[::-2]
    assert spilled.lengths.tolist() == [len(t) for t in TEXTS]
    assert spilled.ascii().tolist() == [t.isascii() for t in TEXTS]
    assert spilled.utf8(2) == TEXTS[2].encode()
    for bad in (len(TEXTS), -len(TEXTS) - 1):
        with pytest.raises(IndexError):
            spilled[bad]


def test_texts_added_in_batches_read_back_as_written_at_once(tmp_path: Path) -> None:
    with TextsWriter(tmp_path / "batches") as writer:
        writer.add(TEXTS[:3])
        writer.add([])
        writer.add(iter(TEXTS[3:]))
        batches = writer.finish()
        with pytest.raises(ValueError, match="finished"):
            writer.add(["late"])
    with batches, SpilledTexts.write(TEXTS, tmp_path / "whole") as whole:
        assert list(batches) == TEXTS
        assert batches.path.read_bytes() == whole.path.read_bytes()
        for name in ("byte_offsets", "lengths", "newlines"):
            assert np.array_equal(getattr(batches, name), getattr(whole, name))
    assert not list(tmp_path.glob("*.tmp"))


def test_a_writer_left_unfinished_removes_its_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), TextsWriter(tmp_path / "t") as writer:
        writer.add(["some text"])
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reordered_texts_are_the_texts_in_that_order(
    spilled: SpilledTexts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Small reads, so that runs of texts are cut into several.
    monkeypatch.setattr(spilled_texts, "_READ_BYTES", 700)
    texts = [*TEXTS, "\ud800 lone", *TEXTS]
    order = np.random.default_rng(seed).permutation(len(texts)).tolist()
    if seed == 2:
        order = list(range(len(texts)))  # one run, already in order
    with SpilledTexts.write(texts, tmp_path / "read") as read:
        with read.reordered(order, tmp_path / "ordered") as ordered:
            assert list(ordered) == [texts[i] for i in order]
            assert ordered.surrogates
            with SpilledTexts.write([texts[i] for i in order], tmp_path / "want") as want:
                assert ordered.path.read_bytes() == want.path.read_bytes()
                for name in ("byte_offsets", "lengths", "newlines"):
                    assert np.array_equal(getattr(ordered, name), getattr(want, name))
        for bad in (order[:-1], [0] * len(order)):
            with pytest.raises(ValueError, match="each of the"):
                read.reordered(bad, tmp_path / "bad")


def test_a_lone_surrogate_reads_back_but_makes_no_arrow_array(tmp_path: Path) -> None:
    texts = ["ok", "half \ud800 a pair"]
    with SpilledTexts.write(texts, tmp_path / "t") as spilled:
        assert list(spilled) == texts
        assert spilled.text_hashes().tolist() == [text_hash(t) for t in texts]
        with pytest.raises(ValueError, match="lone surrogate"):
            next(spilled.read_chunks([(0, 2)]))


def test_hashes_are_text_hash_as_written_and_reordered(tmp_path: Path) -> None:
    expected = [text_hash(t) for t in TEXTS]
    with SpilledTexts.write(TEXTS, tmp_path / "t") as spilled:
        assert spilled.hashes is not None
        assert spilled.text_hashes().tolist() == expected
        order = list(range(len(TEXTS)))[::-1]
        with spilled.reordered(order, tmp_path / "r") as reordered:
            assert reordered.text_hashes().tolist() == [expected[i] for i in order]


def test_hashes_are_text_hash_across_reads(
    spilled: SpilledTexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = [text_hash(t) for t in TEXTS]
    # Opened without the hashes taken as written: they are read from the file.
    read = SpilledTexts(spilled.path, spilled.byte_offsets, spilled.lengths, spilled.newlines)
    with read:
        for size in (1, 7, 1200, 1 << 20):  # texts larger than a read, and all in one
            monkeypatch.setattr(spilled_texts, "_READ_BYTES", size)
            assert read.text_hashes().tolist() == expected
    with pytest.raises(ValueError, match="text hashes for"):
        SpilledTexts(
            spilled.path,
            spilled.byte_offsets,
            spilled.lengths,
            spilled.newlines,
            hashes=np.zeros(1, np.int64),
        )


def test_short_reads_are_read_on(spilled: SpilledTexts, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, at: real(fd, min(n, 3), at))
    assert list(spilled) == TEXTS


def test_a_changed_file_and_a_closed_store_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "t"
    texts = SpilledTexts.write(["one", "two"], path)
    path.write_bytes(b"one")
    with pytest.raises(OutputError, match="end before byte 6: the file was changed"):
        texts[1]
    texts.close()
    texts.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        texts[0]


def test_texts_at_read_in_another_process_what_utf8_range_reads(spilled: SpilledTexts) -> None:
    import pickle

    for lo, hi in [(0, len(TEXTS)), (2, 5), (3, 3), (len(TEXTS), len(TEXTS))]:
        # Pickled, as a Ray task is handed it: the file's name and offsets only.
        at = pickle.loads(pickle.dumps(spilled.at(lo, hi)))
        assert len(at) == hi - lo
        utf8, offsets = at.read()
        want_utf8, want_offsets = spilled.utf8_range(lo, hi)
        assert utf8.tobytes() == want_utf8.tobytes()
        assert offsets.tolist() == want_offsets.tolist()
    with pytest.raises(IndexError):
        spilled.at(3, len(TEXTS) + 1)


def test_texts_at_a_gone_or_changed_file_say_which_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "t"
    with SpilledTexts.write(["one", "two"], path) as texts:
        at = texts.at(0, 2)
    path.write_bytes(b"one")
    with pytest.raises(OutputError, match="end before byte 6: the file was changed"):
        at.read()
    path.unlink()
    with pytest.raises(OutputError, match=f"{path}: .*cannot be read.*run the scan again"):
        at.read()


def test_the_with_block_removes_the_file_when_it_raises(tmp_path: Path) -> None:
    with SpilledTexts.write(["kept"], tmp_path / "kept") as kept:
        assert kept[0] == "kept"
    assert (tmp_path / "kept").exists() and kept._fd is None
    with pytest.raises(RuntimeError), SpilledTexts.write(["x"], tmp_path / "gone") as gone:
        raise RuntimeError("stopped")
    assert not (tmp_path / "gone").exists() and gone._fd is None
    # Written aside and renamed over: the old texts are still read from the old file.
    old = SpilledTexts.write(["old text"], tmp_path / "same")
    chunks = old.read_chunks([(0, 1)])  # read when iterated
    with SpilledTexts.write(["new"], tmp_path / "same") as new:
        assert new[0] == "new" and next(chunks).to_pylist() == ["old text"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "same"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def texts() -> Iterator[str]:
        yield "first"
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        SpilledTexts.write(texts(), tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("large", [True, False])
def test_arrays_read_back_equal_encoded_arrays_chunk_for_chunk(
    spilled: SpilledTexts, monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    monkeypatch.setattr(arrow, "_TEXT_CHUNK", 400)  # several chunks, one text over the limit
    viewed = arrow.utf8_array(spilled, large=large)
    encoded = arrow.utf8_array(TEXTS, large=large)
    assert viewed.num_chunks == encoded.num_chunks > 2
    assert [len(c) for c in viewed.chunks] == [len(c) for c in encoded.chunks]
    assert viewed.equals(encoded)
    viewed.validate(full=True)
    assert arrow.text_chunks([]) == [(0, 0)]
    with SpilledTexts.write([], spilled.path.with_name("none")) as empty:
        assert arrow.utf8_array(empty).equals(arrow.utf8_array([]))


class CountingTexts(Sequence[str]):
    """A list of texts that counts how often each is read."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.reads = [0] * len(texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: Any) -> Any:
        self.reads[index] += 1
        return self.texts[index]


def test_byte_offsets_of_ascii_texts_are_not_read() -> None:
    texts = CountingTexts(["abc", "é€x", "defg"])
    doc = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    start = np.array([0, 1, 0, 1, 1], dtype=np.int64)
    end = np.array([1, 3, 1, 3, 4], dtype=np.int64)
    ascii = np.array([True, False, True])
    assert [a.tolist() for a in utf8_spans(texts, doc, start, end, ascii)] == [
        [a.tolist() for a in utf8_spans(texts.texts, doc, start, end)]
    ][0]
    assert texts.reads == [0, 1, 0]
    empty = np.empty(0, dtype=np.int64)
    assert [len(a) for a in utf8_spans(texts, empty, empty, empty, ascii)] == [0, 0]


def test_substrings_read_each_text_once() -> None:
    texts = CountingTexts(["hello world", "é€ 😀 x", "third"])
    docs = np.array([1, 0, 1, 2, 0], dtype=np.int64)
    starts = np.array([0, 6, 2, 0, 0], dtype=np.int64)
    ends = np.array([2, 11, 5, 5, 5], dtype=np.int64)
    got = substrings(texts, docs, starts, ends)
    assert got == [texts.texts[d][s:e] for d, s, e in zip(docs, starts, ends, strict=True)]
    assert texts.reads == [1, 1, 1]
    assert substrings(texts, docs[:0], starts[:0], ends[:0]) == []


def test_spilled_substrings_are_python_slices(spilled: SpilledTexts) -> None:
    rng = np.random.default_rng(8)
    n = 400
    docs = rng.integers(0, len(TEXTS), n).astype(np.int64)
    starts = rng.integers(0, 1100, n).astype(np.int64)
    ends = starts + rng.integers(-5, 300, n).astype(np.int64)
    ends = np.maximum(ends, 0)  # past the text's end and before its start: as slices do
    expected = [TEXTS[d][s:e] for d, s, e in zip(docs, starts, ends, strict=True)]
    assert spilled.substrings(docs, starts, ends) == expected
    assert substrings(spilled, docs, starts, ends) == expected  # the core asks the texts
    assert substrings(TEXTS, docs, starts, ends) == expected
    assert spilled.substrings(docs[:0], starts[:0], ends[:0]) == []
    one = np.array([1], dtype=np.int64)
    with pytest.raises(IndexError):
        spilled.substrings(one * len(TEXTS), one, one)
    with pytest.raises(ValueError, match="negative"):
        spilled.substrings(one, -one, one)
    spilled.close()
    with pytest.raises(ValueError, match="closed"):
        spilled.substrings(one, one * 0, one)


def test_spans_split_at_gaps_and_at_the_read_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spilled_texts, "_GAP_BYTES", 10)
    monkeypatch.setattr(spilled_texts, "_READ_BYTES", 100)

    def spans(pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
        begin = np.array([a for a, _ in pieces], dtype=np.int64)
        finish = np.array([b for _, b in pieces], dtype=np.int64)
        return list(spilled_texts._spans(begin, finish))

    assert spans([]) == []
    # Overlapping and nested pieces, then a gap of 10 bytes (kept) and of 11 (cut).
    assert spans([(0, 30), (5, 8), (20, 40), (50, 60), (71, 80)]) == [(0, 4), (4, 5)]
    # The read would pass 100 bytes: a new one starts; a longer piece is read alone.
    assert spans([(0, 60), (60, 101), (101, 350), (350, 351)]) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_spilled_substrings_read_in_bounded_spans(
    spilled: SpilledTexts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spilled_texts, "_GAP_BYTES", 16)
    monkeypatch.setattr(spilled_texts, "_READ_BYTES", 64)
    reads: list[int] = []
    read = SpilledTexts._read

    def counted(self: SpilledTexts, offset: int, size: int) -> bytes:
        reads.append(size)
        return read(self, offset, size)

    monkeypatch.setattr(SpilledTexts, "_read", counted)
    rng = np.random.default_rng(9)
    docs = rng.choice([1, 3, 4, 7], 300).astype(np.int64)  # the ASCII texts
    starts = rng.integers(0, 1000, 300).astype(np.int64)
    ends = starts + rng.integers(0, 90, 300).astype(np.int64)
    expected = [TEXTS[d][s:e] for d, s, e in zip(docs, starts, ends, strict=True)]
    assert spilled.substrings(docs, starts, ends) == expected
    longest = int((np.minimum(ends, 1000) - np.minimum(starts, 1000)).max())
    assert reads and max(reads) <= max(64, longest)
    assert len(reads) > 1


def test_substrings_of_empty_texts_in_an_empty_file(tmp_path: Path) -> None:
    with SpilledTexts.write(["", ""], tmp_path / "t") as empty:
        zero = np.zeros(3, dtype=np.int64)
        assert empty.substrings(zero, zero, zero + 4) == ["", "", ""]


def test_analysis_reads_only_the_texts_of_cut_blocks() -> None:
    corpus = generate(SynthConfig(seed=5, sites=3, pages_per_site=20))
    cfg = ScanConfig()
    order = pipeline.id_order(corpus.ids)
    ids = [corpus.ids[i] for i in order]
    plain = [corpus.texts[i] for i in order]
    texts = CountingTexts(plain)
    lengths = np.array([len(t) for t in plain], dtype=np.int64)
    blocks = pipeline.hash_blocks(plain, cfg)
    result = analyze(ids, texts, cfg, blocks=blocks, doc_len=lengths)
    assert result.texts is texts  # in id order already: kept, not copied
    assert max(texts.reads) <= 1 and 0 < sum(texts.reads) < len(ids) / 2
    expected = analyze(ids, plain, cfg)
    assert np.array_equal(result.spans.start, expected.spans.start)
    assert np.array_equal(result.spans.run, expected.spans.run)
    assert np.array_equal(result.doc_len, expected.doc_len)
    with pytest.raises(ValueError, match="3 text lengths"):
        analyze(ids, plain, cfg, doc_len=lengths[:3])
    n = len(ids)
    with pytest.raises(ValueError, match=f"{n} texts and {n + 1} text lengths for {n} ids"):
        analyze(ids, plain, cfg, doc_len=np.r_[lengths, 1])
    with pytest.raises(ValueError, match=f"{n - 1} texts for {n} ids"):
        analyze(ids, plain[1:], cfg)
    # Ids out of order: texts, blocks and lengths are taken in id order.
    turned = np.arange(len(ids))[::-1]
    shuffled = analyze(
        [ids[i] for i in turned],
        [plain[i] for i in turned],
        cfg,
        blocks=pipeline.hash_blocks([plain[i] for i in turned], cfg),
        doc_len=lengths[turned],
    )
    assert shuffled.ids == ids
    assert np.array_equal(shuffled.doc_len, expected.doc_len)
    assert np.array_equal(shuffled.spans.run, expected.spans.run)


def _site(folder: Path, n: int) -> Path:
    folder.mkdir()
    corpus = generate(SynthConfig(seed=11, sites=2, pages_per_site=n))
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        (folder / f"{doc_id.replace('/', '_')}.txt").write_text(text, encoding="utf-8")
    return folder


def test_a_scan_analyses_the_spilled_texts_and_removes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _site(tmp_path / "docs", 15)
    given: list[object] = []
    real = runner.analyze

    def spy(ids: list[str], texts: Sequence[str], *args: Any) -> Any:
        given.append(texts)
        return real(ids, texts, *args)

    monkeypatch.setattr(runner, "analyze", spy)
    out = tmp_path / "out"
    scan([docs], out, ScanConfig(), workers=1)
    assert len(given) == 1 and isinstance(given[0], SpilledTexts)
    assert not work_folder(out).exists()
    table = pq.read_table(out / "documents.parquet")
    by_id = {p.name: p.read_text(encoding="utf-8") for p in docs.iterdir()}
    rows = zip(table["id"].to_pylist(), table["text_hash"].to_pylist(), strict=True)
    for doc_id, hashed in rows:
        assert hashed == text_hash(by_id[Path(doc_id).name])


def _scanned(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A folder of documents, its scan's output folder, and the bytes of its tables."""
    docs = _site(tmp_path / "docs", 5)
    out = tmp_path / "out"
    scan([docs], out, ScanConfig(), workers=1)
    return docs, out, {p.name: p.read_bytes() for p in out.glob("*.parquet")}


def test_a_failed_analysis_removes_the_spilled_texts_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs, out, before = _scanned(tmp_path)
    given: list[SpilledTexts] = []

    def stop(ids: list[str], texts: SpilledTexts, *args: Any) -> None:
        assert texts.path.exists()
        given.append(texts)
        raise MemoryError("no memory left")

    monkeypatch.setattr(runner, "analyze", stop)
    with pytest.raises(MemoryError):
        scan([docs], out, ScanConfig(), force=True, workers=1)
    assert given[0]._fd is None and not given[0].path.exists()
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before


def test_the_work_folder_inside_the_inputs_is_not_read(tmp_path: Path) -> None:
    docs = _site(tmp_path / "docs", 5)
    out = docs / "out"
    # What an interrupted scan leaves: shards and the spilled texts.
    work_folder(out).mkdir()
    (work_folder(out) / TEXTS_FILE).write_text("left by a killed scan", encoding="utf-8")
    scan([docs], out, ScanConfig(), workers=1)
    ids = pq.read_table(out / "documents.parquet")["id"].to_pylist()
    assert sorted(ids) == sorted(p.name for p in docs.glob("*.txt"))
    assert not pq.read_table(out / "errors.parquet").num_rows


def test_scan_tables_are_those_of_the_analysis_of_the_texts_in_memory(tmp_path: Path) -> None:
    """Wide and astral characters, empty documents, glued passages in non-ASCII text."""
    corpus = generate(SynthConfig(seed=12, sites=3, pages_per_site=12))
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {}
    for n, text in enumerate(corpus.texts):
        if n % 3 == 0:
            text = text.replace("e", "é", 40)
        if n % 5 == 0:
            text = text.replace(" ", " 😀 ", 9)
        texts[f"doc{n:03d}.txt"] = text
    texts["empty.txt"] = ""
    texts["blank.txt"] = "\n\n"
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    cfg = ScanConfig()
    scan([folder], tmp_path / "out", cfg, workers=1, index=False)
    ids = sorted(texts)
    result = analyze(ids, [texts[i] for i in ids], cfg)
    assert sum(not t.isascii() for t in texts.values()) > 10
    # Glued passages were cut out of non-ASCII documents.
    cut = set(result.blocks.doc[result.blocks.content < 0].tolist())
    assert [d for d in cut if not texts[ids[d]].isascii()]
    expected = arrow.to_tables(result, cfg)
    for name in ("spans", "documents", "passages"):
        written = pq.read_table(tmp_path / "out" / f"{name}.parquet")
        columns = [c for c in written.column_names if c not in ("source", "row")]
        assert written.select(columns).equals(expected[name].select(columns)), name


@pytest.mark.parametrize("step", ["add", "reordered"])
def test_a_full_disk_while_spilling_names_the_output_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    docs, out, before = _scanned(tmp_path)

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if step == "add":  # while a shard's texts are written, as it is read
        monkeypatch.setattr(TextsWriter, "add", full)
    else:  # while they are put in id order, once all are read
        monkeypatch.setattr(SpilledTexts, "reordered", full)
        monkeypatch.setattr(runner, "id_order", lambda ids: list(range(len(ids)))[::-1])
    with pytest.raises(OutputError, match="No space left on device") as caught:
        scan([docs], out, ScanConfig(), force=True, workers=1)
    assert str(out) in str(caught.value) and "free space" in str(caught.value)
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    # No texts file is left behind in the work folder, finished or not.
    assert not list(work_folder(out).glob("texts*"))


@pytest.mark.parametrize("index", [False, True])
def test_the_runner_lets_block_arrays_go_once_read(
    tmp_path: Path, watch_block_release: BlockWatch, index: bool
) -> None:
    """The runner hashes; the analysis is then the only holder of the blocks."""
    docs = _site(tmp_path / "docs", 10)
    fields = ("first_char", "last_char", "words", "word_offsets", "hashes", "offsets")
    alive = watch_block_release(runner, "hash_blocks", fields)
    scan([docs], tmp_path / "out", ScanConfig(), workers=1, index=index)
    # The index keeps a copy of the rows it reads (`ClusteredBlocks`).
    assert alive == [{"words", "word_offsets"}, set()]


def test_texts_table_of_the_index_is_the_spilled_file(tmp_path: Path) -> None:
    docs = _site(tmp_path / "docs", 6)
    out = tmp_path / "out"
    scan([docs], out, ScanConfig(), workers=1)
    texts = pq.read_table(out / "index" / "texts.parquet")
    assert texts.schema.field("text").type == pa.large_string()
    by_id = {p.name: p.read_text(encoding="utf-8") for p in docs.iterdir()}
    for doc_id, text in zip(texts["id"].to_pylist(), texts["text"].to_pylist(), strict=True):
        assert text == by_id[Path(doc_id).name]
