"""Blocks and normalised tokens: hand-checked offsets and normal forms."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.config import NormalizeConfig
from dedup.core.text import normalize, split_blocks, split_lines, split_paragraphs, tokens

ALL_OFF = NormalizeConfig(
    unicode_nfkc=False, casefold=False, strip_punctuation=False, mask_digits=False
)


def spans(text: str, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    return [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


# --- split_lines ---------------------------------------------------------------


def test_split_lines_trims_white_space_and_skips_blank_lines() -> None:
    text = "  a b \n\n c\r\n"
    starts, ends = split_lines(text)
    assert starts.tolist() == [2, 9]
    assert ends.tolist() == [5, 10]
    assert spans(text, starts, ends) == ["a b", "c"]


def test_split_lines_returns_int64_arrays() -> None:
    starts, ends = split_lines("x\ny")
    assert starts.dtype == np.int64
    assert ends.dtype == np.int64


@pytest.mark.parametrize("text", ["", " ", "\n", "\n\n\n", " \t\r\n\u2028\xa0\n"])
def test_split_lines_without_visible_characters_has_no_block(text: str) -> None:
    starts, ends = split_lines(text)
    assert starts.tolist() == []
    assert ends.tolist() == []


def test_split_lines_keeps_inner_white_space_that_is_not_a_newline() -> None:
    # \r, \t, \u2028 and \xa0 are white space but do not end a line.
    text = "a\rb\tc\u2028d\xa0e\nf"
    starts, ends = split_lines(text)
    assert spans(text, starts, ends) == ["a\rb\tc\u2028d\xa0e", "f"]


def test_split_lines_offsets_count_code_points_not_bytes() -> None:
    text = "é😀 x\n  ü\n"
    starts, ends = split_lines(text)
    assert starts.tolist() == [0, 7]
    assert ends.tolist() == [4, 8]
    assert spans(text, starts, ends) == ["é😀 x", "ü"]


def test_split_lines_single_character_lines() -> None:
    starts, ends = split_lines("a\nb\n\nc")
    assert starts.tolist() == [0, 2, 5]
    assert ends.tolist() == [1, 3, 6]


# --- split_paragraphs ----------------------------------------------------------


def test_split_paragraphs_joins_adjacent_lines_and_splits_at_blank_lines() -> None:
    text = "p1 l1\np1 l2\n\n  \np2\n \t\np3\r\n\r\np4"
    starts, ends = split_paragraphs(text)
    assert starts.tolist() == [0, 16, 22, 28]
    assert ends.tolist() == [11, 18, 24, 30]
    assert spans(text, starts, ends) == ["p1 l1\np1 l2", "p2", "p3", "p4"]


def test_split_paragraphs_a_single_newline_does_not_split() -> None:
    text = "  one\r\n  two  \nthree\n"
    starts, ends = split_paragraphs(text)
    assert spans(text, starts, ends) == ["one\r\n  two  \nthree"]


def test_split_paragraphs_with_one_or_no_line() -> None:
    assert split_paragraphs("")[0].tolist() == []
    starts, ends = split_paragraphs("\n\n  solo \n\n")
    assert (starts.tolist(), ends.tolist()) == ([4], [8])


def test_split_paragraphs_line_separator_is_no_newline() -> None:
    # \u2028 is white space, not a newline: it neither ends a line nor a paragraph,
    # but a line holding only it (or \xa0) is blank and separates paragraphs.
    text = "a\u2028\u2028b\nc\n\u2028\nd\n\xa0\ne"
    assert spans(text, *split_paragraphs(text)) == ["a\u2028\u2028b\nc", "d", "e"]


# --- split_blocks --------------------------------------------------------------


def test_split_blocks_dispatches_on_mode() -> None:
    text = "a\nb\n\nc"
    assert spans(text, *split_blocks(text, "line")) == ["a", "b", "c"]
    assert spans(text, *split_blocks(text, "paragraph")) == ["a\nb", "c"]


def test_split_blocks_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="sentence"):
        split_blocks("a", "sentence")


# --- normalize -----------------------------------------------------------------


def test_normalize_default_masks_case_digits_and_punctuation() -> None:
    assert normalize("Page 10, of 200!", NormalizeConfig()) == "page 0  of 0 "


def test_normalize_maps_digit_runs_of_any_length_to_one_zero() -> None:
    cfg = NormalizeConfig()
    assert normalize("page 9", cfg) == normalize("page 10", cfg) == "page 0"
    assert normalize("2024-01-31", cfg) == "0 0 0"


def test_normalize_applies_nfkc_before_casefold() -> None:
    # Full-width "FULL" and the "fi" ligature (U+FB01) fold to plain ASCII.
    assert normalize("\uff26\uff35\uff2c\uff2c \ufb01le", NormalizeConfig()) == "full file"
    assert normalize("Straße", NormalizeConfig()) == "strasse"


def test_normalize_underscore_counts_as_punctuation() -> None:
    assert normalize("snake_case", NormalizeConfig()) == "snake case"


def test_normalize_with_everything_off_is_the_identity() -> None:
    text = "\uff26\uff35\uff2c\uff2c Straße_9, “x”!"
    assert normalize(text, ALL_OFF) == text


@pytest.mark.parametrize(
    ("option", "text", "expected"),
    [
        ("unicode_nfkc", "\uff21\uff22", "AB"),
        ("casefold", "AbC", "abc"),
        ("mask_digits", "a12b3", "a0b0"),
        ("strip_punctuation", "a,b!c", "a b c"),
    ],
)
def test_normalize_each_option_alone(option: str, text: str, expected: str) -> None:
    cfg = NormalizeConfig(
        unicode_nfkc=option == "unicode_nfkc",
        casefold=option == "casefold",
        strip_punctuation=option == "strip_punctuation",
        mask_digits=option == "mask_digits",
    )
    assert normalize(text, cfg) == expected


def test_normalize_keeps_non_ascii_letters() -> None:
    assert normalize("Ça va? Ελλάδα", NormalizeConfig()) == "ça va  ελλάδα"


# --- tokens --------------------------------------------------------------------


def test_tokens_are_normalised_words() -> None:
    assert tokens("  Hello, World 2024!  ", NormalizeConfig()) == ["hello", "world", "0"]


def test_tokens_of_equal_blocks_up_to_case_and_digits_are_equal() -> None:
    cfg = NormalizeConfig()
    assert tokens("Page 3 of 10", cfg) == tokens("PAGE 7 of 12.", cfg)


@pytest.mark.parametrize(
    ("block", "expected"),
    [("}", ["}"]), ("* * *", ["*", "*", "*"]), ("--", ["--"]), ("«»", ["«»"])],
)
def test_tokens_of_a_punctuation_only_block_keep_raw_words(block: str, expected: list[str]) -> None:
    assert tokens(block, NormalizeConfig()) == expected


def test_tokens_use_compatibility_forms() -> None:
    # "Ⅻ" (a letter-number) is NFKC "XII", then case-folded; "‼" is only punctuation.
    assert tokens("Ⅻ ‼", NormalizeConfig()) == ["xii"]
    assert tokens("‼ ‼", NormalizeConfig()) == ["‼", "‼"]


def test_tokens_of_white_space_are_empty() -> None:
    assert tokens(" \t\u2028 ", NormalizeConfig()) == []
