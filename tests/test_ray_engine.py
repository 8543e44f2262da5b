"""The Ray engine on a local Ray instance (2 CPUs): the embedded runner's tables, byte for byte.

Skipped, with the reason, when the `ray` extra is not installed; `make test`
installs it, so CI runs these. One Ray instance serves the whole module
(starting one takes ~5 s), and the corpora stay at a few hundred documents.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed: pip install 'dedup[ray]'")

from typer.testing import CliRunner

import dedup.output
from dedup import DecodeError, DuplicateIdError, InputConfig, OutputError, ScanConfig, scan
from dedup.cli import app
from dedup.errors import ConfigError
from dedup.ray_engine import RaySettings, scan_ray
from dedup.ray_engine import runner as ray_runner
from dedup.ray_engine.matching import DocumentMatching
from dedup.ray_engine.parts import RayParts
from dedup.spilled_texts import SpilledTexts
from dedup.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    yield
    ray.shutdown()


def _tables(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _same_tables(
    tmp_path: Path,
    paths: list[Path],
    cfg: ScanConfig,
    settings: RaySettings,
    inputs: InputConfig | None = None,
) -> dict[str, bytes]:
    # The Ray engine writes the four tables, not the index.
    embedded = scan(paths, tmp_path / "embedded", cfg, workers=1, inputs=inputs, index=False)
    on_ray = scan_ray(paths, tmp_path / "ray", cfg, inputs=inputs, settings=settings)
    assert on_ray == embedded.__class__(**{**embedded.__dict__, "out": tmp_path / "ray"})
    tables = _tables(tmp_path / "embedded")
    assert _tables(tmp_path / "ray") == tables
    assert len(tables) == 4
    return tables


def _write_corpus(folder: Path, corpus_seed: int, sites: int, pages: int) -> Path:
    corpus = generate(
        SynthConfig(seed=corpus_seed, sites=sites, pages_per_site=pages, near_duplicates=12)
    )
    folder.mkdir()
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        (folder / doc_id).write_text(text, encoding="utf-8")
    return folder


def test_seeds_give_the_same_tables(local_ray: None, tmp_path: Path, seeds_dir: Path) -> None:
    _same_tables(tmp_path, [seeds_dir], ScanConfig(), RaySettings())


def test_the_cluster_labels_ranges_that_carry_their_texts(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver hands `label_parts` ranges in the object store, made on the
    cluster (contents numbered, texts carried), and the texts in a file."""
    given: list[tuple[object, RayParts, list[set[str]]]] = []
    real = ray_runner.label_parts

    def spy(ids: list[str], texts: object, parts: RayParts, *args: object, **kw: object) -> object:
        columns = [set(parts.load(i).columns) for i in range(len(parts))]
        given.append((texts, parts, columns))
        assert isinstance(kw["near_duplicates"], DocumentMatching)
        # The ranges number every distinct content, as many as block matching counted.
        numbers = np.unique(np.concatenate([parts.load(i)["content"] for i in range(len(parts))]))
        assert kw["n_contents"] == len(numbers) == numbers[-1] + 1
        return real(ids, texts, parts, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ray_runner, "label_parts", spy)
    # A range of about one line: a document per range, five ranges.
    scan_ray([seeds_dir], tmp_path / "ray", ScanConfig(), settings=RaySettings(range_blocks=1))
    ((texts, parts, columns),) = given
    assert isinstance(texts, SpilledTexts) and len(columns) == 5
    for names in columns:
        assert names >= {"text_utf8", "text_at", "words", "content"} and "key" not in names
    assert len(parts) == 0  # let go once the tables were written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ray"]
    scan([seeds_dir], tmp_path / "embedded", ScanConfig(), index=False)
    assert _tables(tmp_path / "ray") == _tables(tmp_path / "embedded")


def test_the_spilled_texts_go_however_the_scan_ends(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stopped while labelling")

    monkeypatch.setattr(ray_runner, "label_parts", fail)
    with pytest.raises(RuntimeError, match="stopped"):
        scan_ray([seeds_dir], tmp_path / "again", ScanConfig(), settings=RaySettings())
    assert list(tmp_path.iterdir()) == []


def test_a_node_that_cannot_read_the_spilled_texts_gets_the_tasks_own_message(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tasks that make the ranges read their texts from the work folder:
    gone (a node that does not mount it), the scan ends with their
    `OutputError`, not Ray's traceback, and leaves nothing behind."""
    made = ray_runner.ranges_on_cluster

    def texts_gone(
        ray: object, refs: object, ids: object, bounds: object, texts: Any, size: int
    ) -> Any:
        texts.path.unlink()
        return made(ray, refs, ids, bounds, texts, size)

    monkeypatch.setattr(ray_runner, "ranges_on_cluster", texts_gone)
    with pytest.raises(
        OutputError, match=r"spilled texts cannot be read .*run the scan again"
    ) as got:
        scan_ray([seeds_dir], tmp_path / "out", ScanConfig(), settings=RaySettings())
    # The task's own error, not Ray's wrapper of it (a subclass whose text
    # is the worker's traceback).
    assert type(got.value) is OutputError
    assert str(got.value).startswith(str(tmp_path / ".out.ray-work"))
    assert list(tmp_path.iterdir()) == []


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_the_spans_files_are_written_by_tasks_with_the_embedded_runners_bytes(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of 4 rows in row groups of 2 (the driver's size, which the tasks
    take), each part made and written by a task from ranges of about three
    lines, each group with its own documents' texts: none by the driver,
    whose writer of sliced tables fails here."""

    def driver_writes(*args: object) -> None:
        raise AssertionError("the driver wrote spans")

    monkeypatch.setattr(dedup.output, "ROW_GROUP_ROWS", 2)
    settings = RaySettings(range_blocks=3)
    with monkeypatch.context() as patched:
        patched.setattr(dedup.output, "_write_slices", driver_writes)
        scan_ray([seeds_dir], tmp_path / "ray", ScanConfig(), settings=settings, rows_per_file=4)
    scan([seeds_dir], tmp_path / "embedded", ScanConfig(), index=False, rows_per_file=4)
    written = _files(tmp_path / "ray")
    assert written == _files(tmp_path / "embedded")
    spans = pq.read_table(tmp_path / "ray" / "spans.parquet")
    parts = [name for name in written if name.startswith("spans.parquet/part-")]
    assert len(parts) == -(-spans.num_rows // 4) >= 4
    first = pq.ParquetFile(tmp_path / "ray" / parts[0])
    assert [first.metadata.row_group(i).num_rows for i in range(first.num_row_groups)] == [2, 2]
    assert spans.schema.metadata[b"dedup.table"] == b"spans"


def test_a_task_that_cannot_write_its_spans_file_leaves_the_previous_output(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    scan_ray([seeds_dir], out, ScanConfig())
    before = _files(out)
    real = dedup.output.TableWriter.place

    def nowhere(
        self: dedup.output.TableWriter, name: str, num_rows: int, one_file: bool = False
    ) -> list[tuple[int, int, Path]]:
        placed = real(self, name, num_rows, one_file)
        if name != "spans":
            return placed
        return [(a, b, tmp_path / "gone" / path.name) for a, b, path in placed]

    monkeypatch.setattr(dedup.output.TableWriter, "place", nowhere)
    with pytest.raises(OutputError, match="cannot write output") as raised:
        scan_ray([seeds_dir], out, ScanConfig(), force=True)
    # The task's own reason, not Ray's wrapper and its worker's traceback.
    assert "No such file or directory" in str(raised.value)
    assert "Traceback" not in str(raised.value)
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_temporary_file_of_a_retried_task_is_not_left_in_the_output(
    local_ray: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a task whose worker died mid-write leaves (Ray runs it again) goes."""
    real = dedup.output.TableWriter.place

    def with_orphan(
        self: dedup.output.TableWriter, name: str, num_rows: int, one_file: bool = False
    ) -> list[tuple[int, int, Path]]:
        placed = real(self, name, num_rows, one_file)
        for _, _, path in placed if name == "spans" else []:
            dedup.output.temporary_name(path).write_bytes(b"PAR1 half")
        return placed

    monkeypatch.setattr(dedup.output.TableWriter, "place", with_orphan)
    scan_ray([seeds_dir], tmp_path / "ray", ScanConfig(), rows_per_file=4)
    monkeypatch.undo()
    scan([seeds_dir], tmp_path / "embedded", ScanConfig(), index=False, rows_per_file=4)
    assert _files(tmp_path / "ray") == _files(tmp_path / "embedded")


def test_generated_corpus_gives_the_same_tables_with_components_in_rounds(
    local_ray: None, tmp_path: Path
) -> None:
    """A few hundred documents; every component found by large-star/small-star shuffles."""
    docs = _write_corpus(tmp_path / "docs", corpus_seed=7, sites=8, pages=30)
    assert len(list(docs.iterdir())) >= 250
    # The driver labels in ranges too (about 200 blocks each).
    settings = RaySettings(partitions=3, max_driver_edges=0, range_blocks=200)
    _same_tables(tmp_path, [docs], ScanConfig(), settings)


def test_jsonl_and_parquet_with_fields_groups_and_bad_lines_give_the_same_tables(
    local_ray: None, tmp_path: Path
) -> None:
    corpus = generate(SynthConfig(seed=2, sites=3, pages_per_site=8, near_duplicates=3))
    shards = tmp_path / "shards"
    shards.mkdir()
    lines: list[list[str]] = [[], []]
    for i, (doc_id, text) in enumerate(zip(corpus.ids, corpus.texts, strict=True)):
        record = {"doc": doc_id, "body": text, "site": doc_id.split("__")[0]}
        if i % 7 == 3:
            del record["doc"]  # named <file>:<line>
        lines[i % 2].append(json.dumps(record))
    lines[0].insert(2, "{not json")
    lines[1].append(json.dumps({"doc": "binary", "body": "\x00\x01" * 20, "site": "x"}))
    for n, rows in enumerate(lines):
        (shards / f"part-{n}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # A Parquet shard among them: every reader runs in the read tasks.
    parquet = [json.loads(row) for row in lines[1][:5]]
    for record in parquet:
        record["doc"] = f"pq-{record.get('doc')}"
    pq.write_table(pa.Table.from_pylist(parquet), shards / "part-2.parquet")
    inputs = InputConfig(text_field="body", id_field="doc")
    cfg = ScanConfig(group_by="field:site")
    tables = _same_tables(tmp_path, [shards], cfg, RaySettings(partitions=2), inputs)
    assert len(tables["errors.parquet"]) > 0


def test_errors_in_tasks_reach_the_caller_as_dedup_errors(local_ray: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.txt").write_bytes(b"caf\xe9 au lait\n")
    with pytest.raises(DecodeError, match=r"a\.txt"):
        scan_ray([bad], tmp_path / "out", ScanConfig(), inputs=InputConfig(on_decode_error="fail"))
    twice = tmp_path / "twice"
    twice.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (twice / name).write_text(json.dumps({"id": "x", "text": "hello"}) + "\n")
    with pytest.raises(DuplicateIdError, match=r"a\.jsonl line 1 and .*b\.jsonl line 1"):
        scan_ray([twice], tmp_path / "out2", ScanConfig())


def test_cli_engine_ray(local_ray: None, tmp_path: Path, seeds_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["scan", str(seeds_dir), "--out", str(tmp_path / "out"), "--engine", "ray"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "passages:         4" in result.stdout
    scan([seeds_dir], tmp_path / "embedded", ScanConfig(), index=False)
    assert _tables(tmp_path / "out") == _tables(tmp_path / "embedded")


def test_a_local_instance_gets_its_object_store_and_spill_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ray

    from dedup.ray_engine.session import io_workers, ray_session, setup_worker

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    spill = tmp_path / "disk" / "spill"
    settings = RaySettings(num_cpus=1, object_store_memory=300 << 20, spill_dir=str(spill))
    with ray_session(settings):
        pass
    assert spill.is_dir()  # made before Ray starts, which needs it to exist
    assert calls[0]["object_store_memory"] == 300 << 20
    assert calls[0]["object_spilling_directory"] == str(spill)
    assert calls[0]["num_cpus"] == 1
    # Spill and restore processes: one per 2 CPUs, at least one, at most Ray's 4.
    assert calls[0]["_system_config"] == {"max_io_workers": 1}
    assert [io_workers(n) for n in (1, 2, 3, 4, 8, 64)] == [1, 1, 1, 2, 4, 4]
    # Each worker maps large arrays apart from the heap (`dedup.heap`): the
    # hook is named by a path the workers import.
    module, _, name = calls[0]["runtime_env"]["worker_process_setup_hook"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is setup_worker
    # ... and takes Arrow's buffers from glibc, which gives them back (mimalloc kept them).
    previous = pa.default_memory_pool()
    try:
        setup_worker()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(previous)

    (tmp_path / "file").write_text("")
    with (
        pytest.raises(ConfigError, match="choose another with --spill-dir"),
        ray_session(RaySettings(spill_dir=str(tmp_path / "file" / "spill"))),
    ):
        pass


def test_rays_warning_about_its_own_private_attribute_is_not_shown() -> None:
    from dedup.ray_engine.session import configure_data

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    ray_logger = logging.getLogger("ray")
    ray_logger.addHandler(handler)
    try:
        restore = configure_data()
        ray_logger.warning(
            "DeprecationWarning: `ray.state.total_resources_per_node` is a private attribute"
        )
        ray_logger.warning("a warning of Ray's that the user should see")
        restore()
        ray_logger.warning("DeprecationWarning: `ray.state.nodes` after the scan")
    finally:
        ray_logger.removeHandler(handler)
    assert seen == [
        "a warning of Ray's that the user should see",
        "DeprecationWarning: `ray.state.nodes` after the scan",
    ]


def test_a_steps_handles_are_its_tasks_own_arguments(local_ray: None) -> None:
    """Ray resolves them before the task starts: a task that fetched them
    itself lent its CPU to the next while it waited, and with a small object
    store every task ended up holding its range and waiting for room."""
    import ray

    from dedup.ray_engine.parts import given_held, without_held

    def step(scale: int, table: np.ndarray, offset: int, part: int) -> int:
        return scale * int(table.sum()) + offset + part

    table = np.arange(4)
    bare, held = without_held(partial(step, 10, ray.put(table), 1))
    assert len(held) == 1 and isinstance(held[0], ray.ObjectRef)
    assert not any(isinstance(a, ray.ObjectRef) for a in bare.args)  # type: ignore[attr-defined]
    assert given_held(bare, [ray.get(held[0])])(5) == 10 * 6 + 1 + 5
    plain = partial(step, 10, table, 1)
    assert without_held(plain) == (plain, [])
    assert given_held(plain, []) is plain


def test_passes_put_back_only_the_columns_they_change(local_ray: None) -> None:
    """A range is a few objects of its columns (test_ray_parts.py): a pass puts
    back what it made, and an object left mostly dead is let go."""
    import ray

    from dedup.core.label_parts import Part

    def add_cluster(part: Part) -> tuple[Part, int]:
        return part.with_columns(cluster=part["doc"] * 2), int(part["doc"].sum())

    def drop_text(part: Part) -> tuple[Part, int]:
        return part.with_columns(("text",)), len(part["text"])

    def same(part: Part) -> tuple[None, int]:
        return None, part.hi

    parts = RayParts(ray)
    for i in range(2):
        text = np.full(1000, i, np.uint8)
        parts.save(i, Part(i * 5, i * 5 + 5, {"text": text, "doc": np.arange(5) + i * 5}))
    assert parts.each(add_cluster) == [10, 35]
    given, refs = parts.args(1)
    assert given.names == (("text", "doc"), ("cluster",)) and len(refs) == 2
    assert parts.each(same) == [5, 10]
    assert parts.args(1)[0] == given  # nothing put back
    assert parts.each(drop_text) == [1000, 1000]
    given, refs = parts.args(0)
    # The texts' object held mostly dead bytes: its live column moved.
    assert given.names == (("cluster",), ("doc",)) and len(refs) == 2
    loaded = parts.load(1)
    assert (loaded.lo, loaded.hi) == (5, 10) and set(loaded.columns) == {"doc", "cluster"}
    np.testing.assert_array_equal(loaded["cluster"], (np.arange(5) + 5) * 2)
