"""Code-point to UTF-8 byte offsets, against Python's own encoder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BytesTexts
from dedup.core.offsets import utf8_offsets, utf8_spans

# Every width of UTF-8 (1 to 4 bytes) and lone surrogates (3 bytes, as
# `surrogatepass` writes them).
CHARS = st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF)


def encoded_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@given(st.text(CHARS, max_size=60), st.data())
@settings(max_examples=300, deadline=None)
def test_utf8_offsets_match_the_encoded_prefix(text: str, data: st.DataObject) -> None:
    positions = data.draw(st.lists(st.integers(0, len(text)), max_size=20))
    got = utf8_offsets(text, np.array(positions, dtype=np.int64))
    assert got.dtype == np.int64
    assert got.tolist() == [encoded_length(text[:p]) for p in positions]


@pytest.mark.parametrize("text", ["abc", "a\u00e9\u4e2d\U0001f600\ud800z"])
@pytest.mark.parametrize("bad", [-1, 99])
def test_utf8_offsets_refuse_positions_outside_the_text(text: str, bad: int) -> None:
    with pytest.raises(IndexError, match=f"0..{len(text)}"):
        utf8_offsets(text, np.array([0, bad], dtype=np.int64))


def test_utf8_offsets_of_ascii_are_a_copy() -> None:
    positions = np.array([0, 2], dtype=np.int64)
    got = utf8_offsets("abc", positions)
    got[0] = 7
    assert positions.tolist() == [0, 2]


@given(st.lists(st.text(CHARS, max_size=30), min_size=1, max_size=6), st.data())
@settings(max_examples=200, deadline=None)
def test_utf8_spans_convert_each_row_with_its_document(
    texts: list[str], data: st.DataObject
) -> None:
    rows = []
    for d, text in enumerate(texts):
        for _ in range(data.draw(st.integers(0, 3))):
            a, b = sorted(data.draw(st.lists(st.integers(0, len(text)), min_size=2, max_size=2)))
            rows.append((d, a, b))
    doc, start, end = (
        (np.array(col, dtype=np.int64).reshape(-1) for col in zip(*rows, strict=True))
        if rows
        else (np.empty(0, np.int64),) * 3
    )
    ascii = np.array([t.isascii() for t in texts])
    # As strings, and as bytes (texts read from disk), with and without
    # knowing which texts are ASCII.
    for these, known in [(texts, None), (BytesTexts(texts), None), (BytesTexts(texts), ascii)]:
        start_byte, end_byte = utf8_spans(these, doc, start, end, known)
        assert start_byte.tolist() == [encoded_length(texts[d][:a]) for d, a, _ in rows]
        assert end_byte.tolist() == [encoded_length(texts[d][:b]) for d, _, b in rows]


@pytest.mark.parametrize("bad", [-1, 4])
def test_utf8_spans_of_bytes_refuse_offsets_outside_the_text(bad: int) -> None:
    texts = BytesTexts(["ab", "d\u00e9\U0001f600"])
    with pytest.raises(IndexError, match=r"0\.\.3"):
        utf8_spans(texts, np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([2, 1, bad]))


def test_utf8_spans_refuse_rows_out_of_document_order() -> None:
    with pytest.raises(ValueError, match="grouped by document"):
        utf8_spans(["ab", "cd"], np.array([1, 0]), np.array([0, 0]), np.array([1, 1]))


@pytest.mark.parametrize(
    "text", ["\ud800", "a\udfffb", "\udc80\U0001f600\ud83d", "\u00e9\ud800\u4e2d"]
)
def test_utf8_offsets_count_lone_surrogates_as_three_bytes(text: str) -> None:
    positions = np.arange(len(text) + 1, dtype=np.int64)
    got = utf8_offsets(text, positions)
    assert got.tolist() == [encoded_length(text[:p]) for p in range(len(text) + 1)]
