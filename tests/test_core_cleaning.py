"""cut_spans and text_hash: hand-checked cases and properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.core.cleaning import cut_spans, text_hash
from dedup.errors import InputError


def _a(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


@pytest.mark.parametrize(
    ("text", "starts", "ends", "kept"),
    [
        ("header\nbody\nfooter\n", [0, 12], [7, 19], "body\n"),
        ("abc", [], [], "abc"),
        ("abc", [0], [3], ""),
        ("abc", [1], [1], "abc"),  # an empty span cuts nothing
        ("a😀b日c", [1, 3], [2, 4], "abc"),  # code points, not bytes
        ("", [], [], ""),
    ],
)
def test_cut_spans_keeps_what_is_outside(
    text: str, starts: list[int], ends: list[int], kept: str
) -> None:
    assert cut_spans(text, _a(starts), _a(ends)) == kept


@pytest.mark.parametrize(
    ("starts", "ends"),
    [([2, 1], [3, 2]), ([0, 1], [2, 3]), ([0], [4]), ([-1], [1]), ([2], [1]), ([0], [])],
    ids=["unsorted", "overlap", "past the end", "negative", "reversed", "unequal lengths"],
)
def test_cut_spans_refuses_spans_of_another_text(starts: list[int], ends: list[int]) -> None:
    with pytest.raises(InputError):
        cut_spans("abc", _a(starts), _a(ends))


@st.composite
def tilings(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, bool]]]:
    """A text and a tiling of it into spans, each marked cut or kept."""
    text = draw(st.text(max_size=60))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))) | {0, len(text)})
    pieces = [(a, b, draw(st.booleans())) for a, b in itertools.pairwise(cuts)]
    return text, pieces


@settings(max_examples=200, deadline=None)
@given(tilings())
def test_cut_and_kept_pieces_rebuild_the_text(
    case: tuple[str, list[tuple[int, int, bool]]],
) -> None:
    """A document never loses a character that is not cut, and keeps their order."""
    text, pieces = case
    cut = [(a, b) for a, b, is_cut in pieces if is_cut]
    kept = cut_spans(text, _a([a for a, _ in cut]), _a([b for _, b in cut]))
    assert kept == "".join(text[a:b] for a, b, is_cut in pieces if not is_cut)
    assert len(kept) == len(text) - sum(b - a for a, b in cut)


def test_text_hash_is_xxh64_of_utf8_as_signed() -> None:
    assert text_hash("héllo") == xxhash.xxh64_intdigest("héllo".encode()) - (1 << 63)
    assert -(1 << 63) <= text_hash("") < (1 << 63)
    assert text_hash("a") != text_hash("b")
    assert isinstance(text_hash("\ud800"), int)  # lone surrogates do not raise
