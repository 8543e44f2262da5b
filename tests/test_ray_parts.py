"""A range in Ray's object store is kept as a few objects of its columns (`ray_engine.parts`).

The bookkeeping (which object holds which live column, what a task is
handed, what a stepped range puts back) is pure and tested here without
Ray; passes through `RayParts` on a local instance are in test_ray_engine.py.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pyarrow as pa
import pytest

from dedup import ScanConfig
from dedup.core import label_parts
from dedup.core.label_parts import Part, step_columns
from dedup.ray_engine.parts import (
    _SPLIT_BYTES,
    RangeArgs,
    _changes,
    _Range,
    _split,
    assembled,
    split_runs,
)
from dedup.ray_engine.stages import split_by_range
from dedup.schemas import BLOCK_ROWS


def _part(lo: int = 3, hi: int = 7, **columns: np.ndarray) -> Part:
    return Part(lo, hi, dict(columns))


def test_a_range_is_assembled_from_the_columns_each_object_gives() -> None:
    first = _part(text=np.arange(100, dtype=np.uint8), doc=np.arange(4), old=np.zeros(4))
    second = _part(old=np.ones(4), extra=np.arange(2))
    part = assembled(RangeArgs(3, 8, (("text", "doc"), None)), [first, second])
    assert (part.lo, part.hi) == (3, 8)
    assert list(part.columns) == ["text", "doc", "old", "extra"]
    assert part["text"] is first["text"] and part["old"] is second["old"]
    # A step that reads some columns is handed only those.
    read = assembled(RangeArgs(3, 8, (("text", "doc"), None), ("doc", "extra")), [first, second])
    assert list(read.columns) == ["doc", "extra"]


def test_a_stepped_range_puts_back_only_the_columns_it_made_or_replaced() -> None:
    text, doc, small = np.arange(1000, dtype=np.uint8), np.arange(10), np.arange(4)
    obj = _part(text=text, doc=doc, small=small)
    given = RangeArgs(3, 7, (None,))
    part = assembled(given, [obj])
    stepped = part.with_columns(("small",), cluster=np.arange(10), doc=doc + 1)
    put, changes = _changes(given, [obj], part, stepped)
    assert set(put.columns) == {"cluster", "doc"} and (put.lo, put.hi) == (3, 7)
    assert changes == ([("text",)], ("doc", "cluster"))
    # The driver's record: the text still from the first object, the rest from the new one.
    held = _Range(3, 7, ("first",), (None,)).stepped("second", changes, [0], False)
    assert held == _Range(3, 7, ("first", "second"), (("text",), ("doc", "cluster")))
    again = assembled(RangeArgs(3, 7, held.names), [obj, put])
    assert again.columns.keys() == stepped.columns.keys()
    for name, column in stepped.columns.items():
        np.testing.assert_array_equal(again[name], column)
    # Unchanged: the record stays as it was.
    assert held.stepped("third", None, [0, 1], False) is held


def test_an_object_of_mostly_dead_columns_is_let_go_and_its_live_ones_put_again() -> None:
    """Dropping the texts leaves the first object mostly dead bytes: its live
    columns move to the new object, so the store does not keep the texts."""
    text, doc = np.arange(1000, dtype=np.uint8), np.arange(10)
    obj = _part(text=text, doc=doc)
    given = RangeArgs(3, 7, (None,))
    part = assembled(given, [obj])
    stepped = part.with_columns(("text",), span=np.arange(3))
    put, changes = _changes(given, [obj], part, stepped)
    assert set(put.columns) == {"span", "doc"} and put["doc"] is doc
    assert changes == ([()], ("span", "doc"))
    held = _Range(3, 7, ("first",), (None,)).stepped("second", changes, [0], False)
    assert held == _Range(3, 7, ("second",), (("span", "doc"),))


def test_an_object_whose_live_columns_are_most_of_it_is_kept() -> None:
    obj = _part(text=np.arange(1000, dtype=np.uint8), doc=np.arange(10))
    given = RangeArgs(3, 7, (None,))
    part = assembled(given, [obj])
    put, changes = _changes(given, [obj], part, part.with_columns(("doc",), span=np.arange(3)))
    assert set(put.columns) == {"span"}
    assert changes == ([("text",)], ("span",))


def test_a_task_is_handed_the_objects_of_the_columns_its_step_reads() -> None:
    """The texts' object is not restored for a step that does not read them;
    columns it was not handed live on, unless the step replaces them all."""
    held = _Range(0, 4, ("rest", "texts"), (("doc", "key"), ("text_utf8", "text_at")))
    assert held.handed(("key",)) == [0] and held.handed(None) == [0, 1]
    assert held.handed(()) == []
    rest = _part(0, 4, doc=np.arange(4), key=np.arange(4) * 7)
    given = RangeArgs(0, 4, (("doc", "key"),), ("key",))
    part = assembled(given, [rest])
    assert list(part.columns) == ["key"]
    stepped = part.with_columns(("key",), content=np.arange(4))
    put, changes = _changes(given, [rest], part, stepped)
    assert set(put.columns) == {"content"}
    assert changes == ([("doc",)], ("content",))  # `doc` was not handed: it lives on
    after = held.stepped("put", changes, [0], False)
    assert after.names == (("doc",), ("text_utf8", "text_at"), ("content",))
    # A step that replaces all: what it was not handed goes too.
    cut = RangeArgs(0, 4, (("doc", "key"),), ("key",), replaces_all=True)
    put, changes = _changes(cut, [rest], part, Part(0, 4, {"content": np.arange(4)}))
    assert changes == ([()], ("content",))
    assert held.stepped("put", changes, [0], True).names == (("content",),)


def test_a_step_that_moves_a_ranges_bounds_is_refused() -> None:
    given = RangeArgs(0, 4, (None,))
    obj = _part(0, 4, doc=np.arange(4))
    with pytest.raises(ValueError, match="range 0-4 into 0-5"):
        _changes(given, [obj], obj, Part(0, 5, obj.columns))


def test_each_step_names_the_columns_it_reads() -> None:
    cfg = ScanConfig()
    reads, replaces = step_columns(partial(label_parts._sets, cfg, np.zeros(3)))
    assert reads == ("doc", "cid", "words", "word_offsets") and not replaces
    assert step_columns(label_parts._bounds) == ((), False)
    # `also` adds what it reads; a step not named is handed everything.
    also = partial(label_parts._targets, cfg, np.zeros(3))
    weak, _ = step_columns(partial(label_parts._split_weak, cfg, None, None, also))
    assert weak is not None and {"words", "content", "repeated"} <= set(weak)
    assert step_columns(partial(label_parts._split_weak, cfg, None, None, print)) == (None, False)
    assert step_columns(lambda part: (None, 0)) == (None, False)
    cut, replaces = step_columns(label_parts._cut)
    assert replaces and cut is not None and "text_utf8" in cut


def test_split_tasks_take_bounded_runs_of_block_rows_as_the_corpus_grows() -> None:
    # A few tasks per CPU while the rows are small: consecutive runs of every object.
    runs = split_runs(100, 10 * _SPLIT_BYTES, cpus=4)
    assert len(runs) == 16
    assert np.array_equal(np.concatenate(runs), np.arange(100))
    # More tasks as the rows grow, so that none takes much more than _SPLIT_BYTES.
    runs = split_runs(1000, 100 * _SPLIT_BYTES + 1, cpus=2)
    assert len(runs) == 101
    assert max(len(r) for r in runs) * 100 * _SPLIT_BYTES / 1000 <= 1.1 * _SPLIT_BYTES
    # Never more tasks than objects, and none for no rows.
    assert len(split_runs(3, 100 * _SPLIT_BYTES, cpus=2)) == 3
    assert split_runs(0, 0, cpus=2) == []


def _block_rows(ids: list[str], first: int) -> pa.Table:
    n = len(ids)
    ints = pa.array(np.arange(first, first + n), pa.int64())
    chars = pa.array(np.arange(n), pa.uint32())
    sets = pa.array([[first + i, i] for i in range(n)], BLOCK_ROWS.field("words").type)
    columns = [pa.array(ids), ints, ints, ints, chars, chars, sets, sets]
    return pa.Table.from_arrays(columns, schema=BLOCK_ROWS)


def test_a_split_task_gives_each_range_the_rows_of_its_batches_split_as_one() -> None:
    ids = pa.array([f"d{i}" for i in range(6)], pa.string())
    bounds = np.array([0, 2, 4, 6], dtype=np.int64)
    first = _block_rows(["d5", "d0", "d3", "d0", "d2"], 0)
    second = _block_rows(["d1", "d4", "d0", "d5"], 100)
    pieces = _split(ids, bounds, first, second)
    joined = split_by_range(pa.concat_tables([first, second]), ids, bounds)
    assert isinstance(pieces, list) and len(pieces) == 3
    for piece, expected in zip(pieces, joined, strict=True):
        assert piece.combine_chunks().equals(expected.combine_chunks())
    assert pieces[0].column("key").to_pylist() == [1, 3, 100, 102]
