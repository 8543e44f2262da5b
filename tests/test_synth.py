"""The labelled-corpus generator and its writer: determinism, truth, files on disk."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from dedup.errors import OutputError
from dedup.evaluate import read_gold, read_pairs, score_pairs
from dedup.synth import Corpus, SynthConfig, generate
from dedup.synth_io import write_corpus

# Small enough to generate in milliseconds, large enough for every case to occur.
SMALL = SynthConfig(seed=7, sites=4, pages_per_site=6, near_duplicates=6)
COMMON_LINES = ("return None", "CHAPTER II", "}", "else:", "* * *")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generate(SMALL)


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) lies inside one span."""
    return any(s <= start and end <= e for s, e in spans)


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _content_words(text: str, spans: list[tuple[int, int]]) -> set[str]:
    """Words of the characters outside the gold spans."""
    chars = list(text)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return set("".join(chars).split())


def test_same_config_gives_the_same_corpus() -> None:
    assert generate(SMALL) == generate(
        SynthConfig(seed=7, sites=4, pages_per_site=6, near_duplicates=6)
    )


def test_another_seed_gives_other_texts(corpus: Corpus) -> None:
    other = generate(SynthConfig(seed=8, sites=4, pages_per_site=6, near_duplicates=6))
    assert other.texts != corpus.texts
    assert not set(other.texts) & set(corpus.texts)


def test_sizes_follow_the_config(corpus: Corpus) -> None:
    assert len(corpus.ids) == len(corpus.texts) == len(corpus.boilerplate) == 4 * 6 + 6
    assert corpus.ids == sorted(corpus.ids)
    assert len(set(corpus.ids)) == len(corpus.ids)
    assert all(re.fullmatch(r"site\d{3}__(page|copy)\d{3}\.txt", i) for i in corpus.ids)


def test_spans_are_inside_the_text_sorted_and_disjoint(corpus: Corpus) -> None:
    for doc_id, text, spans in zip(corpus.ids, corpus.texts, corpus.boilerplate, strict=True):
        assert spans, doc_id
        for start, end in spans:
            assert 0 <= start < end <= len(text), (doc_id, start, end)
        # Adjacent boilerplate pieces are merged, so neighbours never touch.
        for (_, end), (start, _) in pairwise(spans):
            assert end < start, doc_id


def test_gold_covers_the_site_template(corpus: Corpus) -> None:
    for doc_id, text, spans in zip(corpus.ids, corpus.texts, corpus.boilerplate, strict=True):
        header_end = text.index("\n\n")
        # Menu lines and the banner come before the first blank line.
        offset = 0
        for line in text[:header_end].split("\n"):
            assert _covered(spans, offset, offset + len(line)), (doc_id, line)
            offset += len(line) + 1
        assert header_end > 0
        footer = text.rstrip("\n").split("\n")
        assert footer[-1].startswith("Copyright ")
        last = text.rstrip("\n").rindex("\n") + 1
        assert _covered(spans, last, len(text.rstrip("\n"))), (doc_id, footer[-1])
        updated = re.search(r"^Updated \d+ \w+ \d{4}\.$", text, re.MULTILINE)
        assert updated is not None and _covered(spans, *updated.span()), doc_id


def test_article_title_is_not_boilerplate(corpus: Corpus) -> None:
    for doc_id, text, spans in zip(corpus.ids, corpus.texts, corpus.boilerplate, strict=True):
        start = text.index("\n\n") + 2
        end = text.index("\n\n", start)
        assert end > start
        assert not _overlaps(spans, start, end), (doc_id, text[start:end])


def test_gold_is_neither_empty_nor_everything(corpus: Corpus) -> None:
    marked = sum(e - s for spans in corpus.boilerplate for s, e in spans)
    total = sum(len(t) for t in corpus.texts)
    assert 0.05 < marked / total < 0.6


def test_common_lines_occur_and_are_not_boilerplate(corpus: Corpus) -> None:
    pattern = re.compile(
        "^(" + "|".join(re.escape(line) for line in COMMON_LINES) + ")$", re.MULTILINE
    )
    found = 0
    for doc_id, text, spans in zip(corpus.ids, corpus.texts, corpus.boilerplate, strict=True):
        for match in pattern.finditer(text):
            found += 1
            assert not _overlaps(spans, *match.span()), (doc_id, match.group())
    assert found >= 3


def test_near_duplicates_name_copies_of_existing_documents(corpus: Corpus) -> None:
    ids = set(corpus.ids)
    copies = {i for i in ids if "__copy" in i}
    assert len(copies) == 6
    assert corpus.near_duplicates == sorted(corpus.near_duplicates)
    # Every copy is paired, and every pair holds at least one copy.
    assert {d for pair in corpus.near_duplicates for d in pair} >= copies
    for a, b in corpus.near_duplicates:
        assert a in ids and b in ids and a < b
        assert "__copy" in a or "__copy" in b
    # Pairs are closed under "copy of the same original": a family is a clique.
    family: dict[str, set[str]] = {}
    for a, b in corpus.near_duplicates:
        merged = family.get(a, {a}) | family.get(b, {b})
        for member in merged:
            family[member] = merged
    for members in {frozenset(m) for m in family.values()}:
        for a in members:
            for b in members:
                if a < b:
                    assert (a, b) in corpus.near_duplicates


def test_copies_keep_most_article_words(corpus: Corpus) -> None:
    index = {doc_id: k for k, doc_id in enumerate(corpus.ids)}
    for first, second in corpus.near_duplicates:
        a, b = index[first], index[second]
        words_a = _content_words(corpus.texts[a], corpus.boilerplate[a])
        words_b = _content_words(corpus.texts[b], corpus.boilerplate[b])
        assert len(words_a & words_b) / len(words_a | words_b) > 0.7, (first, second)
        assert corpus.texts[a] != corpus.texts[b]


def test_unrelated_articles_share_few_words(corpus: Corpus) -> None:
    """The Jaccard bound above means something: two pages of one site stay far apart."""
    a, b = corpus.ids.index("site000__page000.txt"), corpus.ids.index("site000__page001.txt")
    words_a = _content_words(corpus.texts[a], corpus.boilerplate[a])
    words_b = _content_words(corpus.texts[b], corpus.boilerplate[b])
    assert len(words_a & words_b) / len(words_a | words_b) < 0.5


def test_a_perfect_clustering_scores_one_on_the_gold_pairs() -> None:
    """Gold pairs must be closed: two copies of one article are near-duplicates too.

    The scorer counts every two documents of a cluster as a predicted pair, so
    if an original is copied twice, the copies' pair must be in the gold file.
    """
    cfg = SynthConfig(seed=0, sites=4, pages_per_site=5, near_duplicates=3)
    corpus = generate(cfg)
    cluster_of: dict[str, object] = {doc_id: doc_id for doc_id in corpus.ids}
    for original, copy in corpus.near_duplicates:
        cluster_of[copy] = cluster_of[original]
    gold = {(min(a, b), max(a, b)) for a, b in corpus.near_duplicates}
    counts = score_pairs(cluster_of, gold)
    assert counts.recall == 1.0
    assert counts.precision == 1.0, (corpus.near_duplicates, counts)


def test_write_corpus_writes_docs_gold_and_pairs(tmp_path: Path, corpus: Corpus) -> None:
    out = tmp_path / "corpus"
    write_corpus(corpus, out)
    assert sorted(p.name for p in out.iterdir()) == ["docs", "gold.jsonl", "pairs.jsonl"]
    assert sorted(p.name for p in (out / "docs").iterdir()) == corpus.ids
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        assert (out / "docs" / doc_id).read_bytes().decode("utf-8") == text
    gold = read_gold(out / "gold.jsonl")
    assert gold == dict(zip(corpus.ids, corpus.boilerplate, strict=True))
    positives, negatives = read_pairs(out / "pairs.jsonl")
    assert positives == {tuple(sorted(pair)) for pair in corpus.near_duplicates}
    assert negatives == set()
    assert not list(tmp_path.glob(".*.tmp")), "staging folder left behind"


def test_write_corpus_refuses_an_existing_folder(tmp_path: Path, corpus: Corpus) -> None:
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="exists"):
        write_corpus(corpus, out)
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert not (out / "docs").exists()


def test_write_corpus_replaces_with_force(tmp_path: Path, corpus: Corpus) -> None:
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "notes.txt").write_text("a user's file", encoding="utf-8")
    # --force never deletes what dedup did not write.
    with pytest.raises(OutputError, match=r"notes\.txt"):
        write_corpus(corpus, out, force=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (out / "notes.txt").unlink()
    write_corpus(corpus, out, force=True)
    assert len(list((out / "docs").iterdir())) == len(corpus.ids)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    smaller = generate(SynthConfig(seed=1, sites=2, pages_per_site=2, near_duplicates=0))
    write_corpus(smaller, out, force=True)
    assert sorted(p.name for p in (out / "docs").iterdir()) == smaller.ids
    assert (out / "pairs.jsonl").read_text(encoding="utf-8") == ""
