"""Writing a generated corpus to disk: docs/, gold.jsonl and pairs.jsonl.

The files use dedup's own gold formats (see `dedup.evaluate`):
    gold.jsonl   {"doc": "<id>", "boilerplate": [[start, end], ...]}
    pairs.jsonl  {"a": "<id>", "b": "<id>", "duplicate": true}
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from dedup.errors import OutputError
from dedup.output import swap_into_place
from dedup.synth import Corpus

# What a generated corpus folder holds; --force replaces nothing else.
CORPUS_ENTRIES = frozenset({"docs", "gold.jsonl", "pairs.jsonl"})


def write_corpus(corpus: Corpus, out: Path, force: bool = False) -> None:
    """Write `corpus` under `out`, replaced as a whole with `force`.

    Raises:
        OutputError: `out` exists without `force`, holds anything a generated
            corpus does not, or cannot be written.
    """
    if out.exists():
        if not force:
            raise OutputError(f"{out}: exists; pass --force to replace it")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in CORPUS_ENTRIES)
        if not out.is_dir() or foreign:
            raise OutputError(
                f"{out}: holds files dedup generate did not write ({', '.join(foreign[:3])}); "
                "remove them yourself or choose another folder"
            )
    token = uuid.uuid4().hex[:12]
    staging = out.with_name(f".{out.name}.tmp-{token}")
    try:
        (staging / "docs").mkdir(parents=True)
        for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
            (staging / "docs" / doc_id).write_bytes(text.encode("utf-8"))
        with open(staging / "gold.jsonl", "w", encoding="utf-8") as gold:
            for doc_id, spans in zip(corpus.ids, corpus.boilerplate, strict=True):
                gold.write(json.dumps({"doc": doc_id, "boilerplate": spans}) + "\n")
        with open(staging / "pairs.jsonl", "w", encoding="utf-8") as pairs:
            for a, b in corpus.near_duplicates:
                pairs.write(json.dumps({"a": a, "b": b, "duplicate": True}) + "\n")
        swap_into_place(staging, out, out.with_name(f".{out.name}.old-{token}"))
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"{out}: cannot write the corpus ({exc.strerror or exc})") from exc
