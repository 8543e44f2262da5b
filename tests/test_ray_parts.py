"""A range in Ray's object store is kept as a few objects of its columns (`ray_engine.parts`).

The bookkeeping (which object holds which live column, what a stepped
range puts back) is pure and tested here without Ray; the last test runs
passes through `RayParts` on a local instance is in test_ray_engine.py.
"""

from __future__ import annotations

import numpy as np

from dedup.core.label_parts import Part
from dedup.ray_engine.parts import _changes, _Range, assembled


def _part(lo: int = 3, hi: int = 7, **columns: np.ndarray) -> Part:
    return Part(lo, hi, dict(columns))


def test_a_range_is_assembled_from_the_columns_each_object_gives() -> None:
    first = _part(text=np.arange(100, dtype=np.uint8), doc=np.arange(4), old=np.zeros(4))
    second = _part(lo=3, hi=8, old=np.ones(4), extra=np.arange(2))
    part = assembled((("text", "doc"), None), [first, second])
    assert (part.lo, part.hi) == (3, 8)  # the last object's bounds
    assert list(part.columns) == ["text", "doc", "old", "extra"]
    assert part["text"] is first["text"] and part["old"] is second["old"]


def test_a_stepped_range_puts_back_only_the_columns_it_made_or_replaced() -> None:
    text, doc, small = np.arange(1000, dtype=np.uint8), np.arange(10), np.arange(4)
    obj = _part(text=text, doc=doc, small=small)
    part = assembled((None,), [obj])
    stepped = part.with_columns(("small",), cluster=np.arange(10), doc=doc + 1)
    put, changes = _changes((None,), [obj], part, stepped)
    assert set(put.columns) == {"cluster", "doc"} and (put.lo, put.hi) == (3, 7)
    assert changes == ([("text",)], ("doc", "cluster"))
    # The driver's record: the text still from the first object, the rest from the new one.
    held = _Range(("first",), (None,)).stepped("second", changes)
    assert held == _Range(("first", "second"), (("text",), ("doc", "cluster")))
    again = assembled(held.names, [obj, put])
    assert again.columns.keys() == stepped.columns.keys()
    for name, column in stepped.columns.items():
        np.testing.assert_array_equal(again[name], column)
    # Unchanged: the record stays as it was.
    assert held.stepped("third", None) is held


def test_an_object_of_mostly_dead_columns_is_let_go_and_its_live_ones_put_again() -> None:
    """Dropping the texts leaves the first object mostly dead bytes: its live
    columns move to the new object, so the store does not keep the texts."""
    text, doc = np.arange(1000, dtype=np.uint8), np.arange(10)
    obj = _part(text=text, doc=doc)
    part = assembled((None,), [obj])
    stepped = part.with_columns(("text",), span=np.arange(3))
    put, changes = _changes((None,), [obj], part, stepped)
    assert set(put.columns) == {"span", "doc"} and put["doc"] is doc
    assert changes == ([()], ("span", "doc"))
    held = _Range(("first",), (None,)).stepped("second", changes)
    assert held == _Range(("second",), (("span", "doc"),))


def test_an_object_whose_live_columns_are_most_of_it_is_kept() -> None:
    text, doc = np.arange(1000, dtype=np.uint8), np.arange(10)
    obj = _part(text=text, doc=doc)
    part = assembled((None,), [obj])
    stepped = part.with_columns(("doc",), span=np.arange(3))
    put, changes = _changes((None,), [obj], part, stepped)
    assert set(put.columns) == {"span"}
    assert changes == ([("text",)], ("span",))
