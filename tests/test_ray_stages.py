"""The Ray engine's map functions, run in this process: each shuffle is one partition.

They take and return Arrow batches and import no Ray, so the path from
blocks to clusters is checked here against `core.pipeline.content_clusters`
without a cluster.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dedup import ScanConfig
from dedup.arrow import block_rows, blocks_of, csr_of, gathered_csr, ints, pair_rows, set_rows
from dedup.core.blockhash import hash_blocks
from dedup.core.fastops import gather
from dedup.core.label_parts import parts_of
from dedup.core.labels import count_distinct
from dedup.core.near_duplicates import document_sets, near_duplicate_groups, sets_of_documents
from dedup.core.pipeline import _contents, content_clusters, id_order
from dedup.ray_engine import stages
from dedup.synth import SynthConfig, generate

CFG = ScanConfig()


def _one_partition(*batches: pa.Table) -> pa.Table:
    """What a shuffle hands one partition: every row, with its `part` column."""
    table = pa.concat_tables(batches)
    return table.append_column(stages.PART, pa.array(np.zeros(table.num_rows, np.int64)))


def _similarities(pairs: pa.Table, sets: pa.Table) -> pa.Table:
    carried = stages.carry_left_partition(
        _one_partition(stages.sets_to_join(sets), stages.pairs_to_join(pairs))
    )
    return stages.similarity_partition(_one_partition(stages.sets_to_join(sets), carried))


def _stars(edges: pa.Table) -> dict[int, int]:
    while True:
        large = stages.large_star_partition(_one_partition(stages.directed_batch(edges)))
        small = stages.small_star_partition(_one_partition(stages.directed_batch(large)))
        if stages.edge_digest(small).equals(stages.edge_digest(edges)):
            break
        edges = small
    labels = stages.labels_partition(_one_partition(stages.directed_batch(edges)))
    return dict(zip(ints(labels, "left").tolist(), ints(labels, "right").tolist(), strict=True))


def test_stages_give_the_clusters_and_scores_of_content_clusters() -> None:
    corpus = generate(SynthConfig(seed=5, sites=4, pages_per_site=6, near_duplicates=3))
    blocks = hash_blocks(corpus.texts, CFG)
    _, keys, first = _contents(blocks)
    want_cluster, want_score = content_clusters(blocks.hashes, blocks.offsets, first, keys, CFG)

    # Two read batches, as two map tasks would hash them.
    half = len(corpus.texts) // 2
    batches = [
        block_rows(corpus.ids[:half], hash_blocks(corpus.texts[:half], CFG)),
        block_rows(corpus.ids[half:], hash_blocks(corpus.texts[half:], CFG)),
    ]
    sets = stages.contents_partition(_one_partition(*batches))
    np.testing.assert_array_equal(ints(sets, "key"), keys)
    buckets = stages.buckets_partition(_one_partition(stages.bands_batch(sets, CFG)))
    verified = stages.at_least(_similarities(buckets, sets), CFG.passage_threshold)
    labels = _stars(verified)
    moved = pair_rows(
        np.array([n for n, c in labels.items() if n != c], dtype=np.int64),
        np.array([c for n, c in labels.items() if n != c], dtype=np.int64),
    )
    scored = _similarities(moved, sets)

    cluster, score = keys.copy(), np.ones(len(keys))
    at = np.searchsorted(keys, ints(scored, "left"))
    cluster[at] = ints(scored, "right")
    score[at] = scored.column("similarity").to_numpy()
    assert (cluster != keys).sum() > 10  # the corpus has clusters worth checking
    np.testing.assert_array_equal(cluster, want_cluster)
    np.testing.assert_array_equal(score, want_score)


def test_partition_column_keeps_equal_values_together() -> None:
    batch = pa.table({"key": np.array([5, -3, 5, 2**62, -3], dtype=np.int64)})
    part = ints(stages.with_part(batch, "key", 7), stages.PART)
    assert part[0] == part[2] and part[1] == part[4]
    assert ((part >= 0) & (part < 7)).all()
    assert stages.without_part(stages.with_part(batch, "key", 7)).equals(batch)


def test_blocks_of_block_rows_in_any_order_and_chunks_are_the_blocks() -> None:
    corpus = generate(SynthConfig(seed=2, sites=3, pages_per_site=4))
    blocks = hash_blocks(corpus.texts, CFG)
    rows = block_rows(corpus.ids, blocks)
    shuffled = rows.take(np.random.default_rng(0).permutation(rows.num_rows))
    # As a driver collects them: several batches, so a chunked id column.
    third = rows.num_rows // 3
    table = pa.concat_tables([shuffled.slice(0, third), shuffled.slice(third)])
    assert table.column("id").num_chunks == 2
    found = blocks_of(table, {doc_id: i for i, doc_id in enumerate(corpus.ids)})
    for name in ("doc", "start", "end", "key", "hashes", "offsets", "words", "word_offsets"):
        np.testing.assert_array_equal(getattr(found, name), getattr(blocks, name), err_msg=name)
    with pytest.raises(KeyError, match=corpus.ids[-1]):
        blocks_of(table, {doc_id: i for i, doc_id in enumerate(corpus.ids[:-1])})


def test_gathered_csr_of_a_chunked_column_equals_gathering_it_joined() -> None:
    rng = np.random.default_rng(5)
    sizes = rng.integers(0, 6, 40).tolist()
    rows = [rng.integers(0, 2**32, size, dtype=np.uint64).tolist() for size in sizes]
    column = pa.array(rows, pa.list_(pa.uint32()))
    cuts = [0, 0, 7, 8, 25, 40]  # an empty chunk, a chunk of one row, slices
    chunked = pa.chunked_array([column.slice(a, b - a) for a, b in itertools.pairwise(cuts)])
    orders = [rng.permutation(40), np.arange(40), rng.integers(0, 40, 15), np.empty(0)]
    for order in (o.astype(np.int64) for o in orders):
        want = gather(*csr_of(column), order)
        got = gathered_csr(chunked, order)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_block_rows_split_by_range_and_made_into_ranges_are_parts_of_the_blocks() -> None:
    """Shards of block rows in any order, split by range and each range made
    from its pieces, give `parts_of`'s ranges, contents numbered over all."""
    corpus = generate(SynthConfig(seed=4, sites=3, pages_per_site=6))
    order = id_order(corpus.ids)
    ids = [corpus.ids[i] for i in order]
    blocks = hash_blocks([corpus.texts[i] for i in order], CFG)
    keys, content = np.unique(blocks.key, return_inverse=True)
    rows = block_rows(ids, blocks).drop_columns(["hashes"])
    shuffled = rows.take(np.random.default_rng(1).permutation(rows.num_rows))
    third = rows.num_rows // 3
    shards = [shuffled.slice(0, third), shuffled.slice(third, 0), shuffled.slice(third)]
    bounds = [0, 0, 5, 6, len(ids) // 2, len(ids)]  # an empty range, a range of one document
    cuts = np.asarray(bounds, dtype=np.int64)
    pieces = [stages.split_by_range(shard, pa.array(ids), cuts) for shard in shards]
    assert all(len(p) == len(bounds) - 1 for p in pieces)
    made = [
        stages.range_part(lo, ids[lo:hi], [p[r] for p in pieces])
        for r, (lo, hi) in enumerate(itertools.pairwise(bounds))
    ]
    found = np.unique(np.concatenate([k for _, k in made]))
    np.testing.assert_array_equal(found, keys)
    want = parts_of(blocks, content.astype(np.int64), bounds)
    for (part, _), expected in zip(made, want, strict=True):
        numbered, _ = stages.numbered_contents(found, part)
        assert (numbered.lo, numbered.hi) == (expected.lo, expected.hi)
        assert set(numbered.columns) == set(expected.columns)
        for name, column in expected.columns.items():
            assert numbered[name].dtype == column.dtype, name
            np.testing.assert_array_equal(numbered[name], column, err_msg=name)
    with pytest.raises(ValueError, match="not a document"):
        stages.split_by_range(rows, pa.array(ids[1:]), cuts)


def test_document_set_rows_through_the_stages_give_near_duplicate_groups() -> None:
    """Each range's sets as two tables, banded with the documents' LSH, bucketed,
    verified and joined into components: `near_duplicate_groups` of the whole."""
    corpus = generate(SynthConfig(seed=6, sites=4, pages_per_site=8, near_duplicates=6))
    # Three pages of a site's template and a line of their own: mostly
    # common, so compared whole as well.
    lines = [set(t.splitlines()) for t in corpus.texts]
    common = [x for x in corpus.texts[0].splitlines() if sum(x in s for s in lines) >= 5]
    texts = corpus.texts + ["\n".join([*common, f"a line of page {i}"]) for i in range(3)]
    n_docs = len(texts)
    blocks = hash_blocks(texts, CFG)
    content, keys, first = _contents(blocks)
    cluster, _ = content_clusters(blocks.hashes, blocks.offsets, first, keys, CFG)
    spread, _ = count_distinct(cluster[content], blocks.doc)
    want = near_duplicate_groups(
        document_sets(blocks.doc, blocks.words, blocks.word_offsets, cluster[content], n_docs, CFG),
        n_docs,
        CFG,
    )
    assert len(np.unique(want)) < n_docs - 3  # the corpus has groups worth checking

    owners, wholes = [], []
    for lo, hi in itertools.pairwise([0, 0, n_docs // 3, n_docs // 2 + 1, n_docs]):
        a, b = np.searchsorted(blocks.doc, [lo, hi])
        base, top = blocks.word_offsets[a], blocks.word_offsets[b]
        offsets = blocks.word_offsets[a : b + 1] - base
        sets = sets_of_documents(
            blocks.doc[a:b], blocks.words[base:top], offsets, spread[a:b], lo, hi, CFG
        )
        own, whole = stages.document_set_rows(sets)
        owners.append(own)
        wholes.append(whole)
    # A document can be of both kinds: the edges of both make one graph.
    edges = []
    for kind in (owners, wholes):
        sets = pa.concat_tables(kind)
        bands = stages.bands_batch(sets, CFG, documents=True)
        assert bands.num_rows == sets.num_rows * CFG.doc_lsh[0]
        buckets = stages.buckets_partition(_one_partition(bands))
        edges.append(stages.at_least(_similarities(buckets, sets), CFG.doc_threshold))
    assert all(e.num_rows for e in edges)  # both kinds are compared here
    group = np.arange(n_docs, dtype=np.int64)
    for node, label in _stars(pa.concat_tables(edges)).items():
        group[node] = label
    np.testing.assert_array_equal(group, want)


def test_sets_among_keeps_the_rows_whose_key_is_named() -> None:
    keys = np.array([-7, 3, 9, 2**62], dtype=np.int64)
    values = np.arange(8, dtype=np.uint32)
    sets = set_rows(keys, values, np.array([0, 2, 4, 6, 8], dtype=np.int64))
    kept = stages.sets_among(sets, np.array([-9, 3, 2**62, 2**62 + 5], dtype=np.int64))
    assert ints(kept, "key").tolist() == [3, 2**62]
    assert kept.column("set").to_pylist() == [[2, 3], [6, 7]]
    assert stages.sets_among(sets, np.empty(0, np.int64)).num_rows == 0
    assert stages.sets_among(sets, keys).equals(sets)


class _FakeRay:
    """`cluster_resources` and `nodes` of a cluster, as Ray reports them."""

    def __init__(self, nodes: list[dict[str, float]]) -> None:
        self._nodes = nodes

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": sum(n.get("CPU", 0.0) for n in self._nodes)}

    def nodes(self) -> list[dict[str, object]]:
        return [{"Alive": True, "Resources": n} for n in self._nodes]


def test_ranges_fit_the_object_store_of_the_smallest_node(tmp_path: Path) -> None:
    from dedup.core.label_parts import RANGE_BLOCKS
    from dedup.errors import ConfigError
    from dedup.ray_engine.runner import _range_lines
    from dedup.spilled_texts import SpilledTexts

    # 4,000 documents of 1,000 lines of 1 byte (999 newlines): 4 M lines of
    # about 48 + 1.67 bytes each in a range.
    with SpilledTexts.write(["\n" * 999] * 4000, tmp_path / "texts") as texts:
        big = {"CPU": 2.0, "object_store_memory": 7e9}
        assert _range_lines(_FakeRay([big]), texts, 1_000_000) == RANGE_BLOCKS
        # Every CPU gets a range first.
        assert _range_lines(_FakeRay([big] * 8), texts, 1_000_000) == 4_000_000 // 16
        # 100 MB for 2 CPUs: four ranges per CPU in the store, 12.5 MB each.
        small = {"CPU": 2.0, "object_store_memory": 100e6}
        lines = _range_lines(_FakeRay([big, small]), texts, 0)
        assert 0.9 * 12.5e6 / 50 < lines <= 12.5e6 / 49.6
        # What the arrays per content (40 bytes each: 20 MB) leave: 10 MB each.
        lines = _range_lines(_FakeRay([big, small]), texts, 500_000)
        assert 0.9 * 10e6 / 50 < lines <= 10e6 / 49.6
        # A node without CPUs (a head node that runs no tasks) holds no range.
        head = {"CPU": 0.0, "object_store_memory": 1e6}
        assert _range_lines(_FakeRay([big, head]), texts, 1_000_000) == RANGE_BLOCKS
        # A store that the arrays per content would nearly fill: an error
        # naming the size to give, not a scan that waits for room forever.
        with pytest.raises(ConfigError, match=re.escape("at least 229 MB (--object-store-mb")):
            _range_lines(_FakeRay([big, small]), texts, 2_000_000)
