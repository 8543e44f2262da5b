"""The Arrow adapter: the only place where column names meet the core's arrays.

`to_tables` turns an `Analysis` (and the inputs' problems) into the Arrow
tables of a scan; runners call it, and a distributed engine will too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.config import ScanConfig
from dedup.core.cleaning import text_hash
from dedup.core.offsets import utf8_offsets
from dedup.core.pipeline import Analysis, cluster_id, passage_texts
from dedup.schemas import DOCUMENTS, ERRORS, PASSAGES, SPANS, with_metadata
from dedup.sources import Problem, Provenance


def spans_table(result: Analysis, config_json: str, inputs_json: str | None = None) -> pa.Table:
    """spans.parquet: every span of every document, with code-point and UTF-8 byte offsets."""
    spans, runs = result.spans, result.runs
    n = len(spans.doc)
    start_byte = np.empty(n, dtype=np.int64)
    end_byte = np.empty(n, dtype=np.int64)
    # Byte offsets need each document's text: convert one document at a time.
    bounds = np.searchsorted(spans.doc, np.arange(len(result.ids) + 1))
    for d in range(len(result.ids)):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        if lo == hi:
            continue
        text = result.texts[d]
        start_byte[lo:hi] = utf8_offsets(text, spans.start[lo:hi])
        end_byte[lo:hi] = utf8_offsets(text, spans.end[lo:hi])
    boilerplate = spans.run >= 0
    run = np.where(boilerplate, spans.run, 0)
    has_runs = len(runs.passage) > 0
    passage = runs.passage[run] if has_runs else np.zeros(n, np.int64)
    doc_count = runs.doc_count[run] if has_runs else np.zeros(n, np.int32)
    ids = np.array(result.ids, dtype=object)[spans.doc] if n else np.empty(0, object)
    schema = with_metadata(SPANS, "spans", config_json, inputs_json)
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "start": spans.start,
            "end": spans.end,
            "start_byte": start_byte,
            "end_byte": end_byte,
            "label": pa.array(np.where(boilerplate, "boilerplate", "unique"), pa.string()),
            "passage_id": pa.array(passage, pa.int64(), mask=~boilerplate),
            "doc_count": pa.array(doc_count, pa.int32(), mask=~boilerplate),
            "score": pa.array(np.nan_to_num(result.span_score), pa.float64(), mask=~boilerplate),
        },
        schema=schema,
    )


def documents_table(
    result: Analysis, config_json: str, provenance: Provenance | None = None
) -> pa.Table:
    """documents.parquet: one row per document, boilerplate share and near-duplicate cluster.

    `source` and `row` come from `provenance`, and are null without it.
    """
    spans = result.spans
    n_docs = len(result.ids)
    lengths = np.where(spans.run >= 0, spans.end - spans.start, 0)
    boiler = np.bincount(spans.doc, weights=lengths, minlength=n_docs).astype(np.int64)
    fraction = np.divide(boiler, result.doc_len, out=np.zeros(n_docs), where=result.doc_len > 0)
    grouped = result.doc_cluster_size > 1
    cluster = np.array(
        [cluster_id(result.ids[g]) for g in result.doc_group.tolist()], dtype=np.int64
    )
    representative = result.doc_group == np.arange(n_docs)
    origins = provenance.origins if provenance is not None else {}
    where = [origins.get(doc_id, (None, None)) for doc_id in result.ids]
    inputs_json = provenance.to_json() if provenance is not None else None
    return pa.table(
        {
            "id": pa.array(result.ids, pa.string()),
            "n_chars": result.doc_len,
            "boilerplate_chars": boiler,
            "boilerplate_fraction": fraction,
            "near_dup_cluster": pa.array(cluster, pa.int64(), mask=~grouped),
            "is_representative": representative,
            "group": pa.array(
                result.groups if result.groups is not None else [None] * n_docs, pa.string()
            ),
            "source": pa.array([w[0] for w in where], pa.string()),
            "row": pa.array([w[1] for w in where], pa.int64()),
            "text_hash": pa.array([text_hash(t) for t in result.texts], pa.int64()),
        },
        schema=with_metadata(DOCUMENTS, "documents", config_json, inputs_json),
    )


def passages_table(result: Analysis, config_json: str, inputs_json: str | None = None) -> pa.Table:
    """passages.parquet: one row per passage, most shared first, with a representative text."""
    table = result.passages
    docs, starts, ends, texts = passage_texts(result, np.arange(len(table.passage)))
    return pa.table(
        {
            "passage_id": table.passage,
            "doc_count": table.doc_count,
            "n_documents": table.n_documents,
            "n_occurrences": table.n_occurrences,
            "text": pa.array(texts, pa.string()),
            "id": pa.array([result.ids[d] for d in docs.tolist()], pa.string()),
            "start": starts,
            "end": ends,
        },
        schema=with_metadata(PASSAGES, "passages", config_json, inputs_json),
    )


def errors_table(
    problems: list[Problem], config_json: str, inputs_json: str | None = None
) -> pa.Table:
    """errors.parquet: the inputs that were skipped or altered, sorted by id."""
    rows = sorted(problems, key=lambda p: (p.id, p.path, -1 if p.row is None else p.row))
    return pa.table(
        {
            "path": pa.array([p.path for p in rows], pa.string()),
            "id": pa.array([p.id for p in rows], pa.string()),
            "reason": pa.array([p.reason for p in rows], pa.string()),
            "action": pa.array([p.action for p in rows], pa.string()),
            "row": pa.array([p.row for p in rows], pa.int64()),
        },
        schema=with_metadata(ERRORS, "errors", config_json, inputs_json),
    )


def to_tables(
    result: Analysis,
    cfg: ScanConfig,
    problems: list[Problem] | None = None,
    provenance: Provenance | None = None,
) -> dict[str, pa.Table]:
    """The output tables of a scan, keyed by table name.

    `errors` lists the inputs that were skipped or altered (empty when none);
    `provenance` (where the documents were read from) fills the documents'
    `source` and `row` and the `dedup.inputs` metadata of every table.
    """
    config_json = cfg.to_json()
    inputs_json = provenance.to_json() if provenance is not None else None
    return {
        "spans": spans_table(result, config_json, inputs_json),
        "documents": documents_table(result, config_json, provenance),
        "passages": passages_table(result, config_json, inputs_json),
        "errors": errors_table(problems or [], config_json, inputs_json),
    }
