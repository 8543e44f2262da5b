"""The index's arrays, each recomputed here in plain Python from the analysis' blocks."""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from conftest import BlockWatch
from dedup import arrow_index
from dedup.config import ScanConfig
from dedup.core import pipeline
from dedup.core.blockhash import ClusteredBlocks, hash_blocks, word_shingles
from dedup.core.index_parts import IndexParts, index_parts, user_groups
from dedup.core.near_duplicates import MIN_OWN_SHARE
from dedup.core.pipeline import Analysis, analyze
from dedup.synth import SynthConfig, generate


@pytest.fixture(scope="module", params=["none", "prefix"])
def analysed(request: pytest.FixtureRequest) -> tuple[Analysis, IndexParts, ScanConfig]:
    corpus = generate(SynthConfig(seed=5, sites=6, pages_per_site=6))
    # Generated files: one long skeleton and a line of their own, so that
    # they are mostly common passages and get whole sets.
    skeleton = "".join(
        f"def handler_{i}(request): return render(request, {i})\n" for i in range(30)
    )
    ids = [*corpus.ids, *(f"gen/file{n}.py" for n in range(8))]
    texts = [*corpus.texts, *(f"{skeleton}# generated for client {n} of many\n" for n in range(8))]
    cfg = ScanConfig(group_by=request.param)
    result = analyze(ids, texts, cfg, keep_document_sets=True)
    blocks = ClusteredBlocks.of(hash_blocks(result.texts, cfg), len(result.ids))
    return result, index_parts(result, blocks, cfg), cfg


def row(csr: tuple[np.ndarray, np.ndarray], i: int) -> list[int]:
    values, offsets = csr
    return values[offsets[i] : offsets[i + 1]].tolist()


def test_holders_are_the_distinct_cluster_group_user_triples(
    analysed: tuple[Analysis, IndexParts, ScanConfig],
) -> None:
    result, parts, _ = analysed
    users = user_groups(result.groups, len(result.ids))
    final = result.blocks
    triples = sorted(
        {
            (c, int(result.doc_group[d]), int(users[d]))
            for c, d in zip(final.cluster.tolist(), final.doc.tolist(), strict=True)
        }
    )
    got = list(
        zip(
            parts.holder_cluster.tolist(),
            parts.holder_group.tolist(),
            parts.holder_user.tolist(),
            strict=True,
        )
    )
    assert got == triples
    if result.groups is not None:
        assert len(set(users.tolist())) > 1  # the grouped case has groups


def test_document_sets_are_the_shingles_of_own_and_whole_words(
    analysed: tuple[Analysis, IndexParts, ScanConfig],
) -> None:
    result, parts, cfg = analysed
    blocks = hash_blocks(result.texts, cfg)
    content_cluster = dict(
        zip(result.contents.key.tolist(), result.contents.cluster.tolist(), strict=True)
    )
    cluster = [content_cluster[k] for k in blocks.key.tolist()]
    holders: dict[int, set[int]] = defaultdict(set)
    for c, d in zip(cluster, blocks.doc.tolist(), strict=True):
        holders[c].add(d)
    own: dict[int, list[int]] = defaultdict(list)
    whole: dict[int, list[int]] = defaultdict(list)
    for b, d in enumerate(blocks.doc.tolist()):
        words = row((blocks.words, blocks.word_offsets), b)
        whole[d] += words
        if len(holders[cluster[b]]) < cfg.prose_min_docs:
            own[d] += words
    mostly_common = 0
    for d in range(len(result.ids)):
        expected_own = word_shingles(np.array(own[d], dtype=np.uint32), cfg.ngram).tolist()
        assert row(parts.own, d) == expected_own
        if whole[d] and len(own[d]) * MIN_OWN_SHARE < len(whole[d]):
            mostly_common += 1
            expected = word_shingles(np.array(whole[d], dtype=np.uint32), cfg.ngram).tolist()
            assert row(parts.whole, d) == expected
        else:
            assert row(parts.whole, d) == []
    assert 0 < mostly_common < len(result.ids)
    spread = {k: len(holders[content_cluster[k]]) for k in content_cluster}
    assert parts.content_spread.tolist() == [spread[k] for k in result.contents.key.tolist()]


def test_an_analysis_without_document_sets_has_no_index() -> None:
    cfg = ScanConfig()
    texts = ["a shared line here\nmine alone", "a shared line here\nyours alone"]
    result = analyze(["a", "b"], texts, cfg)
    assert result.document_sets is None  # freed unless asked for
    with pytest.raises(ValueError, match="keep_document_sets"):
        index_parts(
            result, ClusteredBlocks.of(hash_blocks(result.texts, cfg), len(result.ids)), cfg
        )


def test_clustered_blocks_hold_each_contents_first_block_and_its_hashes(
    analysed: tuple[Analysis, IndexParts, ScanConfig],
) -> None:
    result, _, cfg = analysed
    every = hash_blocks(result.texts, cfg)
    blocks = ClusteredBlocks.of(every, len(result.ids))
    np.testing.assert_array_equal(blocks.key, result.contents.key)
    # Each content's first block: the smallest row holding its key; its
    # hashes are those of every block holding that key.
    smallest: dict[int, int] = {}
    for b, key in enumerate(every.key.tolist()):
        smallest.setdefault(key, b)
    assert blocks.first.tolist() == [smallest[k] for k in blocks.key.tolist()]
    row_of = {k: i for i, k in enumerate(blocks.key.tolist())}
    for b, key in enumerate(every.key.tolist()):
        i = row_of[key]
        kept = blocks.hashes[blocks.offsets[i] : blocks.offsets[i + 1]]
        np.testing.assert_array_equal(kept, every.hashes[every.offsets[b] : every.offsets[b + 1]])
    np.testing.assert_array_equal(
        blocks.doc_blocks, np.bincount(every.doc, minlength=len(result.ids))
    )
    # The keys and first blocks, when given, are taken as they are.
    given = ClusteredBlocks.of(every, len(result.ids), blocks.key, blocks.first)
    for name in ("key", "first", "hashes", "offsets", "doc_blocks"):
        np.testing.assert_array_equal(getattr(given, name), getattr(blocks, name))


def test_blocks_other_than_the_analysis_blocks_are_refused() -> None:
    cfg = ScanConfig()
    texts = ["a shared line here\nmine alone", "a shared line here\nyours alone"]
    result = analyze(["a", "b"], texts, cfg, keep_document_sets=True)
    for others in (
        ["a shared line here\nsomething else", "x y"],
        ["a shared line here\nsomething else", "x y\nz w v", "and one more line"],
    ):
        other = ClusteredBlocks.of(hash_blocks(others, cfg), len(others))
        with pytest.raises(ValueError, match="blocks must be those"):
            index_parts(result, other, cfg)
    # The same contents, counted over other blocks and documents.
    right = ClusteredBlocks.of(hash_blocks(texts, cfg), 2)
    for doc_blocks in ([2, 3], [2, 2, 0]):
        wrong = replace(right, doc_blocks=np.array(doc_blocks, dtype=np.int64))
        with pytest.raises(ValueError, match=r"blocks of \d documents given"):
            index_parts(result, wrong, cfg)


def test_the_analysis_keeps_the_blocks_it_clustered_for_the_index(
    analysed: tuple[Analysis, IndexParts, ScanConfig],
) -> None:
    result, parts, cfg = analysed
    hashed = ClusteredBlocks.of(hash_blocks(result.texts, cfg), len(result.ids))
    kept = result.clustered
    assert kept is not None
    for name in ("key", "first", "hashes", "offsets", "doc_blocks"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(hashed, name))
    # Without blocks, the index parts come from the kept ones.
    assert index_parts(result, kept, cfg).content_spread.tolist() == parts.content_spread.tolist()
    texts = ["a shared line here\nmine alone", "a shared line here\nyours alone"]
    assert analyze(["a", "b"], texts, cfg).clustered is None  # not asked for


@pytest.mark.parametrize("keep", [False, True])
def test_label_lets_the_block_arrays_go_once_read(
    watch_block_release: BlockWatch, keep: bool
) -> None:
    """Block arrays are most of an analysis's memory: none outlives its last reader."""
    corpus = generate(SynthConfig(seed=3, sites=3, pages_per_site=5))
    fields = ("first_char", "last_char", "words", "word_offsets", "hashes", "offsets")
    alive = watch_block_release(pipeline, "hash_blocks", fields)
    result = analyze(corpus.ids, corpus.texts, ScanConfig(), keep_document_sets=keep)
    assert result.runs.block_run.max() >= 0  # boilerplate was found
    # The index keeps a copy of the first blocks' shingle hashes, not the
    # blocks': nothing keeps anything.
    assert alive == [{"words", "word_offsets"}, set()]
    assert (result.clustered is not None) == keep


def test_label_lets_the_block_columns_it_replaced_or_read_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clusters, scores and prose counts of the blocks are dead by the passage table.

    The ones from before the glued cuts and, once read, those after them.
    """
    refs: dict[str, weakref.ref[np.ndarray]] = {}
    made = {
        "join_variants": pipeline.join_variants,
        "wrapped_words": pipeline.wrapped_words,
        "split_glued": pipeline.split_glued,
    }

    def joining(*args: object) -> object:
        cluster, match = made["join_variants"](*args)  # type: ignore[operator]
        refs["joined"], refs["match"] = weakref.ref(cluster), weakref.ref(match)
        return cluster, match

    def wrapping(*args: object) -> object:
        prose = made["wrapped_words"](*args)  # type: ignore[operator]
        refs["prose"] = weakref.ref(prose)
        return prose

    def splitting(*args: object) -> object:
        split = made["split_glued"](*args)  # type: ignore[operator]
        refs["split prose"], refs["split match"] = weakref.ref(split[6]), weakref.ref(split[7])
        return split

    alive: list[set[str]] = []
    tabled = pipeline.passage_table

    def passage_table(*args: object) -> object:
        alive.append({name for name, ref in refs.items() if ref() is not None})
        return tabled(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "join_variants", joining)
    monkeypatch.setattr(pipeline, "wrapped_words", wrapping)
    monkeypatch.setattr(pipeline, "split_glued", splitting)
    monkeypatch.setattr(pipeline, "passage_table", passage_table)
    corpus = generate(SynthConfig(seed=3, sites=3, pages_per_site=5))
    result = analyze(corpus.ids, corpus.texts, ScanConfig())
    assert (result.blocks.content < 0).any()  # glued passages were cut out
    assert alive == [set()]


def test_index_tables_come_from_the_kept_blocks_without_hashing_again(
    analysed: tuple[Analysis, IndexParts, ScanConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _, cfg = analysed
    fresh = ClusteredBlocks.of(hash_blocks(result.texts, cfg), len(result.ids))
    hashed = arrow_index.build_index_tables(result, cfg, blocks=fresh)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index hashed the documents again")

    monkeypatch.setattr(arrow_index, "hash_blocks", refuse)
    again = arrow_index.build_index_tables(result, cfg)
    assert again.keys() == hashed.keys()
    for name, table in again.items():
        assert table.equals(hashed[name]), name
    with pytest.raises(AssertionError, match="hashed"):
        arrow_index.build_index_tables(replace(result, clustered=None), cfg)
