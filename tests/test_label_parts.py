"""The labelling in ranges of documents gives `label`'s result, array for array."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedup.config import ScanConfig
from dedup.core.blockhash import hash_blocks
from dedup.core.hashed_ranges import TextRange, analyze_in_ranges, line_ranges, text_range
from dedup.core.key_tables import (
    dense_pair_counts,
    distinct_dense_pairs,
    distinct_pairs,
    pair_counts,
    table_rows,
)
from dedup.core.label_parts import (
    Part,
    PartsInMemory,
    RangeRows,
    RangeTexts,
    Step,
    SteppedParts,
    joined_rows,
    label_parts,
    parts_of,
)
from dedup.core.labels import count_distinct
from dedup.core.pipeline import (
    Analysis,
    analyze,
    block_clusters,
    boilerplate_chars,
    content_clusters,
    id_order,
    label,
    n_blocks,
    n_spans,
    passage_texts,
    span_rows,
)
from dedup.core.text import Utf8Texts
from dedup.errors import DuplicateIdError
from dedup.spilled_texts import SpilledTexts
from dedup.synth import SynthConfig, generate

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _corpus(seed: int) -> tuple[list[str], list[str]]:
    corpus = generate(SynthConfig(seed=seed, sites=4, pages_per_site=7, near_duplicates=6))
    order = id_order(corpus.ids)
    return [corpus.ids[i] for i in order], [corpus.texts[i] for i in order]


def _seeds() -> tuple[list[str], list[str]]:
    files = sorted(SEEDS.glob("*.txt"))
    return [f.name for f in files], [f.read_text(encoding="utf-8") for f in files]


def _both(
    ids: list[str], texts: list[str], cfg: ScanConfig, bounds: list[int], values=None
) -> tuple[Analysis, Analysis]:
    blocks = hash_blocks(texts, cfg)
    keys, first, content = np.unique(blocks.key, return_index=True, return_inverse=True)
    clusters, scores = content_clusters(blocks.hashes, blocks.offsets, first, keys, cfg)
    whole = label(
        ids, texts, blocks, content, clusters, scores, cfg, values, keys, keep_document_sets=True
    )
    parts = PartsInMemory(parts_of(blocks, content, bounds))
    split = label_parts(
        ids, texts, parts, clusters, scores, cfg, values, keys, keep_document_sets=True
    )
    _assert_rows_same(whole, split)
    return whole, joined_rows(split)


def _assert_rows_same(whole: Analysis, split: Analysis) -> None:
    """What the tables read of the rows left in the ranges is what they read of `label`'s."""
    assert split.rows is not None and whole.rows is None
    assert n_blocks(split) == n_blocks(whole) and n_spans(split) == n_spans(whole)
    n = n_spans(whole)
    rng = np.random.default_rng(n)
    cuts = sorted({0, n, *rng.integers(0, n + 1, size=4).tolist()})
    for lo, hi in itertools.pairwise(cuts):
        _assert_same(span_rows(whole, lo, hi), span_rows(split, lo, hi), f"spans {lo}:{hi}")
        # The documents a Ray task writing these spans is handed the texts of.
        doc = span_rows(whole, lo, hi).doc
        held = (int(doc[0]), int(doc[-1]) + 1) if len(doc) else (0, 0)
        assert isinstance(split.rows, RangeRows) and split.rows.span_documents(lo, hi) == held
    _assert_same(_joined(whole), _joined(split), "block clusters")
    _assert_same(boilerplate_chars(whole), boilerplate_chars(split), "boilerplate chars")
    rows = np.arange(len(whole.passages.passage))
    assert passage_texts(whole, rows)[3] == passage_texts(split, rows)[3]
    _assert_same(passage_texts(whole, rows)[:3], passage_texts(split, rows)[:3], "passages")


def _joined(result: Analysis) -> tuple[np.ndarray, np.ndarray]:
    pieces = list(block_clusters(result))
    docs = [np.empty(0, np.int64)] + [doc for doc, _ in pieces]
    clusters = [np.empty(0, np.int64)] + [cluster for _, cluster in pieces]
    return np.concatenate(docs), np.concatenate(clusters)


def _assert_same(a: object, b: object, where: str = "analysis") -> None:
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            _assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype, f"{where}: {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _bounds(n: int, rng: np.random.Generator, cuts: int) -> list[int]:
    inner = sorted(rng.integers(0, n + 1, size=cuts).tolist())  # repeats: empty ranges
    return [0, *inner, n]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranges_of_a_generated_corpus_label_as_the_whole(seed: int) -> None:
    ids, texts = _corpus(seed)
    cfg = ScanConfig()
    rng = np.random.default_rng(seed)
    for bounds in (
        [0, len(ids)],
        list(range(len(ids) + 1)),  # one document each
        _bounds(len(ids), rng, 3),
        [0, 0, len(ids) // 2, len(ids), len(ids)],
    ):
        whole, split = _both(ids, texts, cfg, bounds)
        assert len(whole.passages.passage) > 0 and np.any(whole.runs.block_run >= 0)
        assert np.any(whole.blocks.content < 0)  # glued passages were cut out
        _assert_same(whole, split, f"bounds {bounds}")


def test_ranges_with_user_groups_label_as_the_whole() -> None:
    ids, texts = _corpus(4)
    cfg = ScanConfig(group_by="prefix")
    whole, split = _both(ids, texts, cfg, _bounds(len(ids), np.random.default_rng(4), 4))
    assert whole.groups is not None and len(set(whole.groups)) > 1
    _assert_same(whole, split)


def test_ranges_of_paragraph_blocks_label_as_the_whole() -> None:
    ids, texts = _corpus(5)
    cfg = ScanConfig(block_mode="paragraph")
    whole, split = _both(ids, texts, cfg, _bounds(len(ids), np.random.default_rng(5), 5))
    _assert_same(whole, split)


def test_the_seeds_in_ranges_label_as_the_whole() -> None:
    ids, texts = _seeds()
    for bounds in ([0, 2, 5], [0, 1, 2, 3, 4, 5]):
        whole, split = _both(ids, texts, ScanConfig(), bounds)
        assert np.any(whole.spans.run >= 0)
        _assert_same(whole, split)


def test_empty_corpus_and_documents_without_blocks() -> None:
    ids, texts = ["a", "b", "c"], ["", "   \n", ""]
    whole, split = _both(ids, texts, ScanConfig(), [0, 1, 3])
    _assert_same(whole, split)


def test_pair_counts_merge_ranges_as_count_distinct() -> None:
    rng = np.random.default_rng(0)
    key = rng.integers(0, 50, 2000).astype(np.int64)
    member = rng.integers(0, 30, 2000).astype(np.int64)
    count, support = count_distinct(key, member)
    cuts = [0, 300, 300, 1200, 2000]
    table = pair_counts(
        [distinct_pairs(key[a:b], member[a:b]) for a, b in itertools.pairwise(cuts)]
    )
    got_count, got_support = table.look_up(key)
    np.testing.assert_array_equal(got_count, count)
    np.testing.assert_array_equal(got_support, support)
    assert table.counts_of(np.array([99], np.int64)).tolist() == [0]


def test_dense_pair_counts_count_shared_members_once() -> None:
    rng = np.random.default_rng(1)
    key = rng.integers(0, 40, 3000).astype(np.int64)
    cuts = [0, 1000, 1000, 2500, 3000]
    ranges = list(itertools.pairwise(cuts))
    # Members of each range's own, and a few (20-24) that occur anywhere.
    own = rng.integers(0, 5, 3000) + 5 * np.searchsorted(cuts[1:], np.arange(3000), "right")
    member = np.where(rng.random(3000) < 0.1, rng.integers(20, 25, 3000), own).astype(np.int64)
    count, support = count_distinct(key, member)
    shared = np.zeros(25, dtype=bool)
    for m in range(25):
        holders = {i for i, (a, b) in enumerate(ranges) if np.any(member[a:b] == m)}
        shared[m] = len(holders) > 1
    assert shared.any() and not shared.all()
    parts = [distinct_dense_pairs(key[a:b], member[a:b], 25) for a, b in ranges]
    got_count, got_support = dense_pair_counts(parts, 40, shared)
    np.testing.assert_array_equal(got_count[key], count)
    np.testing.assert_array_equal(got_support[key], support)
    # Told that no member is shared, members in two ranges count twice.
    assert np.any(dense_pair_counts(parts, 40, np.zeros(25, bool))[0][key] > count)


def test_a_part_drops_and_adds_columns() -> None:
    part = Part(0, 1, {"a": np.zeros(1), "b": np.ones(1)})
    changed = part.with_columns(("a",), c=np.arange(1))
    assert sorted(changed.columns) == ["b", "c"] and sorted(part.columns) == ["a", "b"]


def test_distinct_pairs_of_negative_members_and_rows_of_missing_keys() -> None:
    key = np.array([3, 1, 3, 1, 3], np.int64)
    member = np.array([-5, 2, -5, 2, 7], np.int64)
    got = distinct_pairs(key, member)
    assert list(zip(*(a.tolist() for a in got), strict=True)) == [(1, 2), (3, -5), (3, 7)]
    rows = table_rows(np.array([2, 4, 9], np.int64), np.array([9, 1, 4, 10], np.int64))
    assert rows.tolist() == [2, -1, 1, -1]


def test_no_range_at_all_labels_no_document() -> None:
    whole, split = _both([], [], ScanConfig(), [0])
    _assert_same(whole, split)


def test_dense_pairs_too_large_to_pack_are_made_distinct_all_the_same() -> None:
    key = np.array([1 << 40, 5, 1 << 40, 5], np.int64)
    member = np.array([3, 4, 3, 2], np.int64)
    got = distinct_dense_pairs(key, member, 1 << 30)
    assert [a.tolist() for a in got] == [[5, 5, 1 << 40], [2, 4, 3]]


def test_ranges_label_as_the_whole_one_at_a_time_where_kernels_cannot_share_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dedup.core import threads

    monkeypatch.setattr(threads, "kernels_thread_safe", lambda: False)
    ids, texts = _corpus(6)
    whole, split = _both(ids, texts, ScanConfig(), _bounds(len(ids), np.random.default_rng(6), 4))
    _assert_same(whole, split)


class _SteppedAway:
    """A `SteppedParts` store as the Ray engine's: each range kept pickled, and
    stepped on a read-only copy by a pickled copy of the step."""

    def __init__(self) -> None:
        self._kept: list[bytes] = []
        self.carried: list[set[str]] = []  # the columns of each range at each step

    def __len__(self) -> int:
        return len(self._kept)

    def load(self, index: int) -> Part:
        part = pickle.loads(self._kept[index])
        for column in part.columns.values():
            column.flags.writeable = False  # as Ray hands out arrays of its object store
        return part

    def save(self, index: int, part: Part) -> None:
        kept = pickle.dumps(part)
        if index == len(self._kept):
            self._kept.append(kept)
        else:
            self._kept[index] = kept

    def each(self, step: Step[Any]) -> list[Any]:
        sent = pickle.loads(pickle.dumps(_given_held(step)))
        outs = []
        for index in range(len(self)):
            part = self.load(index)
            self.carried.append(set(part.columns))
            stepped, out = sent(part)
            if stepped is not None:
                self.save(index, stepped)
            outs.append(out)
        return outs

    def each_held(self, step: Step[Any]) -> list[Any]:
        return [_Held(pickle.dumps(out)) for out in self.each(step)]

    def apply(self, fn: Callable[..., Any], *args: Any) -> Any:
        given = [a.value() if isinstance(a, _Held) else a for a in args]
        return _Held(pickle.dumps(fn(*pickle.loads(pickle.dumps(given)))))


@dataclass(frozen=True)
class _Held:
    """A handle of `_SteppedAway`: what it holds is out of reach but for its steps and `apply`."""

    pickled: bytes

    def value(self) -> Any:
        return pickle.loads(self.pickled)


def _given_held(step: Step[Any]) -> Step[Any]:
    if not isinstance(step, partial):
        return step
    args = [a.value() if isinstance(a, _Held) else a for a in step.args]
    return partial(step.func, *args, **step.keywords)


def _with_texts(part: Part, texts: list[str]) -> Part:
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts[part.lo : part.hi]]
    at = np.cumsum([0] + [len(e) for e in encoded], dtype=np.int64)
    utf8 = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return part.with_columns(text_utf8=utf8, text_at=at)


@pytest.mark.parametrize("corpus_seed", [7, 8])
def test_ranges_stepped_away_with_their_own_texts_label_as_the_whole(corpus_seed: int) -> None:
    """The steps reach no array of this process: they cut glued passages
    from the texts each range carries, and write no array they are given."""
    ids, texts = _corpus(corpus_seed)
    cfg = ScanConfig()
    blocks = hash_blocks(texts, cfg)
    keys, first, content = np.unique(blocks.key, return_index=True, return_inverse=True)
    clusters, scores = content_clusters(blocks.hashes, blocks.offsets, first, keys, cfg)
    whole = label(ids, texts, blocks, content, clusters, scores, cfg, None, keys)
    assert np.any(whole.blocks.content < 0)  # glued passages were cut out
    parts = _SteppedAway()
    bounds = _bounds(len(ids), np.random.default_rng(corpus_seed), 3)
    for i, part in enumerate(parts_of(blocks, content, bounds)):
        parts.save(i, _with_texts(part, texts))
    assert isinstance(parts, SteppedParts) and not isinstance(PartsInMemory(), SteppedParts)
    split = label_parts(ids, texts, parts, clusters, scores, cfg, None, keys)
    _assert_rows_same(whole, split)
    _assert_same(whole, joined_rows(split))
    # Carried until the cuts, the one pass that reads them, and not after.
    assert "text_utf8" in parts.carried[0] and "text_utf8" not in parts.carried[-1]


def test_range_texts_are_the_documents_of_the_range() -> None:
    texts = ["héllo", "", "a\ud800b", "wörld"]
    part = _with_texts(Part(1, 4, {}), texts)
    seen = RangeTexts.of(part)
    assert len(seen) == 4 and [seen[d] for d in (1, 2, 3)] == texts[1:]
    with pytest.raises(IndexError):
        seen[0]


def _analyzed_in_ranges(
    ids: list[str], texts: list[str], cfg: ScanConfig, range_lines: int, values=None
) -> tuple[Analysis, Analysis]:
    whole = analyze(ids, texts, cfg, group_values=values, keep_document_sets=True)
    split = analyze_in_ranges(
        ids,
        texts,
        cfg,
        group_values=values,
        keep_document_sets=True,
        parts=PartsInMemory(),
        range_lines=range_lines,
    )
    _assert_rows_same(whole, split)
    return whole, joined_rows(split)


@pytest.mark.parametrize("range_lines", [1, 37, 400, 1 << 30])
def test_hashing_and_labelling_in_ranges_analyze_as_the_whole(range_lines: int) -> None:
    ids, texts = _corpus(7)
    whole, split = _analyzed_in_ranges(ids, texts, ScanConfig(), range_lines)
    assert whole.clustered is not None and len(whole.passages.passage) > 0
    _assert_same(whole, split)


def test_hashing_in_ranges_with_groups_paragraphs_and_the_seeds() -> None:
    ids, texts = _corpus(8)
    values = [f"site {i % 3}" if i % 5 else None for i in range(len(ids))]
    _assert_same(*_analyzed_in_ranges(ids, texts, ScanConfig(group_by="field:site"), 60, values))
    _assert_same(*_analyzed_in_ranges(ids, texts, ScanConfig(block_mode="paragraph"), 90))
    seed_ids, seed_texts = _seeds()
    _assert_same(*_analyzed_in_ranges(seed_ids, seed_texts, ScanConfig(), 20))
    _assert_same(*_analyzed_in_ranges([], [], ScanConfig(), 20))
    _assert_same(*_analyzed_in_ranges(["a", "b"], ["", "\n\n"], ScanConfig(), 1))


def test_hashing_in_ranges_refuses_ids_out_of_order_or_repeated() -> None:
    with pytest.raises(ValueError, match="sorted"):
        analyze_in_ranges(
            ["b", "a"], ["x", "y"], ScanConfig(), parts=PartsInMemory(), range_lines=1
        )
    with pytest.raises(DuplicateIdError, match="a"):
        analyze_in_ranges(
            ["a", "a"], ["x", "y"], ScanConfig(), parts=PartsInMemory(), range_lines=1
        )


def test_line_ranges_cut_at_the_first_document_past_each_multiple() -> None:
    assert line_ranges(np.array([0, 0, 0, 0]), 2) == [0, 2, 4]
    assert line_ranges(np.array([9, 0, 0]), 4) == [0, 1, 3]  # 10 lines: a range of its own
    assert line_ranges(np.array([], np.int64), 4) == [0]
    text_range = TextRange(["a", "b", "c", "d"], 1, 3)
    assert (
        list(text_range) == ["b", "c"] and text_range[-1] == "c" and text_range[0:2] == ["b", "c"]
    )
    with pytest.raises(IndexError):
        text_range[2]


def test_a_range_of_texts_read_from_disk_gives_their_bytes(tmp_path: Path) -> None:
    texts = ["a", "b\u00e9", "c\ud800", "d"]
    spilled = SpilledTexts.write(texts, tmp_path / "texts")
    try:
        some = text_range(spilled, 1, 3)
        assert isinstance(some, Utf8Texts) and list(some) == texts[1:3]
        utf8, offsets = some.utf8_range(0, 2)
        assert utf8.tobytes() == "b\u00e9c\ud800".encode("utf-8", "surrogatepass")
        assert offsets.tolist() == [0, 3, 7]
        with pytest.raises(IndexError):
            some.utf8_range(1, 3)
    finally:
        spilled.close()
    assert not isinstance(text_range(texts, 1, 3), Utf8Texts)
