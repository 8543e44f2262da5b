"""Properties of whole analyses on generated corpora.

Corpora mix lines shared between documents, unique lines, blank lines, odd
white space (\\r, \\t, \\u2028, \\xa0), non-ASCII text, empty documents and
white-space-only documents. Whatever the input: spans tile every document,
byte and code-point offsets agree, labels are consistent, and the output
tables depend neither on the run nor on the input order.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.arrow import to_tables
from dedup.config import ScanConfig
from dedup.core.pipeline import Analysis, analyze

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SHARED_LINES = (
    "Home | News | Sport | Weather",
    "Subscribe to our newsletter!",
    "© 2024 Acme Corp. All rights reserved.",
    "Share this article on Facebook",
    "* * *",
    "}",
    "Página 1 de 10 — Índice",
    "日本語のヘッダー 😀",
    "Read more\tabout\u2028this",
    "Advertisement\xa0\xa0",
)
WHITE = " \t\r\u2028\xa0"
SEPARATORS = ("\n", "\r\n", "\n\n", "\n \t\n", "\n\u2028\n", "\n\xa0\n", " \n\r\n")

CONFIGS = (
    ScanConfig(),
    ScanConfig(block_mode="paragraph"),
    ScanConfig(ngram=1, num_perm=32, min_docs=3),
    ScanConfig(ngram=2, num_perm=16, passage_threshold=0.5, doc_threshold=0.6),
)

unique_lines = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789 .,!éüß日本😀" + WHITE),
        st.characters(exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=40,
)
lines = st.one_of(
    st.sampled_from(SHARED_LINES),
    st.sampled_from(SHARED_LINES).map(lambda line: f"  {line.upper()} \t"),
    unique_lines,
    st.text(alphabet=WHITE, max_size=3),
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(("text", "text", "text", "empty", "white")))
    if kind == "empty":
        return ""
    if kind == "white":
        return draw(st.text(alphabet=WHITE + "\n", min_size=1, max_size=8))
    parts = draw(st.lists(st.tuples(lines, st.sampled_from(SEPARATORS)), max_size=8))
    body = "".join(line + sep for line, sep in parts)
    lead = draw(st.text(alphabet=WHITE + "\n", max_size=2))
    trail = draw(st.sampled_from(("", "\n", "\r\n", " ")))
    return lead + body.rstrip("\n") + trail


@st.composite
def corpora(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    texts = draw(st.lists(documents(), min_size=0, max_size=8))
    ids = draw(
        st.lists(
            st.text(alphabet="abcxyzé/._-0123456789", min_size=1, max_size=6),
            min_size=len(texts),
            max_size=len(texts),
            unique=True,
        )
    )
    return ids, texts


configs = st.sampled_from(CONFIGS)


def tables(ids: list[str], texts: list[str], cfg: ScanConfig) -> dict[str, pa.Table]:
    return to_tables(analyze(ids, texts, cfg), cfg)


def spans_by_doc(result: Analysis) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    spans = result.spans
    for d, s, e in zip(spans.doc.tolist(), spans.start.tolist(), spans.end.tolist(), strict=True):
        out[d].append((s, e))
    return out


def assert_tiles(text: str, pieces: list[tuple[int, int]]) -> None:
    """The half-open pieces cover `text` exactly, in order, without overlap or gap."""
    if not text:
        assert pieces == []
        return
    assert pieces[0][0] == 0
    assert pieces[-1][1] == len(text)
    for (_, end), (start, _) in itertools.pairwise(pieces):
        assert end == start
    assert all(start < end for start, end in pieces)
    assert "".join(text[s:e] for s, e in pieces) == text


@PROPERTY
@given(corpora(), configs)
def test_analysis_spans_tile_every_document(
    corpus: tuple[list[str], list[str]], cfg: ScanConfig
) -> None:
    ids, texts = corpus
    result = analyze(ids, texts, cfg)
    assert result.ids == sorted(ids)
    assert len(result.doc_len) == len(texts)
    pieces = spans_by_doc(result)
    for d, text in enumerate(result.texts):
        assert result.doc_len[d] == len(text)
        assert_tiles(text, pieces.get(d, []))


@PROPERTY
@given(corpora(), configs)
def test_span_table_tiles_every_document_and_byte_offsets_agree(
    corpus: tuple[list[str], list[str]], cfg: ScanConfig
) -> None:
    ids, texts = corpus
    by_id = dict(zip(ids, texts, strict=True))
    spans = tables(ids, texts, cfg)["spans"].to_pylist()
    pieces: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in spans:
        text = by_id[row["id"]]
        pieces[row["id"]].append((row["start"], row["end"]))
        raw = text.encode("utf-8")
        assert (
            raw[row["start_byte"] : row["end_byte"]].decode("utf-8")
            == text[row["start"] : row["end"]]
        )
        assert row["start_byte"] == len(text[: row["start"]].encode("utf-8"))
    # Rows come sorted by id, then offset.
    keys = [(row["id"], row["start"]) for row in spans]
    assert keys == sorted(keys)
    for doc_id, text in by_id.items():
        assert_tiles(text, pieces.get(doc_id, []))


@PROPERTY
@given(corpora(), configs)
def test_labels_and_passages_are_consistent(
    corpus: tuple[list[str], list[str]], cfg: ScanConfig
) -> None:
    ids, texts = corpus
    by_id = dict(zip(ids, texts, strict=True))
    out = tables(ids, texts, cfg)
    passages = {row["passage_id"]: row for row in out["passages"].to_pylist()}
    boilerplate_chars: dict[str, int] = defaultdict(int)
    for row in out["spans"].to_pylist():
        assert row["label"] in ("unique", "boilerplate")
        if row["label"] == "boilerplate":
            assert row["passage_id"] in passages
            assert row["doc_count"] >= cfg.min_docs
            assert row["doc_count"] == passages[row["passage_id"]]["doc_count"]
            boilerplate_chars[row["id"]] += row["end"] - row["start"]
        else:
            assert row["passage_id"] is None
            assert row["doc_count"] is None
    for row in out["passages"].to_pylist():
        assert row["text"] == by_id[row["id"]][row["start"] : row["end"]]
        assert row["doc_count"] >= cfg.min_docs
        assert 1 <= row["n_documents"] <= row["n_occurrences"]
    documents = out["documents"].to_pylist()
    assert [row["id"] for row in documents] == sorted(ids)
    for row in documents:
        assert row["n_chars"] == len(by_id[row["id"]])
        assert row["boilerplate_chars"] == boilerplate_chars[row["id"]]
        assert 0.0 <= row["boilerplate_fraction"] <= 1.0


@PROPERTY
@given(corpora(), configs)
def test_a_block_shared_by_enough_document_clusters_is_boilerplate(
    corpus: tuple[list[str], list[str]], cfg: ScanConfig
) -> None:
    ids, texts = corpus
    result = analyze(ids, texts, cfg)
    blocks = result.blocks
    groups: dict[int, set[int]] = defaultdict(set)
    for d, content in zip(blocks.doc.tolist(), blocks.content.tolist(), strict=True):
        groups[content].add(int(result.doc_group[d]))
    spans = result.spans
    for i, (d, content) in enumerate(
        zip(blocks.doc.tolist(), blocks.content.tolist(), strict=True)
    ):
        edge = (
            i == 0 or blocks.doc[i - 1] != d or i == len(blocks.doc) - 1 or blocks.doc[i + 1] != d
        )
        if len(groups[content]) < cfg.min_docs or not edge or blocks.words[i] > cfg.prose_words:
            continue
        # An equal short block in enough clusters, first or last in its
        # document (so never "alone among unique blocks"), is boilerplate.
        start, end = int(blocks.start[i]), int(blocks.end[i])
        inside = (spans.doc == d) & (spans.start <= start) & (end <= spans.end)
        assert spans.run[inside].tolist() not in ([], [-1]), result.texts[d][start:end]


@PROPERTY
@given(corpora(), configs, st.randoms(use_true_random=False))
def test_tables_equal_across_runs_and_input_order(
    corpus: tuple[list[str], list[str]], cfg: ScanConfig, rng: random.Random
) -> None:
    ids, texts = corpus
    first = tables(ids, texts, cfg)
    again = tables(ids, texts, cfg)
    order = list(range(len(ids)))
    rng.shuffle(order)
    shuffled = tables([ids[i] for i in order], [texts[i] for i in order], cfg)
    assert set(first) == {"spans", "documents", "passages", "errors"}
    for name, table in first.items():
        assert table.equals(again[name], check_metadata=True), name
        assert table.equals(shuffled[name], check_metadata=True), name
        assert table.schema.metadata[b"dedup.config"] == cfg.to_json().encode()
